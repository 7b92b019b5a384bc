import Foundation
import Testing
@testable import Inference
@testable import Realign

/// The committed DPO adapter (training/) read by dera gives the logits transformers + PEFT give
/// (Tests/Fixtures/adapter-logits-smollm2.json, recorded by training/record_adapter_logits.py). This pins the
/// PEFT reader, the LoRA scale and the query/key row permutation between Hugging Face and GGUF layouts.
@Suite(.enabled(if: Support.smolLM2Available, "needs models/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/setup)"))
struct TrainedAdapterTests {
    struct Side {
        var topIDs: [Int]
        var topLogits: [Double]
    }

    struct Case {
        var text: String
        var ids: [Int]
        var reference: Side
        var aligned: Side
    }

    static func cases() throws -> (adapter: String, cases: [Case]) {
        let data = try Data(contentsOf: URL(fileURLWithPath: Support.root + "/Tests/Fixtures/adapter-logits-smollm2.json"))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let adapter = try #require((object["adapter"] as? [String: Any])?["path"] as? String)
        let prompts = try #require(object["prompts"] as? [[String: Any]])
        func side(_ value: Any?) throws -> Side {
            let d = try #require(value as? [String: Any])
            return Side(topIDs: try #require(d["top_ids"] as? [Int]), topLogits: try #require(d["top_logits"] as? [Double]))
        }
        let cases = try prompts.map { p in
            Case(text: try #require(p["text"] as? String), ids: try #require(p["ids"] as? [Int]),
                 reference: try side(p["reference"]), aligned: try side(p["aligned"]))
        }
        return (Support.root + "/" + adapter, cases)
    }

    @Test func adapterLogitsMatchTransformersAndPEFT() throws {
        let (path, cases) = try Self.cases()
        #expect(cases.count >= 3)
        let bundle = try Support.bundle(arithmetic: .float32)
        let index = try bundle.model.attach(LoRAAdapter.open(path, for: bundle.model))
        for (n, c) in cases.enumerated() {
            #expect(bundle.tokenizer.encode(c.text, addSpecial: true, parseSpecial: true) == c.ids, "prompt \(n) tokens")
            for (adapter, expected) in [(nil, c.reference), (index, c.aligned)] as [(Int?, Side)] {
                let logits = try bundle.model.forward(DecoderBatch(prompt: c.ids, adapter: adapter),
                                                      caches: [bundle.model.makeCache(capacity: c.ids.count)])
                let worst = zip(expected.topIDs, expected.topLogits).map { abs(Double(logits[$0]) - $1) }.max() ?? 0
                #expect(worst < 2e-3, "prompt \(n) \(adapter == nil ? "reference" : "adapter"): top-20 logits off by \(worst)")
                #expect(logits.withUnsafeBufferPointer { Sampler.argmax($0) } == expected.topIDs[0])
            }
        }
        // The adapter moves the next token on at least one prompt: the fixture is not a no-op.
        #expect(cases.contains { $0.reference.topIDs[0] != $0.aligned.topIDs[0] })
    }
}
