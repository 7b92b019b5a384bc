import ArgumentParser
import Embedding
import Foundation
import Logging
import Retrieval

/// `dera index PATH... --db FILE`: add or update files and folders in a passage store.
struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Add files and folders to a passage store, skipping documents that have not changed.",
        discussion: """
            Reads .txt, .md, .html/.htm, .xml and .jsonl files (folders are walked recursively, following \
            symbolic links, hidden files skipped). Each JSONL row is a document. Re-running on the same \
            paths only stores what changed; an interrupted run can simply be run again. Inputs that \
            cannot be read are listed on standard error and make the exit status 2.

            With --embed, every new or changed passage also gets a sentence vector (all-MiniLM-L6-v2 by \
            default), written in the same transaction as the passage, for `dera search --mode dense|hybrid`; \
            passages stored earlier without one are then embedded too (a backfill, in batches that each commit). \
            A store that already holds vectors keeps embedding on later runs unless --no-embed is given.
            """)

    @Argument(help: "Files or folders to index.")
    var paths: [String]

    @Option(help: "The SQLite passage store to create or update.")
    var db: String

    @OptionGroup var chunking: ChunkingOptions

    @OptionGroup var reading: DocumentReadingOptions

    @Option(help: "Documents written per transaction.")
    var batchSize: Int = 128

    @Flag(help: "Remove stored documents under PATH whose file is gone (never under a folder or file that could not be read).")
    var deleteMissing = false

    @Flag(inversion: .prefixedNo,
          help: "Compute a sentence vector for every stored passage (default: on when the store already holds vectors).")
    var embed: Bool?

    @OptionGroup var embedding: EmbedderOptions

    @Flag(help: "Remove every passage vector from the store (before anything else this run does).")
    var dropVectors = false

    @Flag(help: "Print the report as JSON on standard output.")
    var json = false

    func validate() throws {
        try NumericFlags.check("--batch-size", batchSize, in: 1...1_000_000)
    }

    func run() throws {
        let store = try PassageStore(path: db)
        let options = IngestOptions(
            chunker: chunking.chunker,
            jsonl: reading.jsonl, deleteMissing: deleteMissing, batchSize: batchSize, limits: reading.limits)
        // Failures are listed below, escaped for the terminal; the ingestor's own warnings would repeat
        // them with file names raw.
        var logger = Logger(label: "dera.index")
        logger.logLevel = .error
        if dropVectors { try store.write { try $0.dropVectors() } }
        let embedder = try (embed ?? (try store.vectorModel() != nil)) ? embedding.open() : nil
        let ingestor = Ingestor(store: store, options: options, logger: logger, observer: TerminalProgressBar(),
                                embedder: embedder)
        var report = try ingestor.ingest(paths: paths)
        if embedder != nil {
            let clock = ContinuousClock()
            let started = clock.now
            let terminal = isatty(STDERR_FILENO) != 0
            let added = try ingestor.backfillVectors { done, total in
                if terminal { FileHandle.standardError.write(Data("\rembedding stored passages \(done)/\(total) ".utf8)) }
            }
            if terminal && added > 0 { FileHandle.standardError.write(Data("\n".utf8)) }
            report.embedded += added
            let (seconds, attoseconds) = (clock.now - started).components
            report.embeddingSeconds += Double(seconds) + Double(attoseconds) / 1e18
        }
        if json {
            print(try JSONOutput.encode(report))
        } else {
            print(report.counts)
            if embedder != nil {
                print(String(format: "vectors: %d passages embedded in %.1f s, %d kept from the stored version",
                             report.embedded, report.embeddingSeconds, report.vectorsReused))
            }
            let statistics = try store.statistics()
            let coverage = try store.vectorCoverage()
            print("store: \(statistics.documents) documents, \(statistics.passages) passages, \(coverage.withVector) vectors, \(statistics.fileBytes) bytes")
        }
        if !report.failures.isEmpty {
            var lines = ["\(report.failures.count) input(s) could not be read; nothing stored under them was deleted:"]
            lines += report.failures.map { "  " + TerminalText.escaped($0) }
            FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
            throw ExitCode(2)
        }
    }
}
