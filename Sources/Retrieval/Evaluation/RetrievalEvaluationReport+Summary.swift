import Foundation

extension RetrievalEvaluationReport {
    /// The figures as a short human-readable block.
    public var summary: String {
        let recallLine = recall.cutoffs
            .map { String(format: "recall@%d %.4f", $0, recall[$0]!) }.joined(separator: "  ")
        let latency = latencyMilliseconds
        return [
            "cases indexed: \(cases) (\(store.documents) documents, \(store.passages) passages, \(store.fileBytes) bytes on disk)",
            "indexing: \(ingest.summary)" + (ingest.embedded > 0
                ? String(format: "\n  vectors: %d passages embedded in %.1f s (%.1f passages/s)", ingest.embedded,
                         ingest.embeddingSeconds, Double(ingest.embedded) / max(ingest.embeddingSeconds, 1e-9))
                : ""),
            "questions asked: \(questions) (seed \(seed)), mode \(mode.rawValue)",
            recallLine + String(format: "  MRR@%d %.4f", recall.cutoffs.last ?? 0, meanReciprocalRank),
            String(format: "search latency ms: p50 %.3f  p95 %.3f  p99 %.3f  mean %.3f  max %.3f",
                   latency.p50, latency.p95, latency.p99, latency.mean, latency.max),
            String(format: "search CPU time ms: p50 %.3f  p95 %.3f  p99 %.3f  mean %.3f  max %.3f",
                   cpuMilliseconds.p50, cpuMilliseconds.p95, cpuMilliseconds.p99, cpuMilliseconds.mean,
                   cpuMilliseconds.max),
        ].joined(separator: "\n")
    }
}
