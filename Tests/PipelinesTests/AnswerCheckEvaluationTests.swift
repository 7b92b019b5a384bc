import Factuality
import Testing
@testable import Pipelines

struct AnswerCheckEvaluationTests {
    static func answer(_ id: String, _ label: String, right: Bool, score: Double, threshold: Double = 0.5) -> CheckedAnswer {
        CheckedAnswer(id: id, label: label, answer: "answer \(id)", right: right, score: score,
                      flagged: score < threshold, verdict: score < threshold ? .hallucinated : .supported,
                      verdictLogOdds: nil, features: [[1, 1, 0, 0, 1, 0, 0, score]])
    }

    /// Rates, AUC and the missed wrong answers per setting, in the order settings first appear.
    @Test func rowsPerSetting() throws {
        let checked = [
            Self.answer("q1", "lambda 0", right: true, score: 0.9), Self.answer("q2", "lambda 0", right: true, score: 0.4),
            Self.answer("q3", "lambda 0", right: false, score: 0.2), Self.answer("q4", "lambda 0", right: false, score: 0.7),
            Self.answer("q1", "lambda 1", right: false, score: 0.1), Self.answer("q2", "lambda 1", right: true, score: 0.8),
        ]
        let rows = AnswerCheckEvaluation.rows(checked, threshold: 0.5)
        #expect(rows.map(\.label) == ["lambda 0", "lambda 1"])
        let first = rows[0]
        #expect(first.answers == 4 && first.right == 2 && first.wrong == 2)
        #expect(first.flaggedRight == 0.5 && first.flaggedWrong == 0.5)
        #expect(first.missedWrong == ["q4: answer q4"])
        // Pairs (right, wrong): (0.9, 0.2) (0.9, 0.7) (0.4, 0.2) won, (0.4, 0.7) lost: 3 of 4.
        #expect(abs(first.rocAUC - 0.75) < 1e-12)
        #expect(rows[1].flaggedWrong == 1 && rows[1].flaggedRight == 0 && rows[1].rocAUC == 1)
    }

    /// A checked answer becomes a fitting example: its label is the variant, its claims the recorded features.
    @Test func checkedAnswerIsAFittingExample() {
        let example = Self.answer("wiki-042", "lambda 1", right: true, score: 0.8).example
        #expect(example.row == 42 && example.variant == "lambda 1" && example.supported)
        #expect(example.claims.count == 1 && example.claims[0].count == CheckerFeature.allCases.count)
        #expect(example.words == 2)
    }
}
