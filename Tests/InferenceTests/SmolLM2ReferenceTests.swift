import Foundation
import Formats
import Testing
@testable import Inference

/// The real default model against what llama.cpp and transformers recorded for it.
@Suite(.enabled(if: Fixtures.smolLM2Available, "needs models/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/setup)"))
struct SmolLM2ReferenceTests {
    /// As llama.cpp computes (the default): 8-bit activations, F16 KV cache.
    static let model: DecoderModel? = try? DecoderModel(gguf: GGUFFile(path: Fixtures.smolLM2), workers: 2)
    /// Float activations throughout, to compare with transformers' F32 forward.
    static let floatModel: DecoderModel? = {
        let model = try? DecoderModel(gguf: GGUFFile(path: Fixtures.smolLM2), workers: 2)
        model?.arithmetic = .float32
        return model
    }()

    /// Greedy chat completions against llama.cpp's, token for token. Two engines that round differently
    /// part ways where llama.cpp's top two logits are nearly tied (llama.cpp against itself with flash
    /// attention off does, in 7 of these 16 cases), so every case must agree at least until llama.cpp's
    /// margin first falls under `nearTie`, and whole sequences must agree in most cases.
    @Test func greedyChatCompletionsMatchLlamaCpp() throws {
        let model = try #require(Self.model)
        #expect(model.arithmetic == .llamaCpp)
        let nearTie = 0.2
        let cases = try GreedyCase.load("greedy-smollm2.json")
        #expect(cases.count >= 10)
        var identical = 0
        for c in cases {
            let ours = try greedyDecode(model, prompt: c.promptIDs, limit: c.generatedIDs.count + (c.stoppedAtEOS ? 1 : 0), stop: [2])
            if ours == c.generatedIDs {
                identical += 1
                continue
            }
            let agreed = zip(ours, c.generatedIDs).prefix { $0 == $1 }.count
            let firstNearTie = c.margins.firstIndex { $0 < nearTie } ?? c.margins.count
            print("\(c.name): parts from llama.cpp at step \(agreed) (llama.cpp's margin there \(c.margins[min(agreed, c.margins.count - 1)]))")
            #expect(agreed >= firstNearTie, "\(c.name): parted at step \(agreed), before llama.cpp's first near tie at \(firstNearTie)")
        }
        print("whole sequences identical to llama.cpp: \(identical) of \(cases.count)")
        #expect(identical >= cases.count / 2 - 1)
    }
}

extension SmolLM2ReferenceTests {
    /// The F32 path against transformers' F32 forward of the same GGUF (weights dequantised by gguf-py).
    @Test func promptLogitsMatchTransformersF32() throws {
        let model = try #require(Self.floatModel)
        let object = try Fixtures.json("logits-smollm2.json")
        let cases = try #require(object["cases"] as? [[String: Any]])
        #expect(cases.count >= 5)
        for c in cases {
            let name = c["name"] as? String ?? "?"
            let prompt = try #require(c["prompt_ids"] as? [Int])
            let reference = try #require(c["hf"] as? [String: Any])
            let ids = try #require(reference["top_ids"] as? [Int])
            let values = try #require(reference["top_logits"] as? [Double])
            let argmax = try #require(reference["argmax"] as? Int)
            let logits = try model.forward(DecoderBatch(prompt: prompt), caches: [model.makeCache(capacity: prompt.count)])
            let ours = logits.indices.max { logits[$0] < logits[$1] }!
            #expect(ours == argmax, "\(name): top-1 \(ours), transformers \(argmax)")
            let difference = zip(ids.prefix(10), values.prefix(10)).map { abs(Double(logits[$0]) - $1) }.max()!
            print("\(name): max |dera - transformers| over the top 10 = \(difference)")
            #expect(difference < 0.05, "\(name)")
        }
    }
}
