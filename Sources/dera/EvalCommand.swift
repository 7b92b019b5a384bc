import ArgumentParser
import Foundation
import Retrieval

/// `dera eval ...`: evaluation harnesses, one subcommand per stage.
struct Eval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure a pipeline stage on a real corpus.",
        subcommands: [RetrievalEvalCommand.self, RealignEvalCommand.self, CheckerEvalCommand.self])
}

/// `dera eval retrieval`: recall@k and latency of the retriever on question/document pairs.
struct RetrievalEvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retrieval",
        abstract: "Index every row's text, ask a seeded sample of its questions, report recall@1/5/10 and latency.",
        discussion: """
            Defaults fit HaluEval QA (fetch it with corpora/fetch.sh): each row's `knowledge` is a \
            document and its `question` should retrieve it. The index is reused when the DB already holds it.
            """)

    @Option(help: "JSONL file of cases.")
    var data: String = "data/halueval/dataset_halueval_qa.jsonl"

    @Option(help: "The SQLite passage store to build or reuse for the evaluation.")
    var db: String

    @Option(help: "Field holding the document text.")
    var textField: String = "knowledge"

    @Option(help: "Field holding the question.")
    var questionField: String = "question"

    @Option(help: "Field holding a title to index with the text, if any.")
    var titleField: String?

    @Option(help: "How many questions to ask.")
    var sample: Int = 2000

    @Option(help: "Seed of the question sample.")
    var seed: UInt64 = 42

    @Option(help: "BM25 weight of the title relative to the text.")
    var titleWeight: Double = 2

    @Option(help: "Drop query words matching more than this fraction of passages (keeping the two rarest).")
    var commonClauseCutoff: Double?

    @OptionGroup var chunking: ChunkingOptions

    @Flag(help: "Print the report as JSON on standard output.")
    var json = false

    func validate() throws {
        if sample < 1 { throw ValidationError("--sample must be at least 1.") }
        if !titleWeight.isFinite || titleWeight < 0 { throw ValidationError("--title-weight must be 0 or more.") }
        if let commonClauseCutoff { try NumericFlags.check("--common-clause-cutoff", commonClauseCutoff, in: 0...1) }
    }

    func run() throws {
        let cases = try EvaluationCase.load(jsonl: data, textField: textField, questionField: questionField,
                                            titleField: titleField)
        let evaluation = RetrievalEvaluation(
            store: try PassageStore(path: db),
            ingestOptions: IngestOptions(chunker: chunking.chunker),
            searchOptions: SearchOptions(titleWeight: titleWeight, commonClauseCutoff: commonClauseCutoff),
            sampleSize: sample, seed: seed, observer: TerminalProgressBar())
        let report = try evaluation.run(cases)
        print(json ? try JSONOutput.encode(report) : report.summary)
    }
}
