import Foundation
import Testing
@testable import Pipelines

@Suite struct AnswerMetricsTests {
    @Test func normalisationDropsCaseArticlesAndPunctuation() {
        #expect(AnswerMetrics.normalize("The  Eiffel Tower, in Paris!") == "eiffel tower in paris")
        #expect(AnswerMetrics.exactMatch("the Beatles.", "Beatles"))
        #expect(!AnswerMetrics.exactMatch("The Beatles were a band", "Beatles"))
    }

    @Test func containsAnswerNeedsWholeWords() {
        #expect(AnswerMetrics.containsAnswer("It was started by Arthur's Magazine in 1844.", "Arthur's Magazine"))
        #expect(!AnswerMetrics.containsAnswer("Parisian streets", "Paris"))
        #expect(!AnswerMetrics.containsAnswer("anything", ""))
    }

    @Test func tokenF1CountsSharedWords() {
        #expect(AnswerMetrics.tokenF1("Delhi", "Delhi") == 1)
        #expect(AnswerMetrics.tokenF1("head office in Delhi", "Delhi") == 2 * (1.0 / 4) * 1 / (1.0 / 4 + 1))
        #expect(AnswerMetrics.tokenF1("Mumbai", "Delhi") == 0)
    }

    @Test func unsupportedWordsAreContentWordsMissingFromTheContext() {
        let context = "The Oberoi Group is a hotel company with its head office in Delhi."
        #expect(AnswerMetrics.unsupportedWords("The Oberoi Group has its head office in Delhi.", context: context).isEmpty)
        #expect(AnswerMetrics.unsupportedWords("It was founded in Mumbai in 1934.", context: context) == ["founded", "mumbai", "1934"])
        // Inflections of context words count as found.
        #expect(AnswerMetrics.unsupportedWords("The hotels are companies.", context: context).isEmpty)
    }
}

@Suite struct RealignmentEvaluationFileTests {
    func temporary(_ name: String) -> String {
        let dir = NSTemporaryDirectory() + "dera-pipelines-tests-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir + "/" + name
    }

    @Test func anInterruptedAnswerFileResumesFromItsLastWholeLine() throws {
        let path = temporary("answers.jsonl")
        let whole = #"{"row":8000,"system":"reference","text":"Delhi"}"# + "\n"
        try (whole + #"{"row":8000,"sys"#).write(toFile: path, atomically: true, encoding: .utf8)
        let answers = try RealignmentEvaluation.readAnswers(path)
        #expect(answers == [.init(row: 8000, system: "reference", text: "Delhi")])
        #expect(try String(contentsOfFile: path, encoding: .utf8) == whole, "the cut line is removed so appends stay valid")
        try "not json\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: PipelineError.self) { try RealignmentEvaluation.readAnswers(path) }
    }

    @Test func agreementComparesNormalisedAnswersOnCommonRows() {
        let answers: [RealignmentEvaluation.Answer] = [
            .init(row: 1, system: "a", text: "The Beatles."), .init(row: 1, system: "b", text: "beatles"),
            .init(row: 2, system: "a", text: "Paris"), .init(row: 2, system: "b", text: "Lyon"),
            .init(row: 3, system: "a", text: "only a"),
        ]
        let result = RealignmentEvaluation.agreement(answers, "a", "b")
        #expect(result.rows == 2 && result.exact == 0.5 && result.f1 == 0.5)
    }
}
