import ArgumentParser
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
            """)

    @Argument(help: "Files or folders to index.")
    var paths: [String]

    @Option(help: "The SQLite passage store to create or update.")
    var db: String

    @OptionGroup var chunking: ChunkingOptions

    @Option(help: "JSONL field that holds the document text.")
    var jsonlTextField: String = "text"

    @Option(help: "JSONL field that holds the title.")
    var jsonlTitleField: String = "title"

    @Option(help: "JSONL field whose value identifies a row across re-runs (default: the line number).")
    var jsonlIdField: String?

    @Option(help: "Documents written per transaction.")
    var batchSize: Int = 128

    @Flag(help: "Remove stored documents under PATH whose file is gone (never under a folder or file that could not be read).")
    var deleteMissing = false

    @Option(help: "Largest input file to read, in megabytes (10^6 bytes).")
    var maxFileMb: Int = 1_000

    @Flag(help: "Print the report as JSON on standard output.")
    var json = false

    func validate() throws {
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1.") }
        if maxFileMb < 1 || maxFileMb > 1_000_000 { throw ValidationError("--max-file-mb must be between 1 and 1000000.") }
    }

    func run() throws {
        let store = try PassageStore(path: db)
        let options = IngestOptions(
            chunker: chunking.chunker,
            jsonl: JSONLReader(textField: jsonlTextField, titleField: jsonlTitleField, idField: jsonlIdField),
            deleteMissing: deleteMissing, batchSize: batchSize,
            limits: ReadLimits(maximumFileBytes: maxFileMb * 1_000_000))
        // Failures are listed below, escaped for the terminal; the ingestor's own warnings would repeat
        // them with file names raw.
        var logger = Logger(label: "dera.index")
        logger.logLevel = .error
        let report = try Ingestor(store: store, options: options, logger: logger,
                                  observer: TerminalProgressBar()).ingest(paths: paths)
        if json {
            print(try JSONOutput.encode(report))
        } else {
            print(report.counts)
            let statistics = try store.statistics()
            print("store: \(statistics.documents) documents, \(statistics.passages) passages, \(statistics.fileBytes) bytes")
        }
        if !report.failures.isEmpty {
            var lines = ["\(report.failures.count) input(s) could not be read; nothing stored under them was deleted:"]
            lines += report.failures.map { "  " + TerminalText.escaped($0) }
            FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
            throw ExitCode(2)
        }
    }
}
