/// Percentiles of a set of latencies, in milliseconds.
public struct LatencySummary: Sendable, Hashable, Codable {
    public var p50: Double
    public var p95: Double
    public var p99: Double
    public var mean: Double
    public var max: Double

    /// - Parameter sorted: latencies in ascending order.
    public init(sorted: [Double]) {
        func percentile(_ p: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            // Nearest rank.
            let rank = Int((p * Double(sorted.count)).rounded(.up))
            return sorted[Swift.max(0, Swift.min(sorted.count - 1, rank - 1))]
        }
        p50 = percentile(0.50)
        p95 = percentile(0.95)
        p99 = percentile(0.99)
        mean = sorted.isEmpty ? 0 : sorted.reduce(0, +) / Double(sorted.count)
        max = sorted.last ?? 0
    }
}
