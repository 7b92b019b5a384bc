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
            document and its `question` should retrieve it. The index is reused when the DB already holds it. \
            Every --mode is measured on the same sample (default: bm25, dense and hybrid when the embedder is \
            installed, else bm25); dense and hybrid embed the cases' passages into the index first. \
            With --questions, nothing is indexed: the questions of that JSONL file are asked of the store given \
            by --db, and a question counts as found when a hit's document title equals its `title` field.
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

    @Option(help: "Search mode to measure (repeatable): bm25, dense, hybrid. Default: all three when the embedder is installed.")
    var mode: [SearchMode] = []

    @OptionGroup var embedding: EmbedderOptions

    @OptionGroup var fusion: FusionOptions

    @Option(help: "JSONL of questions with the title of their document, asked of the existing --db instead of indexing --data.")
    var questions: String?

    @Option(help: "With --questions: only rows whose `split` field is this (e.g. test).")
    var split: String?

    @Flag(help: "Print the report as JSON on standard output.")
    var json = false

    func validate() throws {
        if sample < 1 { throw ValidationError("--sample must be at least 1.") }
        if !titleWeight.isFinite || titleWeight < 0 { throw ValidationError("--title-weight must be 0 or more.") }
        if let commonClauseCutoff { try NumericFlags.check("--common-clause-cutoff", commonClauseCutoff, in: 0...1) }
    }

    func run() throws {
        var modes = mode
        if modes.isEmpty {
            let installed = FileManager.default.fileExists(atPath: embedding.embedder + "/model.safetensors")
            if !installed { writeNote("no embedder at \(embedding.embedder) (scripts/setup --embedder); measuring bm25 only") }
            modes = installed ? SearchMode.allCases : [.bm25]
        }
        let embedder = modes.contains(where: { $0 != .bm25 }) ? try embedding.open() : nil
        let searchOptions = SearchOptions(titleWeight: titleWeight, commonClauseCutoff: commonClauseCutoff)
        if let questions {
            let asked = try TitledQuestion.load(jsonl: questions, split: split)
            let store = try PassageStore(readOnlyPath: db)
            let reports = try modes.map { mode in
                try QuestionSetEvaluation(retriever: fusion.apply(to: Retriever(store: store, mode: mode, embedder: embedder)),
                                          searchOptions: searchOptions).run(asked)
            }
            print(json ? try JSONOutput.encode(reports) : reports.map(\.summary).joined(separator: "\n\n"))
            return
        }
        let cases = try EvaluationCase.load(jsonl: data, textField: textField, questionField: questionField,
                                            titleField: titleField)
        let store = try PassageStore(path: db)
        let reports = try modes.map { mode in
            try RetrievalEvaluation(
                store: store,
                ingestOptions: IngestOptions(chunker: chunking.chunker),
                searchOptions: searchOptions,
                sampleSize: sample, seed: seed, observer: TerminalProgressBar(), mode: mode,
                embedder: mode == .bm25 ? nil : embedder, fusion: fusion.apply(to: Retriever(store: store))
            ).run(cases)
        }
        if json {
            // One mode prints one object, as before modes existed; several print an array.
            print(reports.count == 1 ? try JSONOutput.encode(reports[0]) : try JSONOutput.encode(reports))
        } else {
            print(reports.map(\.summary).joined(separator: "\n\n"))
        }
    }
}
