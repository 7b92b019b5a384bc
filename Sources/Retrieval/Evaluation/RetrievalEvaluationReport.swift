/// The figures of one ``RetrievalEvaluation`` run.
public struct RetrievalEvaluationReport: Sendable, Hashable, Codable {
    /// How the questions were searched.
    public var mode: SearchMode
    /// Cases indexed.
    public var cases: Int
    /// Questions asked.
    public var questions: Int
    /// Seed of the question sample.
    public var seed: UInt64
    /// recall@k by k: the share of questions whose own document is among the first k hits.
    public var recall: RecallTable
    /// Mean of 1/rank of the own document within the hits (0 when absent).
    public var meanReciprocalRank: Double
    /// Per-question search latency (wall clock).
    public var latencyMilliseconds: LatencySummary
    /// Per-question CPU time of the process during the search.
    public var cpuMilliseconds: LatencySummary
    /// What indexing the cases did (all unchanged when the index was already built).
    public var ingest: IngestReport
    /// The store after indexing.
    public var store: StoreStatistics
}
