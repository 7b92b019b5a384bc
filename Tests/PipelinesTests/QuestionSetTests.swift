import Foundation
import Testing
@testable import Pipelines

/// The committed out-of-distribution question set (corpora/questions/wikipedia-ood.jsonl) against the corpus it
/// was written over: every gold answer is in its article word for word, and the splits have their sizes.
@Suite struct QuestionSetTests {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()
    static let corpus = root + "/data/wikipedia/summaries_en-us.jsonl"
    static var corpusAvailable: Bool {
        FileManager.default.fileExists(atPath: corpus) || ProcessInfo.processInfo.environment["CI"] != nil
    }

    struct Row: Decodable {
        var id: String
        var title: String
        var answers: [String]
        var question: String
    }

    @Test func splitsHaveTheirSizes() throws {
        let path = Self.root + "/corpora/questions/wikipedia-ood.jsonl"
        #expect(try TuningQuestion.load(path, split: "test").count == 200)
        #expect(try TuningQuestion.load(path, split: "dev").count >= 40)
        #expect(try TuningQuestion.load(path).allSatisfy { !($0.answers ?? []).isEmpty })
    }

    @Test(.enabled(if: corpusAvailable, "needs data/wikipedia (corpora/fetch.sh)"))
    func everyGoldAnswerStandsInItsArticle() throws {
        let path = Self.root + "/corpora/questions/wikipedia-ood.jsonl"
        let rows = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try JSONDecoder().decode(Row.self, from: Data($0.utf8))
        }
        var extracts: [String: String] = [:]
        for line in try String(contentsOfFile: Self.corpus, encoding: .utf8).split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            extracts[object["title"] as! String] = object["extract"] as? String
        }
        for row in rows {
            let extract = try #require(extracts[row.title], "\(row.id): no article '\(row.title)'")
            for answer in row.answers {
                #expect(extract.contains(answer), "\(row.id): '\(answer)' is not in '\(row.title)'")
                #expect(!row.question.contains(answer), "\(row.id): the question gives the answer away")
            }
        }
    }
}
