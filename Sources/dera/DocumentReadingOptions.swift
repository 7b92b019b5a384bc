import ArgumentParser
import Retrieval

/// How input files are read, shared by the commands that read documents (`dera index`, `dera summarize`): the JSONL
/// field names and the size cap.
struct DocumentReadingOptions: ParsableArguments {
    @Option(help: "JSONL field that holds the document text.")
    var jsonlTextField: String = "text"

    @Option(help: "JSONL field that holds the title.")
    var jsonlTitleField: String = "title"

    @Option(help: "JSONL field whose value identifies a row (in a store across re-runs; in summarize's ids as FILE#VALUE); default: the line number.")
    var jsonlIdField: String?

    @Option(help: "Largest input file to read, in megabytes (10^6 bytes).")
    var maxFileMb: Int = 1_000

    func validate() throws {
        try NumericFlags.check("--max-file-mb", maxFileMb, in: 1...1_000_000)
    }

    var jsonl: JSONLReader { JSONLReader(textField: jsonlTextField, titleField: jsonlTitleField, idField: jsonlIdField) }
    var limits: ReadLimits { ReadLimits(maximumFileBytes: maxFileMb * 1_000_000) }
}
