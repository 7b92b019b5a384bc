import Foundation
import Testing
@testable import Factuality

/// The repository root, for the committed calibration and the model.
enum Paths {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()
    static let calibration = root + "/" + CheckerCalibration.defaultPath
    static let smolLM2 = root + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
}

/// Hand-written answers against one passage: each kind of error must score below a faithful paraphrase.
struct CheckerCaseTests {
    static let passages = [
        Passage(id: "curie", text: """
            Marie Curie was born in Warsaw in 1867. She moved to Paris in 1891 to study physics. She won the Nobel \
            Prize in Physics in 1903 and the Nobel Prize in Chemistry in 1911. She was the first woman to win a \
            Nobel Prize.
            """),
        Passage(id: "warsaw", text: "Warsaw is the capital of Poland. Its old town was rebuilt after 1945."),
    ]
    static let question = "Where was Marie Curie born?"

    static let paraphrase = "Born in Warsaw in 1867, Curie moved to Paris in 1891."
    static let swappedNumber = "Marie Curie was born in Warsaw in 1876."
    static let swappedName = "Marie Curie was born in Krakow in 1867."
    static let extraSentence = "Marie Curie was born in Warsaw in 1867. She later taught music in Canada for twenty years."
    static let negation = "Marie Curie was not born in Warsaw."

    func checker() throws -> FactualityChecker {
        try FactualityChecker(profile: CheckerCalibration.load(Paths.calibration).profile("general", path: Paths.calibration))
    }

    func check(_ answer: String) throws -> FactualityReport {
        try checker().check(answer: answer, passages: Self.passages, question: Self.question)
    }

    @Test func paraphraseIsSupportedWithEvidence() throws {
        let report = try check(Self.paraphrase)
        #expect(report.claims.count == 1)
        #expect(report.claims[0].label == .supported)
        #expect(!report.hallucinated)
        #expect(report.claims[0].lexical.support == 1)
        #expect(report.claims[0].lexical.missingFacts.isEmpty)
        let evidence = try #require(report.claims[0].evidence)
        #expect(evidence.passageID == "curie")
        #expect(evidence.text.hasPrefix("Marie Curie was born in Warsaw in 1867."))
        #expect(evidence.span.start == 0)
    }

    @Test func swappedNumberScoresLower() throws {
        let good = try check(Self.paraphrase), bad = try check(Self.swappedNumber)
        #expect(bad.claims[0].lexical.missingFacts == ["1876"])
        #expect(bad.minScore! < good.minScore!)
        // HaluEval gives the hard-fact signal little weight on its own (docs/factuality.md): one wrong number of
        // five content words lowers the score without flagging the answer.
    }

    @Test func swappedNameScoresLower() throws {
        let good = try check(Self.paraphrase), bad = try check(Self.swappedName)
        #expect(bad.claims[0].lexical.missingFacts == ["Krakow"])
        #expect(bad.minScore! < good.minScore!)
        #expect(bad.hallucinated)
    }

    @Test func unsupportedExtraSentenceIsFlagged() throws {
        let report = try check(Self.extraSentence)
        #expect(report.claims.count == 2)
        #expect(report.claims[0].score > report.claims[1].score)
        #expect(report.claims[1].label == .unsupported)
        #expect(report.claims[1].lexical.missingFacts.contains("Canada"))
        #expect(report.claims[1].evidence == nil, "no window shares a word with it")
        #expect(report.minScore! < (try check(Self.paraphrase)).minScore!)
        #expect(report.hallucinated)
    }

    @Test func negationScoresLower() throws {
        let report = try check(Self.negation)
        #expect(report.claims[0].lexical.negationMismatch)
        #expect(!(try check("Marie Curie was born in Warsaw.")).claims[0].lexical.negationMismatch)
        #expect(report.minScore! < (try check("Marie Curie was born in Warsaw.")).minScore!)
    }

    @Test func emptyAnswerMakesNoClaim() throws {
        for answer in ["", "   \n "] {
            let report = try check(answer)
            #expect(report.claims.isEmpty)
            #expect(report.minScore == nil && report.meanScore == nil)
            #expect(!report.hallucinated)
            #expect(report.summary.contains("no claim"))
        }
    }

    /// Claims with no content word cannot be supported by any passage (issue 13: "Yes.", "!!!", "-" and "He did it."
    /// scored "supported 0.83" against an unrelated passage). They are unverifiable and left out of the answer's
    /// score; an answer of nothing else makes no checkable claim and ranks below any supported answer.
    @Test func contentFreeClaimsAreNeverSupported() throws {
        let unrelated = [Passage(id: "saturn", text: "Saturn is the sixth planet from the Sun and has a prominent ring system.")]
        let checker = try checker()
        let supported = try checker.check(answer: "Saturn is the sixth planet.", passages: unrelated, question: nil)
        #expect(supported.verdict == .supported && supported.rankingScore >= supported.threshold)
        for answer in ["Yes.", "!!!", "-", "He did it.", "No.", "Yes, it is. No!", ""] {
            for question in [nil, "Is Saturn a planet?", Self.question] {
                let report = try checker.check(answer: answer, passages: unrelated, question: question)
                #expect(!report.claims.contains { $0.label == .supported }, "\(answer)")
                #expect(report.claims.allSatisfy { $0.label == .unverifiable && $0.score == 0 && $0.evidence == nil })
                #expect(report.verdict == .noCheckableClaim, "\(answer)")
                #expect(report.answerScore == nil && report.minScore == nil && !report.hallucinated)
                #expect(report.rankingScore < supported.rankingScore, "\(answer) must not outrank a supported answer")
                #expect(report.summary.contains(report.claims.isEmpty ? "no claim" : "no checkable claim"), "\(report.summary)")
            }
        }
        // A controller picking the best-ranked candidate takes the answer that says something supported.
        let candidates = ["Yes.", "-", "Saturn has a prominent ring system.", "He did it.", "Saturn is a moon of Mars."]
        let reports = try candidates.map { try checker.check(answer: $0, passages: unrelated, question: "Does Saturn have rings?") }
        #expect(reports.max { $0.rankingScore < $1.rankingScore }?.answer == "Saturn has a prominent ring system.")
        #expect(reports[4].verdict == .hallucinated)
    }

    /// A content-free claim beside checkable ones neither lowers nor raises the answer's score.
    @Test func fillerClaimsDoNotChangeTheAnswerScore() throws {
        let alone = try check(Self.paraphrase)
        for filler in ["Yes. ", "Yes, it is! ", "He did it. "] {
            let report = try check(filler + Self.paraphrase)
            #expect(report.claims.count == 2 && report.claims[0].label == .unverifiable)
            #expect(report.answerScore == alone.answerScore && report.verdict == alone.verdict, "\(filler)")
        }
        let swapped = try check("Yes. " + Self.swappedName)
        #expect(swapped.verdict == .hallucinated && swapped.hallucinated)
    }

    @Test func otherScriptsAreHandled() throws {
        let cyrillic = try checker().check(answer: "Мария Кюри родилась в Варшаве в 1867 году.",
                                           passages: [Passage(id: "ru", text: "Мария Кюри родилась в Варшаве в 1867 году. Она переехала в Париж.")],
                                           question: nil)
        #expect(cyrillic.claims.count == 1)
        #expect(cyrillic.claims[0].lexical.support == 1)
        #expect(cyrillic.claims[0].score.isFinite)
        let cjk = try checker().check(answer: "居里夫人出生于华沙。她获得了诺贝尔奖。", passages: Self.passages, question: nil)
        #expect(cjk.claims.map(\.text) == ["居里夫人出生于华沙。", "她获得了诺贝尔奖。"])
        #expect(cjk.claims.allSatisfy { $0.score >= 0 && $0.score <= 1 })
        // Against English passages nothing of the Chinese answer is found.
        #expect(cjk.claims.allSatisfy { $0.lexical.support == 0 })
    }

    @Test func noPassagesMeansNoSupport() throws {
        let report = try checker().check(answer: Self.paraphrase, passages: [], question: nil)
        #expect(report.claims[0].evidence == nil)
        #expect(report.claims[0].lexical.support == 0)
        #expect(report.hallucinated)
    }

    @Test func reportRoundTripsThroughJSON() throws {
        let report = try check(Self.extraSentence)
        let data = try JSONEncoder().encode(report)
        let decoded = try JSONDecoder().decode(FactualityReport.self, from: data)
        #expect(decoded.claims.map(\.text) == report.claims.map(\.text))
        #expect(decoded.claims.map(\.span) == report.claims.map(\.span))
        #expect(decoded.claims.map(\.score) == report.claims.map(\.score))
        // Evidence is reported beside the signals, not inside them.
        #expect(decoded.claims.map(\.lexical) == report.claims.map { claim in
            var lexical = claim.lexical
            lexical.evidence = nil
            return lexical
        })
        #expect(decoded.claims.map(\.evidence) == report.claims.map(\.evidence))
        #expect(decoded.hallucinated == report.hallucinated && decoded.threshold == report.threshold)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let claims = try #require(object["claims"] as? [[String: Any]])
        #expect((claims[0]["span"] as? [String: Int]) == ["start": 0, "end": 39])
        #expect((claims[0]["evidence"] as? [String: Any])?["passageID"] as? String == "curie")
    }
}

struct TextAnalyzerTests {
    @Test func numbersAndMonthsAreNormalised() {
        let facts = TextAnalyzer.words("It cost $1,000 in Sept. 2020, three times 3.0 and 1000.").compactMap(\.fact)
        #expect(facts == ["1000", "september", "2020", "3", "3", "1000"])
    }

    @Test func capitalisedNamesAreFactsStopWordsAreNot() {
        let words = TextAnalyzer.words("The Oberoi family's hotel is in Delhi, isn't it?")
        #expect(words.compactMap(\.fact) == ["oberoi", "delhi"])
        #expect(words.filter(\.isContent).map(\.stem) == ["oberoi", "famili", "hotel", "delhi"])
        #expect(words.contains { $0.isNegation })
    }
}

struct HaluEvalRowsTests {
    @Test func readsRowsAndNamesTheBadLine() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("halueval-\(UUID()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let good = #"{"knowledge": "K", "question": "Q?", "right_answer": "A", "hallucinated_answer": "B"}"#
        try Data((good + "\n" + good + "\n" + #"{"knowledge": "K"}"# + "\n").utf8).write(to: URL(fileURLWithPath: path))
        let rows = try HaluEvalTask.qa.load(path: path, rows: 1..<2)
        #expect(rows == [HaluEvalRow(index: 1, source: "K", question: "Q?", faithful: "A", hallucinated: "B")])
        #expect(throws: HaluEvalError(path: path, line: 3, reason: "no string field 'question'")) {
            try HaluEvalTask.qa.load(path: path)
        }
        #expect(throws: HaluEvalError.self) { try HaluEvalTask.qa.load(path: path, rows: 0..<10) }
    }
}
