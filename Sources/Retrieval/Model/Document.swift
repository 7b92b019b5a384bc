import Foundation

/// A source document as it sits in the passage store: where it came from, what it is called, a hash of
/// what was indexed (used to skip unchanged documents on re-ingest) and free-form string metadata.
public struct Document: Sendable, Hashable, Codable {
    /// Row id in the store; `nil` until the document is stored.
    public var id: Int64?
    /// A stable key for the document: an absolute file path, or `path#key` for one row of a JSONL file.
    public var source: String
    /// A human-readable title (HTML `<title>`, first Markdown heading, a JSONL title field, or the file name).
    public var title: String
    /// Hex SHA-256 over the title, text, metadata and chunking settings that produced the passages.
    public var contentHash: String
    /// String metadata; JSONL fields other than the text become metadata. Stored as a JSON object.
    public var metadata: [String: String]
    /// When this version of the document was ingested.
    public var ingestedAt: Date

    public init(id: Int64? = nil, source: String, title: String, contentHash: String,
                metadata: [String: String] = [:], ingestedAt: Date = Date()) {
        self.id = id
        self.source = source
        self.title = title
        self.contentHash = contentHash
        self.metadata = metadata
        self.ingestedAt = ingestedAt
    }
}
