import Tokenization
import ArgumentParser
import Control
import Foundation
import Pipelines
import Realign
import Retrieval

/// `dera bench ask`: what a whole grounded answer costs under each lambda setting, auto's K candidates included.
struct BenchAsk: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ask",
        abstract: "Time whole grounded answers (retrieval, prompt, decoding, self-check): model alone, and with an adapter fixed lambda and auto with K candidates.",
        discussion: """
            Each setting answers the same questions (greedy) after one warm-up answer; the median and mean seconds \
            per answer are printed with the ratio to one fixed-lambda DeRa answer. Build in release mode first.
            """)

    @Option(help: "Questions (corpora/questions/ format).")
    var questions = "corpora/questions/wikipedia-ood.jsonl"

    @Option(help: "The split to take them from.")
    var split = "dev"

    @Option(help: "How many questions each setting answers.")
    var count = 10

    @Option(help: "The passage store.")
    var db = PipelineConfiguration.defaultStore

    @Option(help: "Most tokens per answer.")
    var maxTokens = 64

    @Option(help: "Auto candidate sets to time, separated by ';' (each comma-separated; 0 is always added).")
    var autoSets = "0,1;0,0.5,1;0,0.25,0.5,1,1.5,2"

    @OptionGroup var model: ModelOptions<AnsweringModel>
    @OptionGroup(title: "Decoding-time realignment") var realignment: RealignmentOptions
    @OptionGroup(title: "Checker calibration") var calibration: CalibrationOptions
    @OptionGroup(title: "Checker") var checker: CheckerOptions

    func run() throws {
        let list = Array(try TuningQuestion.load(questions, split: split).prefix(count))
        guard !list.isEmpty else { throw CommandError("no questions in \(questions) split \(split)") }
        let bundle = try model.open()
        var answerer = GroundedAnswerer(store: try PassageStore(readOnlyPath: db), bundle: bundle,
                                        template: try PromptTemplate(contentsOf: PipelineConfiguration.defaultTemplate))
        answerer.maxTokens = maxTokens
        let pair = try realignment.pair(reference: bundle, model)
        let check = try ControlOptions.selfCheck(bundle: bundle, calibration: calibration, checker: checker, fluency: true)
        var settings: [(String, GroundedAnswerer.Realignment?, SelfCheck?)] = [
            ("model alone, unchecked", nil, nil),
            ("model alone, checked", nil, check),
        ]
        if let pair {
            settings += [("DeRa lambda 1, unchecked", .init(pair: pair, setting: .fixed(1)), nil),
                         ("DeRa lambda 1, checked", .init(pair: pair, setting: .fixed(1)), check)]
        }
        for set in autoSets.split(separator: ";") where pair != nil {
            let pair = pair!
            let lambdas = try Tune.parse(String(set), flag: "--auto-sets")
            let setting = LambdaSetting.auto(candidates: lambdas, rule: .default)
            settings.append(("auto, K=\(setting.policies.count) {\(setting.policies.compactMap(\.fixedLambda).map(formatLambda).joined(separator: ","))}",
                             .init(pair: pair, setting: setting), check))
        }
        print("\(list.count) questions from \(questions) (\(split)), \(model.threads) threads, at most \(maxTokens) tokens, load \(loadAverage())")
        print("model \(model.model), adapter \(realignment.adapterPath(model) ?? "none")")
        print("| setting | median s/answer | mean s/answer | tokens/answer | x \(pair == nil ? "model alone checked" : "DeRa lambda 1 checked") |")
        print("|---|---|---|---|---|")
        var reference: Double?
        var lines: [(String, Double, Double, Double)] = []
        for (name, realign, selfCheck) in settings {
            var configured = answerer
            configured.realignment = realign
            configured.selfCheck = selfCheck
            _ = try configured.answer(list[0].question)   // warm-up
            var times: [Double] = []
            var tokens = 0
            for question in list {
                let answer = try configured.answer(question.question)
                times.append(answer.seconds)
                tokens += answer.generatedTokens
            }
            times.sort()
            let median = times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
            let mean = times.reduce(0, +) / Double(times.count)
            if name == (pair == nil ? "model alone, checked" : "DeRa lambda 1, checked") { reference = median }
            lines.append((name, median, mean, Double(tokens) / Double(list.count)))
        }
        for (name, median, mean, tokens) in lines {
            print(String(format: "| %@ | %.3f | %.3f | %.1f | %@ |", name, median, mean, tokens,
                         reference.map { String(format: "%.2f", median / $0) } ?? "-"))
        }
    }

    func loadAverage() -> String {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3)
            .joined(separator: " ") ?? "unknown"
    }
}
