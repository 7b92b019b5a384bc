import Foundation

/// A one-line progress display on standard error, redrawn with `\r` at most ten times a second.
/// Shows nothing when standard error is not a terminal, so logs and `--json` output stay clean.
public final class TerminalProgressBar: IngestObserver, @unchecked Sendable {
    private let lock = NSLock()
    private let enabled: Bool
    private let label: String
    private let started = ContinuousClock.now
    private var lastDraw: ContinuousClock.Instant? = nil
    private var drew = false

    /// - Parameter enabled: defaults to whether standard error is a terminal.
    public init(label: String = "indexing", enabled: Bool = isatty(STDERR_FILENO) != 0) {
        self.label = label
        self.enabled = enabled
    }

    public func progressed(_ progress: IngestProgress) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        let now = ContinuousClock.now
        if let lastDraw, now - lastDraw < .milliseconds(100), progress.bytes < progress.totalBytes { return }
        lastDraw = now
        drew = true
        let elapsed = Ingestor.seconds(now - started)
        let megabytes = Double(progress.bytes) / 1e6
        let total = Double(progress.totalBytes) / 1e6
        let percent = progress.totalBytes > 0 ? 100 * progress.bytes / progress.totalBytes : 100
        let rate = elapsed > 0 ? megabytes / elapsed : 0
        var line = String(format: "\r%@ %3d%%  %.1f/%.1f MB  %d documents  %.2f MB/s ",
                          label, percent, megabytes, total, progress.documents, rate)
        if progress.embedded > 0 { line += String(format: " %d passages embedded ", progress.embedded) }
        FileHandle.standardError.write(Data(line.utf8))
    }

    public func finished() {
        lock.lock()
        defer { lock.unlock() }
        if enabled, drew { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
