import ArgumentParser
import Control
import Foundation
import Pipelines
import Retrieval
import Tokenization

/// `dera summarize INPUT... --out FILE.jsonl`: a checked summary of every document, resumable, in shards.
struct Summarize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Summarize documents into a JSON Lines file, each summary checked claim by claim against its document.",
        discussion: """
            Reads files and folders as `dera index` does (.txt, .md, .html/.htm, .xml, .jsonl; each JSONL row is a \
            document). Each output line holds the document id, the summary, the lambda (and the candidates under \
            auto), the checker's correctness with every claim's evidence in the document, naturalness, tokens and \
            seconds; a document that cannot be summarized (unreadable, empty, too long) gets a line with an "error" \
            field instead, is reported on standard error, and the batch goes on (exit status 2 at the end).

            Resumable: run the same command again after a crash or kill and it cuts a torn last line, skips every \
            document that already has a line and appends the rest. A document longer than --context-tokens is cut \
            into pieces, each piece summarized, and the partial summaries summarized once more (docs/summarize.md). \
            --shard i/n takes a deterministic share, for splitting a corpus over machines.
            """)

    @Argument(help: "Files or folders of documents.")
    var inputs: [String]

    @Option(help: "The JSON Lines file to write (appended to; documents already in it are skipped).")
    var out: String

    @Option(help: "The prompt template ([system] and [user] sections; {{document}}, and optionally {{title}}).")
    var template: String = DocumentSummarizer.defaultTemplate

    @Option(help: "Most tokens in one summary (each piece's and the final one).")
    var maxTokens = 160

    @Option(help: ArgumentHelp("Where a summary ends before --max-tokens: " + StopChoice.help))
    var stop: StopChoice = .repeat

    @Option(help: "Tokens a prompt and its summary may take together; longer documents are cut into pieces (capped by the model's context).")
    var contextTokens = 2048

    @Option(help: "Most pieces a document may be cut into before it is reported as too long.")
    var maxChunks = 32

    @Option(help: "Sequences decoded together in one batch (pieces, candidates under auto, and documents).")
    var batchSize = 8

    @Option(help: "Documents summarized together, their sequences decoded in shared batches (a kill loses at most this many).")
    var documentsPerBatch = 4

    @Option(help: "This run's share of the documents, i/n with i from 0: the sorted ids at positions i, i+n, i+2n, ...")
    var shard: String?

    @Option(help: "Summarize only the first N documents of the share (in input order).")
    var limit: Int?

    @OptionGroup var reading: DocumentReadingOptions

    @OptionGroup var model: ModelOptions<AnsweringModel>
    @OptionGroup(title: "Decoding-time realignment") var realignment: RealignmentOptions
    @OptionGroup(title: "Self-check and lambda control") var control: ControlOptions
    @OptionGroup(title: "Checker calibration (default profile: general)") var calibration: CalibrationOptions
    @OptionGroup var sampling: SamplingOptions

    func validate() throws {
        try NumericFlags.checkTokens("--max-tokens", maxTokens)
        try NumericFlags.check("--context-tokens", contextTokens, in: 64...1_048_576)
        try NumericFlags.check("--max-chunks", maxChunks, in: 1...100_000)
        try NumericFlags.check("--batch-size", batchSize, in: 1...NumericFlags.maximumSweep * 4)
        try NumericFlags.check("--documents-per-batch", documentsPerBatch, in: 1...NumericFlags.maximumSweep * 4)
        if let limit { try NumericFlags.check("--limit", limit, in: 1...Int(Int32.max)) }
        if let shard, Shard(shard) == nil { throw ValidationError("--shard must be i/n with 0 <= i < n, got '\(shard)'") }
        if maxTokens >= contextTokens { throw ValidationError("--max-tokens must be smaller than --context-tokens") }
        if realignment.lambdas != nil { throw ValidationError("dera summarize decodes one lambda or auto; use --lambda") }
        if control.noCheck, realignment.lambda == .auto {
            throw ValidationError("--lambda auto chooses with the checker; drop --no-check")
        }
    }

    /// The summarization prompt at `path`, which must hold the document's placeholder (also `dera serve`'s).
    static func template(_ path: String) throws -> PromptTemplate {
        let template: PromptTemplate
        do { template = try PromptTemplate(contentsOf: path) } catch { throw CommandError("\(error)") }
        guard template.text.contains("{{document}}") || template.text.contains("{{ document }}") else {
            throw CommandError("\(path): the template has no {{document}} placeholder for the document's text")
        }
        return template
    }

    func run() throws {
        let documents = try InputDocument.read(inputs, options: IngestOptions(jsonl: reading.jsonl, limits: reading.limits))
        let share = (shard.flatMap(Shard.init) ?? .all).share(of: documents.map(\.name))
        var selected = documents.filter { share.contains($0.name) }
        if let limit { selected = Array(selected.prefix(limit)) }
        let output = try SummaryOutput(path: out)
        let standardError = FileHandle.standardError
        if output.droppedBytes > 0 {
            standardError.write(Data("\(TerminalText.escaped(out)): cut a torn last line (\(output.droppedBytes) bytes) left by an interrupted run\n".utf8))
        }
        var seen = Set<String>()
        let pending = selected.filter { !output.finished.contains($0.name) && seen.insert($0.name).inserted }
        standardError.write(Data(("\(selected.count) documents\(shard.map { " in shard \($0)" } ?? ""), "
            + "\(selected.count - pending.count) already in \(TerminalText.escaped(out)), \(pending.count) to summarize\n").utf8))
        guard !pending.isEmpty else { return }

        let bundle = try model.open()
        let template = try Self.template(self.template)
        let decoder = OutputDecoder(bundle: bundle, realignment: try control.realignment(realignment, model: model, bundle: bundle),
                                    maxTokens: maxTokens, sampling: sampling.parameters(defaultTemperature: 0),
                                    textStop: stop.textStop)
        var summarizer = DocumentSummarizer(decoder: decoder, template: template)
        if !control.noCheck {
            summarizer.selfCheck = try control.selfCheck(bundle: bundle, calibration: calibration, defaultProfile: "general")
        }
        summarizer.contextTokens = contextTokens
        summarizer.maximumChunks = maxChunks
        summarizer.batchSize = batchSize

        var progress = SummaryProgress(total: pending.count)
        var failures = 0
        for start in stride(from: 0, to: pending.count, by: documentsPerBatch) {
            let group = pending[start..<min(pending.count, start + documentsPerBatch)]
            let readable = group.compactMap { document in (try? document.content.get()).map { ($0, document.name) } }
            var summaries = summarizer.summarize(readable).makeIterator()
            for document in group {
                let outcome: Result<DocumentSummary, any Error>
                switch document.content {
                case let .failure(error): outcome = .failure(error)
                case .success: outcome = summaries.next()!
                }
                switch outcome {
                case let .success(summary):
                    try output.append(summary, id: document.name)
                    progress.finished(document.name, note: summary.correctness.map { String(format: "correct %.2f", $0) } ?? "done")
                case let .failure(error):
                    failures += 1
                    let message = "\(error)"
                    let source = try? document.content.get().source
                    try output.append(SummaryOutput.Failure(id: document.name, source: source, error: message), id: document.name)
                    progress.finished(document.name, note: "ERROR " + message)
                }
            }
        }
        standardError.write(Data(progress.closing(failures: failures).utf8))
        if failures > 0 { throw ExitCode(2) }
    }
}

/// One stderr line per document: how many are done, the rate and the time left.
struct SummaryProgress {
    let total: Int
    let started = Date()
    var done = 0

    init(total: Int) { self.total = total }

    mutating func finished(_ id: String, note: String) {
        done += 1
        let elapsed = Date().timeIntervalSince(started)
        let perMinute = elapsed > 0 ? Double(done) * 60 / elapsed : 0
        let left = perMinute > 0 ? Double(total - done) / perMinute * 60 : 0
        let line = String(format: "[%d/%d] %.1f docs/min, ETA %@: %@: %@\n", done, total, perMinute,
                          Self.duration(left), TerminalText.escaped(id), TerminalText.escaped(note))
        FileHandle.standardError.write(Data(line.utf8))
    }

    func closing(failures: Int) -> String {
        let elapsed = Date().timeIntervalSince(started)
        return String(format: "%d documents in %@ (%.1f docs/min), %d with an error\n", done, Self.duration(elapsed),
                      elapsed > 0 ? Double(done) * 60 / elapsed : 0, failures)
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s % 3600 / 60) : String(format: "%dm%02ds", s / 60, s % 60)
    }
}
