/// How a passage search ranks and filters.
public struct SearchOptions: Sendable, Hashable {
    /// How many hits to return at most.
    public var limit: Int
    /// BM25 weight of the document title column.
    public var titleWeight: Double
    /// BM25 weight of the passage text column.
    public var textWeight: Double
    /// Metadata equalities a hit's document must all satisfy.
    public var filters: [MetadataFilter]
    /// Approximate number of tokens in a snippet.
    public var snippetTokens: Int
    /// Drop query clauses that match more than this fraction of all passages, as long as at least
    /// two clauses remain (the rarest are kept). BM25 gives such clauses little weight, but scoring
    /// every passage they match dominates query time. `nil` keeps every clause.
    public var commonClauseCutoff: Double?

    public init(limit: Int = 5, titleWeight: Double = 2, textWeight: Double = 1,
                filters: [MetadataFilter] = [], snippetTokens: Int = 24, commonClauseCutoff: Double? = nil) {
        self.limit = limit
        self.titleWeight = titleWeight
        self.textWeight = textWeight
        self.filters = filters
        self.snippetTokens = snippetTokens
        self.commonClauseCutoff = commonClauseCutoff
    }
}

/// A `key = value` condition on document metadata, e.g. `topic=Geography`.
public struct MetadataFilter: Sendable, Hashable {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }

    /// Parses `key=value`; returns `nil` when there is no `=` or the key is empty.
    public init?(parsing text: String) {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex else { return nil }
        self.key = String(text[..<equals])
        self.value = String(text[text.index(after: equals)...])
    }
}
