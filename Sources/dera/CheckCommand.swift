import ArgumentParser
import Factuality
import Foundation
import Pipelines
import Retrieval

/// Where the checker's calibration comes from.
struct CalibrationOptions: ParsableArguments {
    @Option(help: "The calibration file written by `dera eval checker --fit`.")
    var calibration: String = CheckerCalibration.defaultPath

    @Option(help: """
        The calibration profile: qa-answers (the verdict combination refitted on dera's own grounded answers to the \
        dev questions; the default of ask, tune and bench ask), general (fitted on HaluEval QA and summarization \
        together; the default of check), qa or summarization (fitted on one task, and leaning on its quirks).
        """)
    var profile: String?

    /// The profile a command uses when --profile is not given.
    var defaultProfile = "general"

    func load() throws -> CalibrationProfile {
        do {
            return try CheckerCalibration.load(calibration).profile(profile ?? defaultProfile, path: calibration)
        } catch let error as CalibrationError {
            throw CommandError("\(error)")
        }
    }
}

/// `dera check`: score each claim of an answer against passages, with evidence.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check an answer against passages: a support score, label and evidence for every claim.",
        discussion: """
            The answer is split into claims (sentences, and clauses where a sentence joins several). Each claim \
            gets lexical support, a hard-fact check (numbers, dates, names), and, unless --no-model, a model \
            signal: with --checker verdict (the default) an instruct model's yes/no verdict on "do the passages \
            support this claim?", with --checker pmi the reference model's PMI (how much the passages raise its \
            likelihood); a calibrated logistic combination gives the score. Passages come from a file (--passages: plain text with passages separated by blank lines, or \
            JSON Lines with a `text` field) or from a passage store searched with the question (--db). Spans are \
            Unicode scalar offsets.
            """)

    @Option(help: "The answer to check (- reads standard input, @FILE a file).")
    var answer: String

    @Option(help: "The question the answer responds to.")
    var question: String?

    @Option(help: "Passages file: blank-line-separated text blocks, or JSONL with a `text` (and optional `id`) field.")
    var passages: String?

    @Option(help: "A passage store made by `dera index`, searched with the question.")
    var db: String?

    @Option(name: .customShort("k"), help: "Passages to retrieve with --db.")
    var limit = 5

    @Option(help: "With --db: bm25, dense or hybrid (falls back to bm25, with a note, on a store without vectors).")
    var mode: SearchMode = PipelineConfiguration().searchMode

    @OptionGroup var embedding: EmbedderOptions

    @Flag(help: "Lexical signals only: no model is loaded (the same as --checker lexical).")
    var noModel = false

    @OptionGroup(title: "Checker") var checker: CheckerOptions
    @OptionGroup(title: "The PMI scorer's model (--checker pmi)") var model: ModelOptions<EngineModel>
    @OptionGroup var calibration: CalibrationOptions

    @Flag(help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        guard (passages == nil) != (db == nil) else { throw ValidationError("give exactly one of --passages and --db") }
        if db != nil, question == nil { throw ValidationError("--db needs --question to search the store with") }
        try NumericFlags.check("-k", limit, in: 1...NumericFlags.maximumPassages)
    }

    func run() throws {
        var reader = TextArgumentReader()
        let answerText = try reader.text(of: answer, argument: "--answer")
        let questionText = try question.map { try reader.text(of: $0, argument: "--question") }
        let passageList: [Factuality.Passage]
        if let path = passages {
            do { passageList = try PassageFile.load(path) } catch let error as PassageFileError {
                throw CommandError("\(error)")
            }
        } else {
            let db = self.db!
            guard FileManager.default.fileExists(atPath: db) else {
                throw CommandError("no passage store at \(db); build one with `dera index PATH --db \(db)`")
            }
            let retriever = try embedding.retriever(store: PassageStore(readOnlyPath: db), mode: mode)
            passageList = try retriever.checkerPassages(for: questionText!, limit: limit)
        }
        let profile = try calibration.load()
        let checker = try self.checker.checker(profile: profile, calibrationPath: calibration.calibration,
                                               scorer: noModel ? .lexical : nil, answering: nil,
                                               pmiModel: { try model.open() }, workers: model.threads)
        let report = try checker.check(answer: answerText, passages: passageList, question: questionText)
        print(json ? try JSONOutput.encode(report) : TerminalText.escaped(report.summary, keepingLineBreaks: true))
    }
}
