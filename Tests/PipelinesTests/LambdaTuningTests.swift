import Control
import Factuality
import Inference
import Realign
import Foundation
import Testing
@testable import Pipelines

private func record(_ id: String, _ lambda: Float, right: Bool, correctness: Double, naturalness: Double,
                    words: Int = 6, flagged: Bool = false, unsupported: [String] = [],
                    flags: [DegeneracyFlag] = []) -> TuningRecord {
    TuningRecord(id: id, label: LambdaTuner.label(lambda), lambda: lambda, answer: "a", tokens: words, batchSeconds: 2, batchGenerationSeconds: nil,
                 batchTokens: 20, correctness: correctness, flagged: flagged,
                 naturalness: NaturalnessReport(fluency: nil, flags: flags, words: words, lengthFit: 1, score: naturalness),
                 unsupportedWords: unsupported, right: right, goldRetrieved: true)
}

@Suite struct LambdaTuningTests {
    /// Two questions; lambda 1 is more "correct" by the checker on q1 only.
    let records = [
        record("q1", 0, right: false, correctness: 0.3, naturalness: 0.8, flagged: true, unsupported: ["1987"]),
        record("q1", 0.5, right: true, correctness: 0.6, naturalness: 0.6),
        record("q1", 1, right: true, correctness: 0.9, naturalness: 0.2, words: 2),
        record("q2", 0, right: true, correctness: 0.7, naturalness: 0.7),
        record("q2", 0.5, right: true, correctness: 0.7, naturalness: 0.5),
        record("q2", 1, right: false, correctness: 0.95, naturalness: 0, words: 1, flags: [.listDebris]),
    ]

    @Test func rowsAggregatePerLambda() throws {
        let rows = LambdaTuner.rows(records, lambdas: [0, 0.5, 1])
        #expect(rows.map(\.label) == ["lambda 0", "lambda 0.5", "lambda 1"])
        let zero = rows[0]
        #expect(zero.right == 1 && zero.accuracy == 0.5)
        #expect(abs(zero.correctness - 0.5) < 1e-12)
        #expect(zero.unsupportedRate == 0.5 && zero.flaggedRate == 0.5)
        #expect(zero.flaggedWhenRight == 0 && zero.flaggedWhenWrong == 1)
        #expect(zero.tokensPerSecond == 10 && zero.secondsPerQuestion == 2)   // 20 tokens in 2 s per batch
        #expect(rows[2].degenerateRate == 0.5 && rows[2].medianWords == 1.5)
        #expect(rows[1].accuracy == 1)
    }

    @Test func autoRowAppliesTheRulePerQuestion() throws {
        let auto = try #require(LambdaTuner.autoRow(records, lambdas: [0, 0.5, 1], rule: .default))
        // q1: lambda 1 (0.9); q2: lambda 1 is degenerate, 0 and 0.5 tie at 0.7, the more natural (0) wins.
        #expect(auto.choices == ["lambda 1": 1, "lambda 0": 1])
        #expect(auto.right == 2 && auto.accuracy == 1)
        // A rule that prefers naturalness once correctness reaches 0.5.
        let natural = try #require(LambdaTuner.autoRow(records, lambdas: [0, 0.5, 1], rule: .naturalAtLeast(target: 0.5)))
        #expect(natural.choices == ["lambda 0.5": 1, "lambda 0": 1])
        // Questions missing a candidate are left out rather than judged on fewer candidates.
        let partial = Array(records.dropLast())
        #expect(LambdaTuner.autoRow(partial, lambdas: [0, 0.5, 1], rule: .default)?.questions == 1)
    }

    @Test func refinementTriesHalfwayPoints() {
        #expect(LambdaTuner.refinement(around: 0.5, grid: [0, 0.25, 0.5, 1, 2]) == [0.375, 0.75])
        #expect(LambdaTuner.refinement(around: 0, grid: [0, 0.5, 1]) == [0.25])
        #expect(LambdaTuner.refinement(around: 2, grid: [0, 1, 2]) == [1.5])
        #expect(LambdaTuner.refinement(around: 0.3, grid: [0, 1]) == [])
    }

    @Test func questionFilesAreCheckedLineByLine() throws {
        let dir = NSTemporaryDirectory() + "dera-questions-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let good = dir + "/good.jsonl"
        try Data("""
            {"id": "a", "question": "Who?", "answers": ["X"], "split": "test"}

            {"id": "b", "question": "When?", "split": "dev"}
            """.utf8).write(to: URL(fileURLWithPath: good))
        #expect(try TuningQuestion.load(good).map(\.id) == ["a", "b"])
        #expect(try TuningQuestion.load(good, split: "dev").map(\.id) == ["b"])
        #expect(try TuningQuestion.load(good, split: "dev")[0].answers == nil)
        let bad = dir + "/bad.jsonl"
        try Data("{\"id\": \"a\", \"question\": \"Who?\"}\n{\"id\": \"a\", \"question\": \"Again?\"}\n".utf8)
            .write(to: URL(fileURLWithPath: bad))
        #expect(throws: PipelineError.badRow(path: bad, line: 2, reason: "id 'a' appears twice")) {
            try TuningQuestion.load(bad)
        }
        try Data("{\"id\": \"a\"}\n".utf8).write(to: URL(fileURLWithPath: bad))
        #expect { try TuningQuestion.load(bad) } throws: { error in
            guard case let PipelineError.badRow(path, line, _) = error else { return false }
            return path == bad && line == 1
        }
    }

    @Test func reportsRenderTheTableAndChart() {
        let rows = LambdaTuner.rows(records, lambdas: [0, 0.5, 1])
            + [LambdaTuner.autoRow(records, lambdas: [0, 0.5, 1], rule: .default)!]
        let report = TuningReport(title: "t <1>", rows: rows, front: ["lambda 0.5"], chosen: "lambda 0.5", rule: .default)
        #expect(report.markdown.contains("| lambda 0.5 (front) **chosen** | 2/2 | 100.0% |"))
        #expect(report.html.contains("<title>t &lt;1&gt;</title>"))
        #expect(report.svg.hasPrefix("<svg") && report.svg.contains("chosen") && report.svg.contains("stroke-dasharray"))
        #expect(report.plainText.split(separator: "\n").count == rows.count + 1)
    }
}

extension GroundedAnswererTests {
    /// A real sweep on the small store: records per question and lambda, a re-run decodes nothing, an interrupted
    /// last line is dropped, and --rescore brings back the checker's scores without decoding.
    @Test(.enabled(if: modelAvailable, "needs models/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/setup)"))
    func tuneRecordsResumeAndRescore() throws {
        let (answerer, _, _) = try Self.answerer(maxTokens: 24, adapter: true)
        let calibration = try CheckerCalibration.load(Self.root + "/" + CheckerCalibration.defaultPath)
        let tuner = LambdaTuner(answerer: answerer, check: SelfCheck(
            checker: try FactualityChecker(profile: calibration.profile("general", path: "calibration"))))
        let questions = [TuningQuestion(id: "k", question: "Which country is Mount Kilimanjaro in?", answers: ["Tanzania"]),
                         TuningQuestion(id: "b", question: "Which lake is the deepest in the world?", answers: ["Lake Baikal", "Baikal"])]
        let output = NSTemporaryDirectory() + "dera-tune-\(UUID().uuidString).jsonl"
        let first = try tuner.run(questions: questions, lambdas: [0, 1], output: output)
        #expect(first.count == 4 && Set(first.map(\.label)) == ["lambda 0", "lambda 1"])
        #expect(first.allSatisfy { $0.goldRetrieved == true })

        // A kill in the middle of a line: the partial line goes, the question it belonged to is decoded again.
        var text = try String(contentsOfFile: output, encoding: .utf8)
        text.removeLast(20)
        try text.write(toFile: output, atomically: true, encoding: .utf8)
        let resumed = try tuner.run(questions: questions, lambdas: [0, 1], output: output)
        #expect(resumed.count == 4)
        #expect(Set(resumed.map { "\($0.id) \($0.label) \($0.answer)" }) == Set(first.map { "\($0.id) \($0.label) \($0.answer)" }))

        // Scores overwritten by hand come back from the checker; nothing else changes.
        let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").map { line -> String in
            var record = try JSONDecoder().decode(TuningRecord.self, from: Data(line.utf8))
            record.correctness = -1
            return String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: output, atomically: true, encoding: .utf8)
        let rescored = try tuner.rescore(questions: questions, output: output)
        let key = { (r: TuningRecord) in "\(r.id) \(r.label)" }
        let original = Dictionary(uniqueKeysWithValues: first.map { (key($0), $0) })
        for record in rescored {
            #expect(record.correctness == original[key(record)]!.correctness)
            #expect(record.answer == original[key(record)]!.answer && record.naturalness == original[key(record)]!.naturalness)
        }
    }
}
