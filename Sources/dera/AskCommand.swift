import Tokenization
import ArgumentParser
import Control
import Factuality
import Foundation
import Inference
import Pipelines
import Realign
import Retrieval

/// `dera ask`: grounded question answering over a passage store, with citations and a check of its own answer.
struct Ask: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer a question from retrieved passages, citing them, and check the answer against them.",
        discussion: """
            Build the store first with `dera index` (scripts/run does it for the default corpus). With the default \
            model the answer is decoded with DeRa against its committed faithfulness adapter (--no-adapter: the \
            model alone). --lambda 0 is the reference model, 1 the adapter; auto decodes several candidate lambdas \
            in one batch, checks each against the passages and keeps the one --rule picks. Without --lambda: the \
            choice `dera tune` saved for this model (models/controller/tuned.json), else auto.

            After the answer come its sources, the support of each claim (with a warning on unsupported claims), the \
            lambda used, naturalness and correctness. --json carries all of it, auto's candidates included.
            """)

    @Argument(help: "The question (- reads standard input, @FILE a file).")
    var question: String

    @Option(help: "The SQLite passage store made by `dera index`.")
    var db: String = PipelineConfiguration.defaultStore

    @Option(help: "The prompt template (prompts/ format: [system] and [user] sections).")
    var template: String = PipelineConfiguration.defaultTemplate

    @Option(name: .customShort("k"), help: "Passages to put in the prompt.")
    var passages = 3

    @Option(help: "Most tokens to generate.")
    var maxTokens = 128

    @Option(help: ArgumentHelp("Where the answer ends before --max-tokens: " + StopChoice.help,
                               discussion: "The prompt asks for one sentence; what small models add after it is mostly copied passages and loops."))
    var stop: StopChoice = .paragraph

    @Option(help: "How passages are found: bm25, dense or hybrid (falls back to bm25, with a note, on a store without vectors).")
    var mode: SearchMode = PipelineConfiguration().searchMode

    @OptionGroup var embedding: EmbedderOptions

    @OptionGroup var model: ModelOptions<AnsweringModel>
    @OptionGroup(title: "Decoding-time realignment") var realignment: RealignmentOptions
    @OptionGroup(title: "Self-check and lambda control") var control: ControlOptions
    @OptionGroup(title: "Checker calibration") var calibration: CalibrationOptions
    @OptionGroup var sampling: SamplingOptions

    @Flag(help: "Print the answer, citations, check and candidates as JSON instead of streaming text.")
    var json = false

    @Option(help: ArgumentHelp(
        "Draw this many sampled answers in one batch (the prompt prefilled once) and print them as JSON, unchecked.",
        discussion: "Answer s is drawn with seed --seed + s. Needs --temperature > 0, --no-check and a fixed lambda " +
            "(or --no-adapter); this is how training/build_onpolicy.py samples on-policy data."))
    var samples: Int?

    func validate() throws {
        try NumericFlags.check("-k", passages, in: 1...NumericFlags.maximumPassages)
        try NumericFlags.checkTokens("--max-tokens", maxTokens)
        if realignment.lambdas != nil { throw ValidationError("dera ask decodes one lambda or auto; use --lambda") }
        if control.noCheck, realignment.lambda == .auto {
            throw ValidationError("--lambda auto chooses with the checker; drop --no-check")
        }
        if let samples {
            try NumericFlags.check("--samples", samples, in: 1...64)
            guard control.noCheck else { throw ValidationError("--samples prints unchecked draws; add --no-check") }
            guard !sampling.greedy, (sampling.temperature ?? 0) > 0 else {
                throw ValidationError("--samples needs sampling: give --temperature > 0")
            }
        }
    }

    func run() throws {
        guard FileManager.default.fileExists(atPath: db) else {
            throw CommandError("no passage store at \(db); build one with `dera index PATH --db \(db)`")
        }
        var reader = TextArgumentReader()
        let question = try reader.text(of: self.question, argument: "QUESTION")
        let bundle = try model.open()
        var answerer = GroundedAnswerer(store: try PassageStore(readOnlyPath: db),
                                        bundle: bundle, template: try PromptTemplate(contentsOf: template))
        answerer.realignment = try control.realignment(realignment, model: model, bundle: bundle)
        if !control.noCheck { answerer.selfCheck = try control.selfCheck(bundle: bundle, calibration: calibration) }
        answerer.retriever = try embedding.retriever(store: answerer.store, mode: mode)
        answerer.passageCount = passages
        answerer.maxTokens = maxTokens
        answerer.textStop = stop.textStop
        answerer.sampling = sampling.parameters(defaultTemperature: 0)
        let output = FileHandle.standardOutput
        if let samples {
            let drawn = try answerer.sample(question, count: samples)
            let record = SampledAnswers(
                question: question, citations: drawn.citations, promptTokens: drawn.promptTokens,
                lambda: answerer.realignment == nil ? nil : drawn.outputs.first?.lambda, seed: sampling.seed,
                samples: drawn.outputs.map {
                    .init(answer: $0.text.trimmingCharacters(in: .whitespacesAndNewlines), tokens: $0.tokens,
                          truncated: $0.truncated)
                }, seconds: drawn.seconds)
            output.write(Data((try JSONOutput.encode(record) + "\n").utf8))
            return
        }
        let streams = !json && answerer.realignment.map { $0.setting.policies.count == 1 } ?? true
        let answer = try answerer.answer(question) { piece in
            if streams { output.write(Data(TerminalText.escaped(piece, keepingLineBreaks: true).utf8)) }
        }
        if json {
            output.write(Data((try JSONOutput.encode(answer) + "\n").utf8))
            return
        }
        if !streams { output.write(Data(TerminalText.escaped(answer.answer, keepingLineBreaks: true).utf8)) }
        output.write(Data(TerminalText.escaped(Self.report(answer), keepingLineBreaks: true).utf8))
        let decoder = answer.lambda.map { "DeRa lambda \(formatLambda($0)), " } ?? "model alone, "
        FileHandle.standardError.write(Data(String(
            format: "%@%d prompt tokens, %d generated, %.1f tok/s, %.2f s\n", decoder, answer.promptTokens,
            answer.generatedTokens, answer.generationTokensPerSecond, answer.seconds).utf8))
    }

    /// `--samples N` output: the passages, the prompt length and every draw with its token ids.
    struct SampledAnswers: Encodable {
        struct Draw: Encodable {
            var answer: String
            var tokens: [Int]
            var truncated: Bool
        }
        var question: String
        var citations: [GroundedAnswer.Citation]
        var promptTokens: Int
        var lambda: Float?
        var seed: UInt64
        var samples: [Draw]
        var seconds: Double
    }

    /// What follows the answer in text mode: sources, the check of each claim, the lambda and the scores.
    static func report(_ answer: GroundedAnswer) -> String {
        var text = "\n\nSources:\n"
        for citation in answer.citations {
            text += "[\(citation.number)] \(citation.title.isEmpty ? citation.source : citation.title) (\(citation.source))\n"
        }
        if let check = answer.check {
            text += "\nCheck against these passages (\(check.scorer) checker, threshold \(String(format: "%.2f", check.threshold))):\n"
            if check.claims.isEmpty { text += "  the answer makes no claim to check\n" }
            for claim in check.claims {
                let mark = claim.label == .supported ? "supported  " : "UNSUPPORTED"
                text += "  \(mark) \(String(format: "%.2f", claim.score))  \"\(claim.text)\""
                var notes: [String] = []
                if let verdict = claim.verdict { notes.append("model: \(verdict.logOdds >= 0 ? "yes" : "no") \(String(format: "%+.1f", verdict.logOdds))") }
                if let evidence = claim.evidence { notes.append("evidence: [\(evidence.passageID)]") }
                if !notes.isEmpty { text += " (" + notes.joined(separator: ", ") + ")" }
                text += "\n"
            }
            let unsupported = check.claims.filter { $0.label == .unsupported }.count
            if unsupported == 0, check.hallucinated, let score = check.answerScore {
                text += "WARNING: the answer as a whole scores \(String(format: "%.2f", score)), under the threshold: treat it with care.\n"
            } else if unsupported > 0 {
                text += "WARNING: \(unsupported) claim\(unsupported == 1 ? "" : "s") not supported by the passages; treat the answer with care.\n"
            }
        }
        var summary = "lambda " + (answer.lambda.map(formatLambda) ?? "none (model alone)")
        if let candidates = answer.candidates, let chosen = answer.chosen {
            summary += " chosen by auto (\(answer.rule ?? "")) from " + candidates.enumerated().map { i, c in
                "\(i == chosen ? "*" : "")\(formatLambda(c.lambda)): correct \(String(format: "%.2f", c.correctness)) natural \(String(format: "%.2f", c.naturalness.score))"
            }.joined(separator: " | ")
        }
        if let naturalness = answer.naturalness {
            summary += "; naturalness \(String(format: "%.2f", naturalness.score))"
            if !naturalness.flags.isEmpty { summary += " (" + naturalness.flags.map(\.rawValue).joined(separator: ", ") + ")" }
        }
        if let correctness = answer.correctness { summary += "; correctness \(String(format: "%.2f", correctness))" }
        return text + summary + "\n"
    }
}
