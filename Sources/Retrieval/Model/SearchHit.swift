/// One ranked result of a passage search.
public struct SearchHit: Sendable, Hashable, Codable {
    /// The matching passage.
    public var passage: Passage
    /// Source key of the passage's document.
    public var source: String
    /// Title of the passage's document.
    public var title: String
    /// Metadata of the passage's document.
    public var metadata: [String: String]
    /// BM25 relevance as SQLite reports it, negated so that larger is better.
    public var score: Double
    /// A short extract of the passage around the matching terms, matches wrapped in `[` and `]`.
    public var snippet: String

    public init(passage: Passage, source: String, title: String, metadata: [String: String],
                score: Double, snippet: String) {
        self.passage = passage
        self.source = source
        self.title = title
        self.metadata = metadata
        self.score = score
        self.snippet = snippet
    }
}
