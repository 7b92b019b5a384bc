import Foundation
import Testing
@testable import Control

private func candidate(_ lambda: Float, correctness: Double, naturalness: Double,
                       flags: [DegeneracyFlag] = []) -> Candidate {
    Candidate(label: "lambda \(lambda)", lambda: lambda, text: "t", correctness: correctness,
              naturalness: NaturalnessReport(fluency: nil, flags: flags, words: 5, lengthFit: 1, score: naturalness),
              tokens: 5)
}

@Suite struct SelectionRuleTests {
    @Test func mostCorrectPicksTheHighestScoreAndBreaksNearTiesByNaturalness() {
        let candidates = [candidate(0, correctness: 0.60, naturalness: 0.9),
                          candidate(0.5, correctness: 0.80, naturalness: 0.3),
                          candidate(1, correctness: 0.79, naturalness: 0.7)]
        #expect(SelectionRule.mostCorrect(margin: 0.02).choose(candidates) == 2)
        #expect(SelectionRule.mostCorrect(margin: 0).choose(candidates) == 1)
    }

    @Test func degenerateCandidatesLoseToAnyHealthyOne() {
        let candidates = [candidate(0, correctness: 0.2, naturalness: 0.5),
                          candidate(1, correctness: 0.99, naturalness: 0, flags: [.listDebris])]
        #expect(SelectionRule.default.choose(candidates) == 0)
        #expect(SelectionRule.weighted(weight: 1).choose(candidates) == 0)
        // All degenerate: the rule still chooses among them.
        let broken = [candidate(0, correctness: 0.1, naturalness: 0, flags: [.empty]),
                      candidate(1, correctness: 0.5, naturalness: 0, flags: [.repetition])]
        #expect(SelectionRule.default.choose(broken) == 1)
    }

    @Test func exactTiesGoToTheLambdaNearestTheReference() {
        let candidates = [candidate(1, correctness: 0.5, naturalness: 0.5),
                          candidate(0, correctness: 0.5, naturalness: 0.5),
                          candidate(0.5, correctness: 0.5, naturalness: 0.5)]
        #expect(SelectionRule.default.choose(candidates) == 1)
        #expect(SelectionRule.default.choose([]) == nil)
    }

    @Test func naturalAtLeastAndWeighted() {
        let candidates = [candidate(0, correctness: 0.50, naturalness: 0.9),
                          candidate(0.5, correctness: 0.70, naturalness: 0.6),
                          candidate(1, correctness: 0.95, naturalness: 0.2)]
        #expect(SelectionRule.naturalAtLeast(target: 0.65).choose(candidates) == 1)
        #expect(SelectionRule.naturalAtLeast(target: 0.99).choose(candidates) == 2)   // none passes: most correct
        #expect(SelectionRule.weighted(weight: 0).choose(candidates) == 0)
        #expect(SelectionRule.weighted(weight: 1).choose(candidates) == 2)
        #expect(SelectionRule.weighted(weight: 0.5).choose(candidates) == 0)  // 0.70 vs 0.65 vs 0.575
        #expect(SelectionRule.weighted(weight: 0.9).choose(candidates) == 2)  // 0.54 vs 0.69 vs 0.875
    }

    @Test func parsesAndPrintsRules() throws {
        #expect(SelectionRule("most-correct") == .mostCorrect(margin: 0.02))
        #expect(SelectionRule("natural-at-least:0.6") == .naturalAtLeast(target: 0.6))
        #expect(SelectionRule("weighted:0.25") == .weighted(weight: 0.25))
        for bad in ["weighted", "weighted:2", "natural-at-least:nan", "best", "weighted:-0.1"] {
            #expect(SelectionRule(bad) == nil, "\(bad)")
        }
        let rule = SelectionRule.naturalAtLeast(target: 0.6)
        let data = try JSONEncoder().encode(rule)
        #expect(String(decoding: data, as: UTF8.self) == "\"natural-at-least:0.6\"")
        #expect(try JSONDecoder().decode(SelectionRule.self, from: data) == rule)
    }
}

@Suite struct ParetoFrontTests {
    @Test func keepsOnlyNonDominatedPointsOnASyntheticTable() {
        // correctness rises with lambda while naturalness falls, with two dominated settings.
        let points = [
            OperatingPoint(label: "0", lambda: 0, correctness: 0.40, naturalness: 0.80),
            OperatingPoint(label: "0.25", lambda: 0.25, correctness: 0.35, naturalness: 0.70),  // dominated by 0
            OperatingPoint(label: "0.5", lambda: 0.5, correctness: 0.55, naturalness: 0.65),
            OperatingPoint(label: "1", lambda: 1, correctness: 0.70, naturalness: 0.40),
            OperatingPoint(label: "1.5", lambda: 1.5, correctness: 0.70, naturalness: 0.30),  // dominated by 1
            OperatingPoint(label: "2", lambda: 2, correctness: 0.72, naturalness: 0.10),
        ]
        #expect(ParetoFront.indices(of: points) == [5, 3, 2, 0])
        // The same point twice stays twice.
        let twice = [points[0], points[0]]
        #expect(ParetoFront.indices(of: twice) == [0, 1])
        #expect(ParetoFront.indices(of: []) == [])
    }

    @Test func rulesPickAlongTheFront() {
        let points = [
            OperatingPoint(label: "0", lambda: 0, correctness: 0.40, naturalness: 0.80),
            OperatingPoint(label: "0.5", lambda: 0.5, correctness: 0.55, naturalness: 0.65),
            OperatingPoint(label: "1", lambda: 1, correctness: 0.70, naturalness: 0.40),
        ]
        #expect(ParetoFront.choose(points, rule: .naturalAtLeast(target: 0.5)) == 1)
        #expect(ParetoFront.choose(points, rule: .mostCorrect(margin: 0)) == 2)
        #expect(ParetoFront.choose(points, rule: .weighted(weight: 0)) == 0)
    }
}

@Suite struct NaturalnessTests {
    let scorer = NaturalnessScorer()

    @Test func flagsDegenerateOutputs() {
        #expect(scorer.report("", question: nil, fluency: nil, truncated: false).flags == [.empty])
        #expect(scorer.report("  ...  ", question: nil, fluency: nil, truncated: false).flags == [.empty])
        #expect(scorer.report("1. 1. 1.", question: nil, fluency: nil, truncated: false).flags.contains(.listDebris))
        #expect(scorer.report("- - Paris", question: nil, fluency: nil, truncated: false).flags.contains(.listDebris))
        #expect(scorer.report("1. Paris 2. Lyon 3. Nice", question: nil, fluency: nil, truncated: false)
            .flags.contains(.listDebris))
        let loop = "the tower is the tower is the tower is the tower is"
        #expect(scorer.report(loop, question: nil, fluency: nil, truncated: false).flags.contains(.repetition))
        #expect(scorer.report("Paris Paris Paris Paris Paris is", question: nil, fluency: nil, truncated: false)
            .flags.contains(.repetition))
        let echo = scorer.report("When was the Eiffel Tower completed?", question: "When was the Eiffel Tower completed?",
                                 fluency: nil, truncated: false)
        #expect(echo.flags == [.echoesQuestion])
        #expect(echo.score == 0)
        #expect(scorer.report("It was completed in", question: nil, fluency: nil, truncated: true).flags == [.truncated])
    }

    @Test func cleanSentencesAreNotFlaggedAndScoreByFluencyAndLength() {
        let q = "When was the Eiffel Tower completed?"
        let good = scorer.report("The Eiffel Tower was completed in 1889.", question: q, fluency: -0.5, truncated: false)
        #expect(good.flags.isEmpty)
        #expect(good.words == 7)
        #expect(abs(good.score - exp(-0.25)) < 1e-12)
        // Lower likelihood, lower naturalness; a number list item like "in 1889." is not debris.
        let odd = scorer.report("The Eiffel Tower was completed in 1889.", question: q, fluency: -3, truncated: false)
        #expect(odd.score < good.score)
        let long = scorer.report(Array(repeating: "word\(Int.random(in: 0...9))x", count: 1).joined()
                                 + String(repeating: " and more words here", count: 20), question: q, fluency: nil,
                                 truncated: false)
        #expect(long.lengthFit < 1)
        // Without fluency the score is the length fit alone.
        #expect(scorer.report("Canberra.", question: q, fluency: nil, truncated: false).score == 1)
    }
}

@Suite struct TunedLambdaTests {
    @Test func roundTripsAndMatchesByFileName() throws {
        let path = NSTemporaryDirectory() + "dera-tuned-\(UUID().uuidString)/tuned.json"
        let tuned = TunedLambda(model: "models/SmolLM2-135M-Instruct.Q4_1.gguf", adapter: "models/adapters/smollm2-dpo-beta0.1/",
                                setting: .auto, lambda: 0.5, candidates: [0, 0.5, 1], rule: .default,
                                questions: "test")
        try tuned.save(path)
        let loaded = try #require(try TunedLambda.load(path))
        #expect(loaded == tuned)
        #expect(loaded.applies(model: "/elsewhere/SmolLM2-135M-Instruct.Q4_1.gguf", adapter: "x/smollm2-dpo-beta0.1"))
        #expect(!loaded.applies(model: "models/qwen.gguf", adapter: "x/smollm2-dpo-beta0.1"))
        #expect(!loaded.applies(model: "models/SmolLM2-135M-Instruct.Q4_1.gguf", adapter: nil))
        #expect(try TunedLambda.load(path + ".missing") == nil)
    }

    /// One file, one choice per model and adapter: saving Qwen's keeps SmolLM2's, saving SmolLM2's again replaces
    /// only its own, and a file in the older single-object form still reads.
    @Test func keepsOneChoicePerModelAndAdapter() throws {
        let folder = NSTemporaryDirectory() + "dera-tuned-many-\(UUID().uuidString)"
        let path = folder + "/tuned.json"
        let smol = TunedLambda(model: "models/SmolLM2-135M-Instruct.Q4_1.gguf", adapter: "models/adapters/smollm2-dpo-beta0.1",
                               setting: .auto, lambda: 0.25, candidates: [0, 0.5, 1], rule: .default, questions: "dev")
        // The older form: one object, as a file written before several models had adapters.
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try JSONEncoder().encode(smol).write(to: URL(fileURLWithPath: path))
        #expect(try TunedLambda.load(path, model: "SmolLM2-135M-Instruct.Q4_1.gguf", adapter: "smollm2-dpo-beta0.1") == smol)

        let qwen = TunedLambda(model: "models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
                               adapter: "models/adapters/qwen15-onpolicy-dpo-beta0.1", setting: .fixed, lambda: 1,
                               candidates: [], rule: .default, questions: "dev")
        try qwen.save(path)
        #expect(try TunedLambda.loadAll(path).count == 2)
        #expect(try TunedLambda.load(path, model: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
                                     adapter: "qwen15-onpolicy-dpo-beta0.1") == qwen)
        #expect(try TunedLambda.load(path, model: "SmolLM2-135M-Instruct.Q4_1.gguf", adapter: "smollm2-dpo-beta0.1") == smol)
        #expect(try TunedLambda.load(path, model: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", adapter: nil) == nil)

        var smolAgain = smol
        smolAgain.lambda = 0.5
        try smolAgain.save(path)
        let all = try TunedLambda.loadAll(path)
        #expect(all.count == 2)
        #expect(all.contains(qwen) && all.contains(smolAgain) && !all.contains(smol))
    }

    /// Saving beside a file that is not a tuned-lambda file refuses and leaves the file as it was.
    @Test func doesNotOverwriteAFileItCannotRead() throws {
        let path = NSTemporaryDirectory() + "dera-tuned-keep-\(UUID().uuidString).json"
        let text = Data("[{\"model\": 3}]".utf8)
        try text.write(to: URL(fileURLWithPath: path))
        let tuned = TunedLambda(model: "m.gguf", adapter: nil, setting: .fixed, lambda: 1, candidates: [],
                                rule: .default, questions: "dev")
        #expect(throws: ControlError.self) { try tuned.save(path) }
        #expect(FileManager.default.contents(atPath: path) == text)
    }

    @Test func refusesABrokenFileNamingIt() throws {
        let path = NSTemporaryDirectory() + "dera-tuned-bad-\(UUID().uuidString).json"
        try Data("{\"model\": 3}".utf8).write(to: URL(fileURLWithPath: path))
        #expect {
            try TunedLambda.load(path)
        } throws: { error in
            "\(error)".hasPrefix(path)
        }
    }
}
