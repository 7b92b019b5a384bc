import Foundation
import Testing
@testable import Retrieval

struct RetrievalEvaluationTests {
    /// Documents that each hold one rare made-up word, and questions that ask for it.
    func cases(_ count: Int) -> [EvaluationCase] {
        (0..<count).map { index in
            let code = "zq\(String(index, radix: 36))x"
            return EvaluationCase(text: "The archive entry \(code) describes an ordinary item number \(index).",
                                  question: "What does entry \(code) describe?")
        }
    }

    @Test func findsEveryOwnDocumentAndMeasuresLatency() throws {
        let store = try PassageStore.inMemory()
        let report = try RetrievalEvaluation(store: store, sampleSize: 30).run(cases(80))
        #expect(report.cases == 80)
        #expect(report.questions == 30)
        #expect(report.recall[1] == 1.0)
        #expect(report.recall[10] == 1.0)
        #expect(report.meanReciprocalRank == 1.0)
        #expect(report.latencyMilliseconds.p50 > 0)
        #expect(report.latencyMilliseconds.p95 >= report.latencyMilliseconds.p50)
        #expect(report.ingest.added == 80)
    }

    @Test func unanswerableQuestionsLowerRecall() throws {
        var items = cases(20)
        for index in 0..<10 { items[index].question = "completely unrelated words about nothing" }
        let report = try RetrievalEvaluation(store: try PassageStore.inMemory(), sampleSize: 20).run(items)
        #expect(report.recall[10] == 0.5)
    }

    @Test func duplicateTextsCountEitherCopy() throws {
        let shared = "Shared knowledge about the quokka of Rottnest Island."
        let items = [EvaluationCase(text: shared, question: "quokka Rottnest"),
                     EvaluationCase(text: shared, question: "quokka island Rottnest")]
        let report = try RetrievalEvaluation(store: try PassageStore.inMemory(), sampleSize: 2).run(items)
        #expect(report.recall[1] == 1.0)
    }

    @Test func secondRunReusesTheIndex() throws {
        let store = try PassageStore.inMemory()
        _ = try RetrievalEvaluation(store: store, sampleSize: 5).run(cases(15))
        let again = try RetrievalEvaluation(store: store, sampleSize: 5).run(cases(12))
        #expect(again.ingest.unchanged == 12)
        #expect(again.ingest.deleted == 3)
        #expect(again.store.documents == 12)
    }

    @Test func sampleIsSeededSortedAndWithoutRepeats() {
        let items = Array(0..<10_000)
        let first = RetrievalEvaluation.sample(items, count: 2_000, seed: 42)
        #expect(first == RetrievalEvaluation.sample(items, count: 2_000, seed: 42))
        #expect(first != RetrievalEvaluation.sample(items, count: 2_000, seed: 43))
        #expect(first.count == 2_000)
        #expect(Set(first).count == 2_000)
        #expect(first == first.sorted())
        #expect(RetrievalEvaluation.sample(items, count: 20_000, seed: 1) == items)
    }

    @Test func loadsCasesAndNamesMissingFields() throws {
        let folder = try Fixtures.temporaryFolder()
        let good = try Fixtures.write(#"{"knowledge": "K1", "question": "Q1", "right_answer": "A"}"# + "\n", to: folder, "qa.jsonl")
        #expect(try EvaluationCase.load(jsonl: good.path) == [EvaluationCase(text: "K1", question: "Q1")])
        let bad = try Fixtures.write(#"{"knowledge": "K1"}"# + "\n", to: folder, "bad.jsonl")
        #expect {
            try EvaluationCase.load(jsonl: bad.path)
        } throws: { error in
            (error as? DocumentReadError)?.field == "question"
        }
    }

    @Test func latencyPercentilesUseNearestRank() {
        let summary = LatencySummary(sorted: (1...100).map(Double.init))
        #expect(summary.p50 == 50)
        #expect(summary.p95 == 95)
        #expect(summary.max == 100)
        #expect(summary.mean == 50.5)
        #expect(LatencySummary(sorted: []).p50 == 0)
    }
}

struct RecallTableTests {
    @Test func encodesAsAnObjectKeyedByK() throws {
        let table = RecallTable([1: 0.5, 10: 0.75])
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(table), as: UTF8.self)
        #expect(json == #"{"1":0.5,"10":0.75}"#)
        #expect(try JSONDecoder().decode(RecallTable.self, from: Data(json.utf8)) == table)
        #expect(table.cutoffs == [1, 10])
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(RecallTable.self, from: Data(#"{"one": 1}"#.utf8))
        }
    }
}
