import Tokenization
import ArgumentParser
import Factuality
import Foundation
import Inference
import Pipelines
import Realign

/// `dera eval realign`: DeRa against adapters retrained at other KL strengths, on held-out HaluEval QA rows.
struct RealignEvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "realign",
        abstract: "Answer held-out HaluEval QA rows with the reference, adapters and DeRa mixes; report accuracy, faithfulness and agreement.",
        discussion: """
            Each row's knowledge is the only passage (retrieval off) in the prompts/grounded-qa.txt template. \
            Every system decodes greedily. The default systems test the DeRa paper's claim with the committed \
            adapters: the beta = 0.1 adapter at lambda 0.5 should behave like the adapter trained at beta = 0.2, \
            and at lambda 2 like the one trained at beta = 0.05. Answers go to --output as JSONL; a re-run \
            resumes from it.
            """)

    @OptionGroup var model: ModelOptions<EngineModel>

    @Option(help: "HaluEval QA JSONL (corpora/fetch.sh fetches it).")
    var data = "data/halueval/dataset_halueval_qa.jsonl"

    @Option(help: "Zero-based rows A..B (end exclusive); the adapters were trained on rows 0..7999 only.")
    var rows = "8000..8300"

    @Option(help: "Folder holding the three adapters PREFIX{0.05,0.1,0.2} (see --adapter-prefix).")
    var adapters = "models/adapters"

    @Option(help: "Name of the three adapters without their beta: smollm2-dpo-beta (HaluEval pairs), smollm2-onpolicy-dpo-beta or qwen05-onpolicy-nocorr-dpo-beta (on-policy pairs; give the matching --model).")
    var adapterPrefix = "smollm2-dpo-beta"

    @Option(name: .customLong("system"), help: "A system NAME:ADAPTER:LAMBDA (repeatable); replaces the default set. LAMBDA is a number, or divergence, divergence-reference or entropy for a per-token lambda within [--lambda-min, --lambda-max].")
    var systems: [String] = []

    @OptionGroup(title: "Adaptive lambda (for --system ...:divergence or :entropy)") var policy: LambdaPolicyOptions

    @Option(help: "Answers, one JSON object per line; resumed when it exists.")
    var output = "data/eval/realign-answers.jsonl"

    @Option(help: "The prompt template.")
    var template = "prompts/grounded-qa.txt"

    @Option(help: "Most tokens per answer.")
    var maxTokens = 48

    @Flag(help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        try NumericFlags.checkTokens("--max-tokens", maxTokens)
        _ = try parsedRows()
        _ = try parsedSystems()
    }

    func parsedRows() throws -> Range<Int> {
        let parts = rows.components(separatedBy: "..")
        guard parts.count == 2, let a = Int(parts[0]), let b = Int(parts[1]), a >= 0, a < b else {
            throw ValidationError("--rows must look like 8000..8300")
        }
        return a..<b
    }

    func parsedSystems() throws -> [RealignmentEvaluation.System] {
        if systems.isEmpty {
            let beta = { (b: String) in "\(adapters)/\(adapterPrefix)\(b)" }
            return [
                .init(name: "reference", adapter: beta("0.1"), lambda: 0),
                .init(name: "dera-0.1@0.5", adapter: beta("0.1"), lambda: 0.5),
                .init(name: "adapter-0.1", adapter: beta("0.1"), lambda: 1),
                .init(name: "dera-0.1@2", adapter: beta("0.1"), lambda: 2),
                .init(name: "adapter-0.2", adapter: beta("0.2"), lambda: 1),
                .init(name: "adapter-0.05", adapter: beta("0.05"), lambda: 1),
            ]
        }
        return try systems.map { text in
            let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty, let policy = policy.policy(named: parts[2]) else {
                throw ValidationError("--system must be NAME:ADAPTER:LAMBDA (LAMBDA a number, divergence, divergence-reference or entropy), got '\(text)'")
            }
            if let lambda = policy.fixedLambda { try NumericFlags.checkLambda("--system \(parts[0])", lambda) }
            return .init(name: parts[0], adapter: parts[1], policy: policy)
        }
    }

    /// The pairs whose agreement tests the paper's claim, then controls.
    static let comparisons = [("dera-0.1@0.5", "adapter-0.2"), ("dera-0.1@2", "adapter-0.05"),
                              ("adapter-0.1", "adapter-0.2"), ("adapter-0.1", "adapter-0.05"),
                              ("reference", "adapter-0.2"), ("reference", "adapter-0.05")]

    func run() throws {
        let range = try parsedRows()
        let systems = try parsedSystems()
        for path in Set(systems.map(\.adapter)) where !FileManager.default.fileExists(atPath: path) {
            throw CommandError("adapter not found: \(path) (the committed adapters live in models/adapters; training/train_dpo.sh makes them)")
        }
        let rows = try HaluEvalTask.qa.load(path: data, rows: range)
        let evaluation = try RealignmentEvaluation(reference: model.open(), adapters: systems.map(\.adapter),
                                                   template: PromptTemplate(contentsOf: template), maxTokens: maxTokens)
        let start = Date()
        let answers = try evaluation.run(rows: rows, systems: systems, output: output) { done, total in
            if done % 10 == 0 || done == total {
                let rate = Double(done) / max(Date().timeIntervalSince(start), 1e-9)
                FileHandle.standardError.write(Data(String(format: "\r%d/%d rows, %.2f rows/s", done, total, rate).utf8))
            }
        }
        FileHandle.standardError.write(Data("\n".utf8))
        let metrics = RealignmentEvaluation.metrics(answers, rows: rows, systems: systems)
        let names = Set(systems.map(\.name))
        let agreements = Self.comparisons.filter { names.contains($0.0) && names.contains($0.1) }.map { a, b in
            (a, b, RealignmentEvaluation.agreement(answers, a, b))
        }
        if json {
            let report: [String: Any] = [
                "rows": "\(range.lowerBound)..\(range.upperBound)",
                "systems": systems.map { ["name": $0.name, "adapter": $0.adapter, "lambda": $0.policy.fixedLambda.map { Double($0) as Any } ?? $0.policy.description] },
                "metrics": metrics.map {
                    ["system": $0.system, "rows": $0.rows, "exact_match": $0.exactMatch, "contains_answer": $0.containsAnswer,
                     "token_f1": $0.tokenF1, "unsupported_rate": $0.unsupportedRate,
                     "unsupported_words": $0.unsupportedWords, "mean_words": $0.meanWords,
                     "mean_lambda": $0.meanLambda as Any] as [String: Any]
                },
                "agreement": agreements.map { ["a": $0.0, "b": $0.1, "rows": $0.2.rows, "exact": $0.2.exact, "f1": $0.2.f1] as [String: Any] },
            ]
            let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("HaluEval QA rows \(range.lowerBound)..<\(range.upperBound), knowledge as the passage, greedy, \(maxTokens) tokens max")
        print("")
        print("| system | adapter | lambda | mean lambda | exact match | contains answer | token F1 | answers with unsupported words | unsupported words / answer | mean words |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for (system, m) in zip(systems, metrics) {
            print(String(format: "| %@ | %@ | %@ | %@ | %.3f | %.3f | %.3f | %.3f | %.2f | %.1f |", system.name,
                         (system.adapter as NSString).lastPathComponent, system.policy.description,
                         m.meanLambda.map { String(format: "%.3f", $0) } ?? "-", m.exactMatch,
                         m.containsAnswer, m.tokenF1, m.unsupportedRate, m.unsupportedWords, m.meanWords))
        }
        if !agreements.isEmpty {
            print("")
            print("| system A | system B | rows | identical answers | token F1 between answers |")
            print("|---|---|---|---|---|")
            for (a, b, value) in agreements {
                print(String(format: "| %@ | %@ | %d | %.3f | %.3f |", a, b, value.rows, value.exact, value.f1))
            }
        }
    }
}
