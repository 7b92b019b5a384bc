/// What an ingestion run did.
public struct IngestReport: Sendable, Hashable, Codable {
    /// Documents stored for the first time.
    public var added = 0
    /// Documents whose content hash changed and were replaced.
    public var replaced = 0
    /// Documents skipped because their content hash is unchanged.
    public var unchanged = 0
    /// Documents removed because their input is gone (only with `deleteMissing`).
    public var deleted = 0
    /// Passages written in this run.
    public var passages = 0
    /// Passage vectors computed by the embedder in this run.
    public var embedded = 0
    /// Passage vectors kept from the stored version of a changed document (same title and text).
    public var vectorsReused = 0
    /// Wall-clock seconds spent computing vectors.
    public var embeddingSeconds = 0.0
    /// Bytes of input files read.
    public var bytesRead = 0
    /// Input files (or in-memory documents) that could not be read, with the reason.
    public var failures: [String] = []
    /// Wall-clock seconds of the run.
    public var seconds = 0.0

    public init() {}

    /// Input megabytes (10^6 bytes) per second.
    public var megabytesPerSecond: Double { seconds > 0 ? Double(bytesRead) / 1e6 / seconds : 0 }
}
