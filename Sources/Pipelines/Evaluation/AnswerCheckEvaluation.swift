import Factuality
import Foundation
import Retrieval

/// One stored answer checked again: what the checker said, beside whether the answer was right.
public struct CheckedAnswer: Sendable, Codable, Hashable {
    public var id: String
    /// The setting that produced the answer ("lambda 0", ...).
    public var label: String
    public var answer: String
    /// The answer contains a gold answer.
    public var right: Bool
    /// The checker's answer score (``FactualityReport/rankingScore``).
    public var score: Double
    public var flagged: Bool
    public var verdict: AnswerVerdict
    /// The lowest verdict log-odds over the answer's claims, when the verdict model ran.
    public var verdictLogOdds: Double?
    /// One ``CheckerFeature/allCases`` vector per checkable claim: what a calibration is fitted on.
    public var features: [[Double]]?

    /// The answer as a fitting example (``CheckerEvaluation/fit(_:previous:)``): its setting label as the variant.
    public var example: MeasuredExample {
        MeasuredExample(task: .qa, row: Int(id.filter(\.isNumber)) ?? 0, variant: label, supported: right,
                        words: answer.split(whereSeparator: \.isWhitespace).count, claims: features ?? [])
    }
}

/// How the checker did on one setting's answers.
public struct AnswerCheckRow: Sendable, Codable, Hashable {
    public var label: String
    public var answers: Int
    public var right: Int
    public var wrong: Int
    /// Share of right answers the checker flags (false alarms).
    public var flaggedRight: Double
    /// Share of wrong answers the checker flags (catches).
    public var flaggedWrong: Double
    /// Wrong answers the checker calls supported: named so a person can see whether the passages hold them.
    public var missedWrong: [String]
    /// ROC-AUC of the answer score for right against wrong answers.
    public var rocAUC: Double
    public var balancedAccuracy: Double
}

/// The checker on answers the pipeline itself gave: stored `dera tune` records (answer, right or wrong by the gold
/// answer) checked against the passages they were generated from (the same retrieval, the same cut). Answers to
/// questions the retrieval did not feed the gold article count like the others: the checker must flag an answer
/// the passages do not hold, whatever the reason.
public struct AnswerCheckEvaluation: Sendable {
    public var store: PassageStore
    public var checker: FactualityChecker
    /// Passages per question and characters per passage, as the answers were generated with.
    public var passageCount = 3
    public var passageCharacters = 600

    public init(store: PassageStore, checker: FactualityChecker) {
        self.store = store
        self.checker = checker
    }

    /// Checks the records of `questions` (those with a right/wrong label and a label in `labels`, all when nil),
    /// one question at a time, all its answers in one call; results already in `output` are kept and skipped, new
    /// ones appended, so an interrupted run resumes.
    public func run(records: [TuningRecord], questions: [TuningQuestion], labels: Set<String>?, output: String,
                    progress: (Int, Int) -> Void = { _, _ in }) throws -> [CheckedAnswer] {
        var done = try JSONLRecords.read(CheckedAnswer.self, from: output, what: "a checked answer")
        let finished = Set(done.map(\.id))
        let byID = Dictionary(grouping: records.filter { $0.right != nil && (labels?.contains($0.label) ?? true) },
                              by: \.id)
        let handle = try JSONLRecords.openForAppending(output)
        defer { try? handle.close() }
        for (n, question) in questions.enumerated() {
            defer { progress(n + 1, questions.count) }
            guard !finished.contains(question.id), let answers = byID[question.id] else { continue }
            let hits = try store.search(question.question, options: SearchOptions(limit: passageCount))
            let passages = GroundedAnswerer.checkerPassages(hits, characters: passageCharacters)
            let reports = try checker.check(answers: answers.map(\.answer), passages: passages,
                                            question: question.question)
            let checked = zip(answers, reports).map { record, report in
                CheckedAnswer(id: record.id, label: record.label, answer: record.answer, right: record.right!,
                              score: report.rankingScore, flagged: report.hallucinated, verdict: report.verdict,
                              verdictLogOdds: report.claims.compactMap { $0.verdict?.logOdds }.min(),
                              features: report.claims.filter { $0.label != .unverifiable }.map { claim in
                                  CheckerFeature.vector(claim.lexical, claim.grounding, claim.verdict)
                              })
            }
            try JSONLRecords.append(checked, to: handle)
            done += checked
        }
        let wanted = Set(questions.map(\.id))
        return done.filter { wanted.contains($0.id) }
    }

    /// The answers scored again from their recorded features with another calibrated model (same signals, other
    /// weights and threshold): no model runs. Answers without recorded features keep their scores.
    public static func rescored(_ checked: [CheckedAnswer], with model: LogisticModel) -> [CheckedAnswer] {
        checked.map { answer in
            guard let features = answer.features else { return answer }
            var copy = answer
            copy.score = CheckerEvaluation.answerScore(claims: features, model: model)
            copy.flagged = !features.isEmpty && copy.score < model.threshold
            copy.verdict = features.isEmpty ? .noCheckableClaim : copy.flagged ? .hallucinated : .supported
            return copy
        }
    }

    /// One row per setting label, in the order the labels first appear.
    public static func rows(_ checked: [CheckedAnswer], threshold: Double) -> [AnswerCheckRow] {
        var order: [String] = []
        for answer in checked where !order.contains(answer.label) { order.append(answer.label) }
        return order.map { label in
            let group = checked.filter { $0.label == label }
            let right = group.filter(\.right), wrong = group.filter { !$0.right }
            func rate(_ items: [CheckedAnswer]) -> Double {
                items.isEmpty ? .nan : Double(items.filter(\.flagged).count) / Double(items.count)
            }
            let scores = group.map(\.score), labels = group.map(\.right)
            return AnswerCheckRow(
                label: label, answers: group.count, right: right.count, wrong: wrong.count,
                flaggedRight: rate(right), flaggedWrong: rate(wrong),
                missedWrong: wrong.filter { !$0.flagged }.map { "\($0.id): \($0.answer)" },
                rocAUC: BinaryMetrics.rocAUC(scores: scores, labels: labels),
                balancedAccuracy: BinaryMetrics.balancedAccuracy(scores: scores, labels: labels, threshold: threshold))
        }
    }
}
