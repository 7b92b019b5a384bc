/// Sizes of a passage store.
public struct StoreStatistics: Sendable, Hashable, Codable {
    public var documents: Int
    public var passages: Int
    /// Total characters of passage text, as SQLite's `length()` counts them.
    public var passageCharacters: Int
    /// Bytes of the main database file (page count times page size).
    public var fileBytes: Int
}
