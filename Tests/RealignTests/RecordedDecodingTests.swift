import Foundation
import Testing
@testable import Inference
@testable import Realign

/// Greedy tokens of the committed beta-0.1 adapter mixed with SmolLM2 at lambda 0, 0.5, 1 and 2, and of the
/// model alone, as the decoder computed them before the single decoding loop replaced the two older ones
/// (Tests/Fixtures/realign-greedy-smollm2.json, recorded at commit ba446ac). A refactoring of the loop must
/// keep them token for token. `DERA_RECORD_REALIGN=1 swift test --filter RecordedDecodingTests` rewrites the
/// file from the code as it is.
@Suite(.enabled(if: Support.smolLM2Available, "needs models/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/setup)"))
struct RecordedDecodingTests {
    static let fixture = Support.root + "/Tests/Fixtures/realign-greedy-smollm2.json"
    static let adapter = Support.root + "/models/adapters/smollm2-dpo-beta0.1"
    static let questions = ["What is the capital of France?", "Who wrote the novel Moby-Dick?",
                            "Write one sentence about the sea."]
    static let lambdas: [Float] = [0, 0.5, 1, 2]
    static let maxTokens = 32

    struct Case: Codable, Equatable {
        var question: String
        var prompt: [Int]
        /// "model alone", or the lambda as text.
        var system: String
        var tokens: [Int]
    }

    struct Fixture: Codable {
        var note: String
        var model: String
        var adapter: String
        var maxTokens: Int
        var cases: [Case]
    }

    /// What the decoder gives now.
    static func decode() throws -> [Case] {
        let bundle = try Support.bundle()
        let pair = try RealignmentPair(reference: bundle, adapter: LoRAAdapter.open(adapter, for: bundle.model))
        let lone = try Support.bundle()
        var cases: [Case] = []
        for question in questions {
            let prompt = try Support.chatPrompt(lone, question)
            let (tokens, _) = try TextGenerator(bundle: lone).generate(prompt: prompt, maxTokens: maxTokens)
            cases.append(Case(question: question, prompt: prompt, system: "model alone", tokens: tokens))
            let requests = lambdas.map { RealignmentRequest(prompt: prompt, lambda: $0, maxTokens: maxTokens) }
            let (outputs, _) = try Realigner(pair: pair).generate(requests)
            for (lambda, output) in zip(lambdas, outputs) {
                cases.append(Case(question: question, prompt: prompt, system: "\(lambda)", tokens: output.tokens))
            }
        }
        return cases
    }

    @Test func greedyTokensAreThoseRecordedBeforeTheLoopWasUnified() throws {
        let now = try Self.decode()
        if ProcessInfo.processInfo.environment["DERA_RECORD_REALIGN"] != nil {
            let fixture = Fixture(
                note: "greedy tokens recorded by Tests/RealignTests/RecordedDecodingTests.swift (DERA_RECORD_REALIGN=1)",
                model: "models/SmolLM2-135M-Instruct.Q4_1.gguf", adapter: "models/adapters/smollm2-dpo-beta0.1",
                maxTokens: Self.maxTokens, cases: now)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(fixture).write(to: URL(fileURLWithPath: Self.fixture))
            return
        }
        let recorded = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: URL(fileURLWithPath: Self.fixture)))
        #expect(recorded.cases.count == now.count)
        for (old, new) in zip(recorded.cases, now) {
            #expect(old.prompt == new.prompt, "\(old.question): the prompt tokenizes differently")
            #expect(old.tokens == new.tokens, "\(old.question), \(old.system)")
        }
        // The fixture is not degenerate: the adapter changes some answers, and lambda 0 is the model alone.
        let byQuestion = Dictionary(grouping: now, by: \.question)
        #expect(byQuestion.values.contains { Set($0.map(\.tokens)).count > 1 })
        for group in byQuestion.values { #expect(group[0].tokens == group[1].tokens, "lambda 0 is the model alone") }
    }
}
