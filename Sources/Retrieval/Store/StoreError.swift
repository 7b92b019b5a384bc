/// A failure of the passage store that names the database file and what was being done.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    /// The SQLite file, or `:memory:`.
    public var path: String
    /// What the store was doing, e.g. "opening", "searching".
    public var operation: String
    /// The underlying reason.
    public var reason: String

    public init(path: String, operation: String, reason: String) {
        self.path = path
        self.operation = operation
        self.reason = reason
    }

    public var description: String { "\(path): \(operation) failed: \(reason)" }
}
