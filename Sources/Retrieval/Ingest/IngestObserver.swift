/// Progress of an ingestion run, reported after each document is handled.
public struct IngestProgress: Sendable, Hashable {
    /// Documents handled so far (stored, replaced or skipped as unchanged).
    public var documents: Int
    /// Input bytes handled so far (estimated within a multi-document file).
    public var bytes: Int
    /// Total input bytes of the run, known before it starts.
    public var totalBytes: Int
    /// Passage vectors computed so far (0 without an embedder).
    public var embedded = 0
}

/// Watches an ingestion run. A progress bar is one; a test uses another to abort part way.
public protocol IngestObserver: Sendable {
    /// Called inside the write transaction right after `document` is written. Throwing aborts the run
    /// and rolls back the current batch, as a crash at that point would.
    func stored(_ document: Document, passages: Int) throws
    /// Called after every handled document.
    func progressed(_ progress: IngestProgress)
    /// Called once when the run ends, successfully or not.
    func finished()
}

extension IngestObserver {
    public func stored(_ document: Document, passages: Int) throws {}
    public func progressed(_ progress: IngestProgress) {}
    public func finished() {}
}
