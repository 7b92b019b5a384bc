import ArgumentParser
import Foundation
import Inference
import Pipelines
import Realign
import Retrieval

/// `dera ask`: grounded question answering over a passage store, with citations.
struct Ask: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer a question from retrieved passages, citing them.",
        discussion: """
            Build the store first with `dera index` (scripts/run does it for the default corpus). With --adapter \
            (or --aligned) the answer is decoded with DeRa at --lambda: for example the committed faithfulness \
            adapter, `--adapter models/adapters/smollm2-dpo-beta0.1 --lambda 1`.
            """)

    @Argument(help: "The question.")
    var question: String

    @Option(help: "The SQLite passage store made by `dera index`.")
    var db: String = "data/wikipedia.sqlite"

    @Option(help: "The prompt template (prompts/ format: [system] and [user] sections).")
    var template: String = "prompts/grounded-qa.txt"

    @Option(name: .customShort("k"), help: "Passages to put in the prompt.")
    var passages = 3

    @Option(help: "Most tokens to generate.")
    var maxTokens = 128

    @OptionGroup var model: ModelOptions
    @OptionGroup(title: "Decoding-time realignment") var realignment: RealignmentOptions
    @OptionGroup var sampling: SamplingOptions

    @Flag(help: "Print the answer and its citations as JSON instead of streaming text.")
    var json = false

    func validate() throws {
        try NumericFlags.check("-k", passages, in: 1...NumericFlags.maximumPassages)
        try NumericFlags.checkTokens("--max-tokens", maxTokens)
        if realignment.lambdas != nil { throw ValidationError("dera ask decodes one lambda; use --lambda") }
    }

    func run() throws {
        guard FileManager.default.fileExists(atPath: db) else {
            throw CommandError("no passage store at \(db); build one with `dera index PATH --db \(db)`")
        }
        let bundle = try model.open()
        var answerer = GroundedAnswerer(store: try PassageStore(path: db, createIfMissing: false),
                                        bundle: bundle, template: try PromptTemplate(contentsOf: template))
        if realignment.isRealigning {
            answerer.realignment = .init(pair: try realignment.pair(reference: bundle, model), lambda: realignment.lambda)
        }
        answerer.passageCount = passages
        answerer.maxTokens = maxTokens
        answerer.sampling = sampling.parameters
        let output = FileHandle.standardOutput
        let answer = try answerer.answer(question) { piece in
            if !json { output.write(Data(piece.utf8)) }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            output.write(try encoder.encode(answer))
            output.write(Data("\n".utf8))
            return
        }
        var sources = "\n\nSources:\n"
        for citation in answer.citations {
            sources += "[\(citation.number)] \(citation.title.isEmpty ? citation.source : citation.title) (\(citation.source))\n"
        }
        output.write(Data(sources.utf8))
        let decoder = answer.lambda.map { "DeRa lambda \(formatLambda($0)), " } ?? ""
        FileHandle.standardError.write(Data(String(
            format: "%@%d prompt tokens, %d generated, %.1f tok/s\n", decoder, answer.promptTokens,
            answer.generatedTokens, answer.generationTokensPerSecond).utf8))
    }
}
