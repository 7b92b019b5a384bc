import Foundation
import Formats
import Testing
@testable import Inference

/// The qwen2 path on a real checkpoint (Qwen2.5-Coder-0.5B-Instruct Q4_K_M, fetched by `scripts/setup --qwen`;
/// not part of CI, where the test-written qwen2 model in DecoderModelTests covers the architecture).
@Suite(.enabled(if: FileManager.default.fileExists(atPath: Fixtures.qwen), "needs scripts/setup --qwen"))
struct QwenReferenceTests {
    @Test func greedyChatCompletionsFollowLlamaCpp() throws {
        let model = try DecoderModel(gguf: GGUFFile(path: Fixtures.qwen), workers: 2)
        #expect(model.config.architecture == .qwen2)
        #expect(model.config.attentionBiases)
        let cases = try GreedyCase.load("greedy-qwen2.json")
        #expect(!cases.isEmpty)
        for c in cases {
            let limit = min(24, c.generatedIDs.count)
            let ours = try greedyDecode(model, prompt: c.promptIDs, limit: limit, stop: [151645, 151643])
            let agreed = zip(ours, c.generatedIDs).prefix { $0 == $1 }.count
            let firstNearTie = c.margins.prefix(limit).firstIndex { $0 < 0.2 } ?? limit
            print("qwen \(c.name): agrees with llama.cpp for \(agreed) of \(limit) tokens")
            #expect(agreed >= min(firstNearTie, limit), "\(c.name)")
        }
    }
}
