import Control
import Factuality
import Foundation
import Realign
import Retrieval

/// A question of a tuning or evaluation set: `{"id", "question", "answers": [...], "split"}` per JSON line
/// (corpora/questions/ format); `answers` may be absent when only the checker judges.
public struct TuningQuestion: Sendable, Codable, Hashable {
    public var id: String
    public var question: String
    public var answers: [String]?
    public var split: String?

    public init(id: String, question: String, answers: [String]?, split: String? = nil) {
        self.id = id
        self.question = question
        self.answers = answers
        self.split = split
    }

    /// Reads a question file, keeping the rows of `split` when given.
    /// - Throws: ``PipelineError/badRow(path:line:reason:)`` naming the line and field at fault.
    public static func load(_ path: String, split: String? = nil) throws -> [TuningQuestion] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PipelineError.badRow(path: path, line: 0, reason: "cannot read the question file")
        }
        var questions: [TuningQuestion] = []
        var seen: Set<String> = []
        for (n, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated()
        where !line.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) {
            let question: TuningQuestion
            do { question = try JSONDecoder().decode(TuningQuestion.self, from: Data(line)) } catch {
                throw PipelineError.badRow(path: path, line: n + 1,
                                           reason: "expected {\"id\", \"question\", \"answers\"?}: \(error)")
            }
            guard !question.question.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw PipelineError.badRow(path: path, line: n + 1, reason: "field 'question' is empty")
            }
            guard seen.insert(question.id).inserted else {
                throw PipelineError.badRow(path: path, line: n + 1, reason: "id '\(question.id)' appears twice")
            }
            if split == nil || question.split == split { questions.append(question) }
        }
        return questions
    }

    /// HaluEval QA rows as questions, the right answer as gold.
    public static func haluEval(_ rows: [HaluEvalRow]) -> [TuningQuestion] {
        rows.map { TuningQuestion(id: "halueval-\($0.index)", question: $0.question ?? "", answers: [$0.faithful]) }
    }
}

/// One candidate's answer to one question, scored: a line of the tuning record file.
public struct TuningRecord: Sendable, Codable, Hashable {
    public var id: String
    public var label: String
    public var lambda: Float
    public var answer: String
    public var tokens: Int
    /// Wall time of decoding the question's whole batch (all its candidates together), and their tokens.
    public var batchSeconds: Double
    /// The generation part of `batchSeconds` (after the prefill); nil in records written before it was kept.
    public var batchGenerationSeconds: Double?
    public var batchTokens: Int
    public var correctness: Double
    public var flagged: Bool
    public var naturalness: NaturalnessReport
    /// Content words (numbers included) found neither in the passages nor in the question.
    public var unsupportedWords: [String]
    /// Contains a gold answer (nil without gold).
    public var right: Bool?
    /// A gold answer appears in the retrieved passages (nil without gold).
    public var goldRetrieved: Bool?

    /// The records in a `dera tune` records file.
    /// - Throws: ``PipelineError/missingFile(path:hint:)``, or ``PipelineError/badRow(path:line:reason:)`` naming
    ///   the line that is not a record.
    public static func load(_ path: String) throws -> [TuningRecord] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw PipelineError.missingFile(path: path, hint: "`dera tune --records` writes it")
        }
        return try JSONLRecords.read(TuningRecord.self, from: path, what: "a tuning record")
    }
}

/// One row of the tuning table: a fixed lambda or a rule choosing per question.
public struct TuningRow: Sendable, Codable, Hashable {
    public var label: String
    public var lambda: Float?
    public var questions: Int
    public var accuracy: Double?
    public var right: Int?
    public var correctness: Double
    public var flaggedRate: Double
    public var unsupportedRate: Double
    public var naturalness: Double
    public var degenerateRate: Double
    public var medianWords: Double
    /// Generation throughput of the batches (prefill excluded where the records keep it).
    public var tokensPerSecond: Double
    /// Mean wall time of a question's whole batch: prefill and generation of every setting decoded together.
    public var secondsPerQuestion: Double
    /// For rules: how often each candidate was chosen.
    public var choices: [String: Int]?
    /// The checker's flag rate among right answers and among wrong ones (nil without gold).
    public var flaggedWhenRight: Double?
    public var flaggedWhenWrong: Double?
}

/// `dera tune`: sweeps lambda candidates over a question set with real retrieval, scores every answer for
/// correctness (gold where given, the checker always) and naturalness, and derives the table, the Pareto front
/// and the choice.
///
/// All candidates of a question decode in one batch from one prefill. Records are appended per question to a
/// JSONL file, so an interrupted run resumes where it stopped.
public struct LambdaTuner {
    public var answerer: GroundedAnswerer
    public var check: SelfCheck

    public init(answerer: GroundedAnswerer, check: SelfCheck) {
        self.answerer = answerer
        self.check = check
    }

    /// Decodes and scores every candidate lambda on every question not yet in `output`.
    /// - Parameter progress: called after each question with the questions done and the total.
    public func run(questions: [TuningQuestion], lambdas: [Float], output: String,
                    progress: (Int, Int) -> Void = { _, _ in }) throws -> [TuningRecord] {
        try run(questions: questions, policies: lambdas.map { .fixed($0) }, output: output, progress: progress)
    }

    /// Decodes and scores every candidate policy (fixed lambdas and adaptive ones, each labelled as
    /// ``LambdaSetting/label(_:)`` names it) on every question not yet in `output`.
    public func run(questions: [TuningQuestion], policies: [LambdaPolicy], output: String,
                    progress: (Int, Int) -> Void = { _, _ in }) throws -> [TuningRecord] {
        var records = try JSONLRecords.read(TuningRecord.self, from: output, what: "a tuning record")
        let labels = policies.map(LambdaSetting.label)
        var done: Set<String> = Set(records.map { $0.id + "\t" + $0.label })
        let handle = try JSONLRecords.openForAppending(output)
        defer { try? handle.close() }
        for (n, question) in questions.enumerated() {
            let missing = policies.indices.filter { !done.contains(question.id + "\t" + labels[$0]) }
            if !missing.isEmpty {
                let fresh = try answer(question, policies: missing.map { policies[$0] })
                try JSONLRecords.append(fresh, to: handle)
                records += fresh
                for record in fresh { done.insert(record.id + "\t" + record.label) }
            }
            progress(n + 1, questions.count)
        }
        let wanted = Set(questions.map(\.id))
        return records.filter { wanted.contains($0.id) && labels.contains($0.label) }
    }

    /// Checks the stored answers again with this tuner's checker (the same retrieval gives the same passages),
    /// keeping their text, tokens, timings and naturalness, and rewrites `output` atomically. For when the checker
    /// changed after the answers were decoded.
    public func rescore(questions: [TuningQuestion], output: String, progress: (Int, Int) -> Void = { _, _ in })
        throws -> [TuningRecord] {
        var records = try JSONLRecords.read(TuningRecord.self, from: output, what: "a tuning record")
        let byID = Dictionary(grouping: records.indices, by: { records[$0].id })
        for (n, question) in questions.enumerated() {
            if let indices = byID[question.id] {
                let passages = answerer.checkerPassages(try answerer.retrieve(question.question))
                let reports = try check.checker.check(answers: indices.map { records[$0].answer }, passages: passages,
                                                      question: question.question)
                for (i, report) in zip(indices, reports) {
                    records[i].correctness = Candidate.correctness(of: report)
                    records[i].flagged = report.hallucinated
                }
            }
            progress(n + 1, questions.count)
        }
        try JSONLRecords.replace(output, with: records)
        let wanted = Set(questions.map(\.id))
        return records.filter { wanted.contains($0.id) }
    }

    public static func label(_ lambda: Float) -> String { LambdaSetting.label(.fixed(lambda)) }

    /// Scores of `lambdas` on one question (one retrieval, one batch).
    func answer(_ question: TuningQuestion, policies: [LambdaPolicy]) throws -> [TuningRecord] {
        let hits = try answerer.retrieve(question.question)
        let ids = try answerer.prompt(question: question.question, hits: hits)
        let start = Date()
        let (outputs, tokensPerSecond) = try answerer.decode(prompt: ids, policies: policies)
        let seconds = Date().timeIntervalSince(start)
        let passages = answerer.checkerPassages(hits)
        let scored = try answerer.score(outputs, question: question.question, passages: passages, check: check)
        let context = passages.map(\.text).joined(separator: "\n") + "\n" + question.question
        let gold = question.answers.map { $0.map(Self.plainSpaces) }
        let goldRetrieved = gold.map { answers in answers.contains { a in passages.contains { Self.plainSpaces($0.text).contains(a) } } }
        let batchTokens = outputs.reduce(0) { $0 + $1.tokens.count }
        return outputs.indices.map { i in
            let (candidate, report) = scored[i]
            return TuningRecord(
                id: question.id, label: candidate.label, lambda: candidate.lambda, answer: candidate.text,
                tokens: candidate.tokens, batchSeconds: seconds,
                batchGenerationSeconds: tokensPerSecond > 0 ? Double(batchTokens) / tokensPerSecond : nil,
                batchTokens: batchTokens,
                correctness: candidate.correctness, flagged: report.hallucinated, naturalness: candidate.naturalness,
                unsupportedWords: AnswerMetrics.unsupportedWords(candidate.text, context: context),
                right: gold.map { answers in answers.contains { AnswerMetrics.containsAnswer(Self.plainSpaces(candidate.text), $0) } },
                goldRetrieved: goldRetrieved)
        }
    }

    /// No-break and other Unicode spaces as plain spaces, so "2,140 km" matches either way.
    static func plainSpaces(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map {
            $0.properties.isWhitespace && $0 != "\n" ? " " : $0
        }))
    }

    // MARK: - The table

    /// One row per lambda, in the order given.
    public static func rows(_ records: [TuningRecord], lambdas: [Float]) -> [TuningRow] {
        lambdas.compactMap { lambda in
            let chosen = records.filter { $0.label == label(lambda) }
            return chosen.isEmpty ? nil : row(label: label(lambda), lambda: lambda, chosen, choices: nil)
        }
    }

    /// One row per adaptive policy (its mean lambda shown in the label; not a point on the lambda axis).
    public static func rows(_ records: [TuningRecord], policies: [LambdaPolicy]) -> [TuningRow] {
        policies.filter { $0.fixedLambda == nil }.compactMap { policy in
            let label = LambdaSetting.label(policy)
            let chosen = records.filter { $0.label == label }
            guard !chosen.isEmpty else { return nil }
            let mean = chosen.reduce(0.0) { $0 + Double($1.lambda) } / Double(chosen.count)
            return row(label: label + String(format: " (mean lambda %.2f)", mean), lambda: nil, chosen, choices: nil)
        }
    }

    /// The row of a rule that picks one candidate per question among `lambdas` (what `--lambda auto` does).
    public static func autoRow(_ records: [TuningRecord], lambdas: [Float], rule: SelectionRule) -> TuningRow? {
        let labels = Set(lambdas.map(label))
        let byQuestion = Dictionary(grouping: records.filter { labels.contains($0.label) }, by: \.id)
        var chosen: [TuningRecord] = []
        var counts: [String: Int] = [:]
        for id in byQuestion.keys.sorted() {
            // Candidates in lambda order, so ties resolve as a live auto run would.
            let group = byQuestion[id]!.sorted { $0.lambda < $1.lambda }
            guard group.count == labels.count else { continue }
            let candidates = group.map {
                Candidate(label: $0.label, lambda: $0.lambda, text: $0.answer, correctness: $0.correctness,
                          naturalness: $0.naturalness, tokens: $0.tokens)
            }
            guard let pick = rule.choose(candidates) else { continue }
            chosen.append(group[pick])
            counts[group[pick].label, default: 0] += 1
        }
        guard !chosen.isEmpty else { return nil }
        return row(label: "auto {\(lambdas.map(formatLambda).joined(separator: ","))} \(rule)", lambda: nil, chosen,
                   choices: counts)
    }

    static func row(label: String, lambda: Float?, _ records: [TuningRecord], choices: [String: Int]?) -> TuningRow {
        let n = Double(records.count)
        func mean(_ value: (TuningRecord) -> Double) -> Double { records.reduce(0) { $0 + value($1) } / n }
        let judged = records.filter { $0.right != nil }
        let right = judged.filter { $0.right == true }, wrong = judged.filter { $0.right == false }
        func flagRate(_ group: [TuningRecord]) -> Double? {
            group.isEmpty ? nil : Double(group.filter(\.flagged).count) / Double(group.count)
        }
        let words = records.map { Double($0.naturalness.words) }.sorted()
        let middle = words.count / 2
        let median = words.isEmpty ? 0 : words.count % 2 == 1 ? words[middle] : (words[middle - 1] + words[middle]) / 2
        // Throughput of the batches these answers came from: tokens over wall time, each batch counted once.
        var batches: [String: (Double, Int, Double)] = [:]
        for record in records {
            batches[record.id] = (record.batchGenerationSeconds ?? record.batchSeconds, record.batchTokens, record.batchSeconds)
        }
        let seconds = batches.values.reduce(0) { $0 + $1.0 }, tokens = batches.values.reduce(0) { $0 + $1.1 }
        let wall = batches.values.reduce(0) { $0 + $1.2 }
        return TuningRow(
            label: label, lambda: lambda, questions: records.count,
            accuracy: judged.isEmpty ? nil : Double(right.count) / Double(judged.count),
            right: judged.isEmpty ? nil : right.count,
            correctness: mean(\.correctness), flaggedRate: mean { $0.flagged ? 1 : 0 },
            unsupportedRate: mean { $0.unsupportedWords.isEmpty ? 0 : 1 }, naturalness: mean(\.naturalness.score),
            degenerateRate: mean { $0.naturalness.isDegenerate ? 1 : 0 }, medianWords: median,
            tokensPerSecond: seconds > 0 ? Double(tokens) / seconds : 0,
            secondsPerQuestion: batches.isEmpty ? 0 : wall / Double(batches.count), choices: choices,
            flaggedWhenRight: flagRate(right), flaggedWhenWrong: flagRate(wrong))
    }

    /// The operating point of a row: correctness is gold accuracy where the set has gold, else the checker's mean.
    public static func point(_ row: TuningRow) -> OperatingPoint {
        OperatingPoint(label: row.label, lambda: row.lambda ?? .nan, correctness: row.accuracy ?? row.correctness,
                       naturalness: row.naturalness)
    }

    /// Lambdas halfway between the chosen grid point and its neighbours, to refine the choice.
    public static func refinement(around chosen: Float, grid: [Float]) -> [Float] {
        let sorted = Array(Set(grid)).sorted()
        guard let i = sorted.firstIndex(of: chosen) else { return [] }
        var result: [Float] = []
        if i > 0 { result.append((sorted[i - 1] + chosen) / 2) }
        if i + 1 < sorted.count { result.append((chosen + sorted[i + 1]) / 2) }
        return result.filter { !sorted.contains($0) }
    }
}
