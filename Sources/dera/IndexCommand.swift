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
            Reads .txt, .md, .html/.htm, .xml and .jsonl files (folders are walked recursively, hidden \
            files skipped). Each JSONL row is a document. Re-running on the same paths only stores what \
            changed; an interrupted run can simply be run again.
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

    @Flag(help: "Remove stored documents under PATH that no longer exist there.")
    var deleteMissing = false

    @Flag(help: "Print the report as JSON on standard output.")
    var json = false

    func validate() throws {
        try NumericFlags.check("--batch-size", batchSize, in: 1...1_000_000)
    }

    func run() throws {
        let store = try PassageStore(path: db)
        let options = IngestOptions(
            chunker: chunking.chunker,
            jsonl: JSONLReader(textField: jsonlTextField, titleField: jsonlTitleField, idField: jsonlIdField),
            deleteMissing: deleteMissing, batchSize: batchSize)
        let report = try Ingestor(store: store, options: options, logger: Logger(label: "dera.index"),
                                  observer: TerminalProgressBar()).ingest(paths: paths)
        if json {
            print(try JSONOutput.encode(report))
        } else {
            print(report.summary)
            let statistics = try store.statistics()
            print("store: \(statistics.documents) documents, \(statistics.passages) passages, \(statistics.fileBytes) bytes")
        }
        if !report.failures.isEmpty { throw ExitCode(2) }
    }
}
