import Tokenization
import ArgumentParser
import Control
import Factuality
import Foundation
import Pipelines
import Realign
import Retrieval

/// `dera tune`: choose lambda on a question set by sweeping it, batched, with real retrieval and self-checks.
struct Tune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sweep lambda over a question set, print accuracy, checker correctness and naturalness per setting, choose one and save it.",
        discussion: """
            Every question is retrieved and prompted as `dera ask` does; all lambdas of --lambdas decode in one batch \
            from one prefill (default grid \(Tune.defaultGrid)), and every answer is checked against its passages and scored for naturalness. Rows of \
            the table: each fixed lambda, and auto (the rule choosing per question among --auto-candidates). \
            Correctness is gold accuracy where the set has answers (else the checker's mean score); the rule (--rule) \
            picks among the settings, then lambdas halfway to the chosen one's neighbours are tried (--no-refine skips \
            it). The choice goes to --save (models/controller/tuned.json, read by `dera ask` when --lambda is not \
            given); --report writes an HTML page with the chart; --markdown the table. Records go to --records as \
            JSONL, one line per question and setting, and a re-run resumes from them.

            Questions: JSONL with id, question, answers (optional) and split (corpora/questions/ format), or \
            HaluEval QA rows with --halueval-rows A..B (both ends included).
            """)

    @Argument(help: "The question file (JSONL: id, question, answers, split). Omit with --halueval-rows.")
    var questions: String?

    @Option(help: "Keep only questions of this split (e.g. dev or test).")
    var split: String?

    @Option(help: "HaluEval QA rows A..B (both ends included) as the questions, the right answer as gold.")
    var haluevalRows: String?

    @Option(help: "The HaluEval QA file for --halueval-rows.")
    var halueval = "data/halueval/dataset_halueval_qa.jsonl"

    @Option(help: "Answer at most this many questions (the first ones).")
    var limit: Int?

    @Option(help: "The passage store.")
    var db = "data/wikipedia.sqlite"

    static let defaultGrid = "0,0.25,0.5,1,1.5,2"

    @Option(help: "Adaptive per-token policies decoded beside the grid (comma-separated: divergence, divergence-reference, entropy; bounds from --lambda-min/--lambda-max; 'none' for none).")
    var policies = "divergence,entropy"

    @Option(help: "The candidates auto chooses among (a subset of the grid).")
    var autoCandidates = LambdaSetting.defaultCandidates.map(formatLambda).joined(separator: ",")

    @Option(help: "Rules auto may use per question, separated by ';': each gets an auto row, and the best one is what --save stores with auto.")
    var autoRules = "most-correct:0.02;weighted:0.75;weighted:0.5;weighted:0.25"

    @Option(help: "Records, one JSON line per question and setting; resumed when it exists.")
    var records: String?

    @Option(help: "Write the HTML report (table and SVG chart) here.")
    var report: String?

    @Option(help: "Write the table as Markdown here.")
    var markdown: String?

    @Option(help: "Save the choice to this file (read by dera ask).")
    var save: String = TunedLambda.defaultPath

    @Flag(help: "Do not save the choice.")
    var noSave = false

    @Flag(help: "Check the stored answers again with the current checker before the table (after a checker change; nothing is decoded again).")
    var rescore = false

    @Flag(help: "Do not try lambdas halfway to the chosen one's neighbours.")
    var noRefine = false

    @Option(help: "The prompt template.")
    var template = "prompts/grounded-qa.txt"

    @Option(name: .customShort("k"), help: "Passages per prompt.")
    var passages = 3

    @Option(help: "Most tokens per answer.")
    var maxTokens = 64

    @Option(help: ArgumentHelp("Where an answer ends before --max-tokens, as dera ask: " + StopChoice.help))
    var stop: StopChoice = .paragraph

    @Option(help: "How passages are found: bm25, dense or hybrid, as dera ask (falls back to bm25, with a note, on a store without vectors).")
    var mode: SearchMode = PipelineConfiguration().searchMode

    @OptionGroup var embedding: EmbedderOptions

    @OptionGroup var model: ModelOptions<AnsweringModel>
    @OptionGroup(title: "Decoding-time realignment") var realignment: RealignmentOptions
    @OptionGroup(title: "Self-check and lambda control") var control: ControlOptions
    @OptionGroup(title: "Checker calibration") var calibration: CalibrationOptions

    func validate() throws {
        guard (questions == nil) != (haluevalRows == nil) else {
            throw ValidationError("give a question file or --halueval-rows, not both or neither")
        }
        if let haluevalRows, RowRange(parsing: haluevalRows) == nil {
            throw ValidationError("--halueval-rows must look like 9000..9199, got '\(haluevalRows)'")
        }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        try NumericFlags.check("-k", passages, in: 1...NumericFlags.maximumPassages)
        try NumericFlags.checkTokens("--max-tokens", maxTokens)
        if realignment.lambda != nil {
            throw ValidationError("dera tune sweeps a grid: give --lambdas (default \(Self.defaultGrid)), not --lambda")
        }
        _ = try grid()
        _ = try rules()
        _ = try adaptivePolicies()
    }

    func adaptivePolicies() throws -> [LambdaPolicy] {
        if policies == "none" { return [] }
        return try policies.split(separator: ",").map { name in
            guard let policy = realignment.policy.policy(named: String(name)), policy.fixedLambda == nil else {
                throw ValidationError("--policies: '\(name)' is not divergence, divergence-reference or entropy")
            }
            return policy
        }
    }

    func rules() throws -> [SelectionRule] {
        try autoRules.split(separator: ";").map { text in
            guard let rule = SelectionRule(String(text)) else {
                throw ValidationError("--auto-rules: '\(text)' is not most-correct[:M], natural-at-least:T or weighted:W")
            }
            return rule
        }
    }

    static func parse(_ text: String, flag: String) throws -> [Float] {
        unique(try NumericFlags.lambdas(flag, text))
    }

    func grid() throws -> (grid: [Float], auto: [Float]) {
        let grid = try Self.parse(realignment.lambdas ?? Self.defaultGrid, flag: "--lambdas")
        var auto = try Self.parse(autoCandidates, flag: "--auto-candidates")
        if !auto.contains(0) { auto.insert(0, at: 0) }
        return (grid, auto)
    }

    func loadQuestions() throws -> (questions: [TuningQuestion], name: String) {
        var result: [TuningQuestion]
        var name: String
        if let questions {
            do { result = try TuningQuestion.load(questions, split: split) } catch let error as PipelineError {
                throw CommandError("\(error)")
            }
            name = questions + (split.map { " (\($0))" } ?? "")
        } else {
            let range = RowRange(parsing: haluevalRows!)!
            result = TuningQuestion.haluEval(try HaluEvalTask.qa.load(path: halueval, rows: range.rows))
            name = "HaluEval QA rows \(range)"
        }
        if let limit { result = Array(result.prefix(limit)) }
        guard !result.isEmpty else { throw CommandError("no questions to tune on in \(name)") }
        return (result, name)
    }

    func run() throws {
        guard FileManager.default.fileExists(atPath: db) else {
            throw CommandError("no passage store at \(db); build one with `dera index PATH --db \(db)`")
        }
        let (questionSet, name) = try loadQuestions()
        var (grid, auto) = try grid()
        let bundle = try model.open()
        var answerer = GroundedAnswerer(store: try PassageStore(readOnlyPath: db), bundle: bundle,
                                        template: try PromptTemplate(contentsOf: template))
        answerer.retriever = try embedding.retriever(store: answerer.store, mode: mode)
        answerer.passageCount = passages
        answerer.maxTokens = maxTokens
        answerer.textStop = stop.textStop
        let adapter = realignment.adapterPath(model)
        if let pair = try realignment.pair(reference: bundle, model) {
            answerer.realignment = .init(pair: pair, setting: .fixed(1))
        } else {
            (grid, auto) = ([0], [0])
        }
        let check = try control.selfCheck(bundle: bundle, calibration: calibration)
        let tuner = LambdaTuner(answerer: answerer, check: check)
        FileHandle.standardError.write(Data("tune: \(answerer.realignment == nil ? "model alone (no adapter): one setting" : "DeRa with \(adapter ?? "the aligned model")")\n".utf8))
        let rule = control.rule.flatMap(SelectionRule.init) ?? .default
        let output = records ?? "data/tune/\((model.model as NSString).lastPathComponent)-\(adapter.map { ($0 as NSString).lastPathComponent } ?? "alone")-\(Self.slug(name)).jsonl"
        let sweep = unique(grid + auto)

        let progress = Progress(label: "tune", total: questionSet.count)
        FileHandle.standardError.write(Data("tune: \(questionSet.count) questions from \(name), lambdas \(sweep.map(formatLambda).joined(separator: ",")); records in \(output)\n".utf8))
        if rescore, FileManager.default.fileExists(atPath: output) {
            _ = try tuner.rescore(questions: questionSet, output: output, progress: Progress(label: "rescore", total: questionSet.count).update)
        }
        let adaptive = answerer.realignment == nil ? [] : try adaptivePolicies()
        var all = try tuner.run(questions: questionSet, policies: sweep.map { .fixed($0) } + adaptive, output: output,
                                progress: progress.update)
        var rows = LambdaTuner.rows(all, lambdas: sweep.sorted())
        var (chosen, front) = Self.choose(rows: rows, records: all, auto: auto, rule: rule)

        if !noRefine, let lambda = chosen.lambda, grid.count > 1 {
            let extra = LambdaTuner.refinement(around: lambda, grid: grid)
            if !extra.isEmpty {
                FileHandle.standardError.write(Data("tune: refining around lambda \(formatLambda(lambda)) with \(extra.map(formatLambda).joined(separator: ","))\n".utf8))
                let refine = Progress(label: "refine", total: questionSet.count)
                all += try tuner.run(questions: questionSet, lambdas: extra, output: output, progress: refine.update)
                rows = LambdaTuner.rows(all, lambdas: (sweep + extra).sorted())
                (chosen, front) = Self.choose(rows: rows, records: all, auto: auto, rule: rule)
            }
        }
        let policyRows = LambdaTuner.rows(all, policies: adaptive)
        var autoRules: [String: SelectionRule] = [:]
        for autoRule in answerer.realignment == nil ? [] : try rules() {
            if let autoRow = LambdaTuner.autoRow(all, lambdas: auto, rule: autoRule) {
                rows.append(autoRow)
                autoRules[autoRow.label] = autoRule
            }
        }
        (chosen, front) = Self.choose(rows: rows, records: all, auto: auto, rule: rule)
        // Adaptive policies are reported beside the grid; the choice is among fixed lambdas and auto rules.
        rows.insert(contentsOf: policyRows, at: rows.firstIndex { $0.lambda == nil } ?? rows.endIndex)

        let notes = [
            "Questions: \(name), \(questionSet.count). Model: \(model.model); adapter: \(adapter ?? "none"). Retrieval: top \(passages) passages from \(db) (\(try answerer.retriever.resolvedMode().mode.rawValue)). Greedy, at most \(maxTokens) tokens, stop rule \(stop.rawValue).",
            "right/accuracy: the answer contains a gold answer. checker correctness: mean calibrated support score (\(["verdict": "checker with the verdict model", "model": "checker with the model's PMI"][check.checker.scorerName] ?? "lexical checker")); flagged: the checker calls the answer hallucinated. unsupported answers: answers with a content word (numbers included) found neither in the passages nor in the question. naturalness: docs/control.md. tok/s: generation throughput of the batches (all settings of a question decoded together; prefill excluded); s/question: wall time of a question's whole batch, prefill included.",
            "Choice rule among the rows: \(rule); correctness for the choice is gold accuracy where there is gold, else the checker's mean. Auto rows apply their own rule per question to the candidates' stored scores.",
        ]
        let table = TuningReport(title: "dera tune: \(name)", rows: rows, front: front, chosen: chosen.label, rule: rule,
                                 notes: notes)
        print(table.plainText)
        print("")
        for row in rows where row.choices != nil {
            print("\(row.label) chose: " + row.choices!.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        print("Pareto front (fixed lambdas): " + rows.filter { front.contains($0.label) }.map(\.label).joined(separator: ", "))
        print("Chosen by \(rule): \(chosen.label)")
        if let report {
            try write(table.html, to: report)
            print("HTML report: \(report)")
        }
        if let markdown {
            try write(table.markdown + "\n" + notes.joined(separator: "\n\n") + "\n", to: markdown)
            print("Markdown table: \(markdown)")
        }
        if !noSave {
            let bestFixed = rows.filter { $0.lambda != nil }.max { LambdaTuner.point($0).correctness < LambdaTuner.point($1).correctness }
            // A fixed choice still stores the candidates an explicit `dera ask --lambda auto` will use: a run that
            // kept auto out of the race (--auto-candidates 0) stores the default set, not one lambda.
            let candidates = chosen.lambda != nil && auto.count < 2 ? LambdaSetting.defaultCandidates : auto
            let tuned = TunedLambda(model: model.model, adapter: adapter, setting: chosen.lambda == nil ? .auto : .fixed,
                                    lambda: chosen.lambda ?? bestFixed?.lambda ?? 0, candidates: candidates,
                                    rule: autoRules[chosen.label] ?? .default, questions: name)
            try tuned.save(save)
            print("Saved to \(save): \(tuned.setting.rawValue)\(tuned.setting == .fixed ? " lambda \(formatLambda(tuned.lambda)) (auto candidates \(candidates.map(formatLambda).joined(separator: ",")))" : " over \(auto.map(formatLambda).joined(separator: ","))")")
        }
    }

    /// The row the rule picks among all rows (fixed lambdas and auto), and the Pareto front of the fixed ones.
    static func choose(rows: [TuningRow], records: [TuningRecord], auto: [Float], rule: SelectionRule)
        -> (chosen: TuningRow, front: Set<String>) {
        let fixedRows = rows.filter { $0.lambda != nil }
        let front = Set(ParetoFront.indices(of: fixedRows.map(LambdaTuner.point)).map { fixedRows[$0].label })
        // Auto costs several decodes: on a tie it loses to a fixed lambda (its tie-break lambda is the largest).
        let points = rows.map { row -> OperatingPoint in
            var point = LambdaTuner.point(row)
            if row.lambda == nil { point.lambda = (auto.map(abs).max() ?? 1) + 1 }
            return point
        }
        let index = ParetoFront.choose(points, rule: rule) ?? 0
        return (rows[index], front)
    }

    static func slug(_ text: String) -> String {
        String(text.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }).split(separator: "-").joined(separator: "-")
    }

    func write(_ text: String, to path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

/// `values` without repeats, in first-seen order.
func unique(_ values: [Float]) -> [Float] {
    var seen: Set<Float> = []
    return values.filter { seen.insert($0).inserted }
}

/// Progress on stderr: done/total, rate and time left, redrawn in place.
final class Progress {
    let label: String
    let total: Int
    let start = Date()
    var last = Date.distantPast

    init(label: String, total: Int) {
        self.label = label
        self.total = total
    }

    func update(_ done: Int, _ total: Int) {
        let now = Date()
        guard done == total || now.timeIntervalSince(last) >= 1 else { return }
        last = now
        let elapsed = now.timeIntervalSince(start)
        let rate = Double(done) / max(elapsed, 1e-9)
        let left = rate > 0 ? Double(total - done) / rate : 0
        FileHandle.standardError.write(Data(String(format: "\r%@: %d/%d questions, %.2f s/question, %d:%02d left   ",
                                                   label, done, total, rate > 0 ? 1 / rate : 0, Int(left) / 60,
                                                   Int(left) % 60).utf8))
        if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
