/// Settings of one ingestion run.
public struct IngestOptions: Sendable, Hashable {
    /// How document text is cut into passages. Part of each document's content hash.
    public var chunker: Chunker
    /// Field names for JSONL inputs.
    public var jsonl: JSONLReader
    /// Remove stored documents under the ingested paths that no longer exist there.
    public var deleteMissing: Bool
    /// Documents written per transaction. Smaller loses less work to a crash; larger commits less often.
    public var batchSize: Int
    /// Size, nesting and attribute caps for every input.
    public var limits: ReadLimits

    public init(chunker: Chunker = Chunker(), jsonl: JSONLReader = JSONLReader(),
                deleteMissing: Bool = false, batchSize: Int = 128, limits: ReadLimits = ReadLimits()) {
        self.limits = limits
        self.chunker = chunker
        self.jsonl = jsonl
        self.deleteMissing = deleteMissing
        self.batchSize = max(1, batchSize)
    }
}

