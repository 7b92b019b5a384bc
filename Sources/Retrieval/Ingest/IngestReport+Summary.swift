import Foundation

extension IngestReport {
    /// One line: counts and throughput.
    public var counts: String {
        String(format: "%d added, %d replaced, %d unchanged, %d deleted; %d passages written; %.2f MB in %.2f s (%.2f MB/s)",
               added, replaced, unchanged, deleted, passages, Double(bytesRead) / 1e6, seconds, megabytesPerSecond)
    }

    /// A few human-readable lines: counts, throughput and failures.
    public var summary: String {
        var lines = [counts]
        if !failures.isEmpty {
            lines.append("\(failures.count) input(s) could not be read:")
            lines.append(contentsOf: failures.map { "  \($0)" })
        }
        return lines.joined(separator: "\n")
    }
}
