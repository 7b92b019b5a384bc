/// Plain text pulled out of one input (a file, or one row of a JSONL file), before it is chunked and stored.
public struct ExtractedDocument: Sendable, Hashable {
    /// The store key: an absolute path, or `path#key` for a JSONL row.
    public var source: String
    /// Title found in the input, or a fallback such as the file name.
    public var title: String
    /// Readable text with markup removed; paragraphs separated by blank lines.
    public var text: String
    /// Extra string fields (JSONL columns other than text and title).
    public var metadata: [String: String]

    public init(source: String, title: String, text: String, metadata: [String: String] = [:]) {
        self.source = source
        self.title = title
        self.text = text
        self.metadata = metadata
    }
}
