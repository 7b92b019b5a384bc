import Foundation
import Formats
import Testing
@testable import Inference
@testable import Realign

/// Reading LoRA adapters (PEFT folders and llama.cpp GGUF files) and applying them to batch rows.
@Suite(.enabled(if: Support.smolLM2Available, "needs models/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/setup)"))
struct AdapterTests {
    func lastLogits(_ model: DecoderModel, _ prompt: [Int], adapter: Int?) throws -> [Float] {
        try model.forward(DecoderBatch(prompt: prompt, adapter: adapter), caches: [model.makeCache()])
    }

    @Test func peftFolderIsReadWithItsScaleAndEveryProjection() throws {
        let bundle = try Support.bundle()
        let directory = Support.temporaryDirectory("peft-read")
        try RandomPEFTAdapter(rank: 4, alpha: 8).write(to: directory, config: bundle.model.config)
        let folder = try PEFTAdapterFolder(directory: directory)
        #expect(folder.rank == 4 && folder.scale == 2)
        #expect(folder.modules.count == 30 * 7)
        #expect(folder.modules.first?.layer == 0 && folder.modules.first?.projection == "q_proj")
        let adapter = try LoRAAdapter(peft: folder, config: bundle.model.config)
        #expect(adapter.rank == 4)
        let value = try #require(adapter.layers[3][.value])
        // v_proj is not permuted: B's first entry is the file's, times alpha / r.
        let raw = try folder.weights.tensor("base_model.model.model.layers.3.self_attn.v_proj.lora_B.weight").bytes
        let first = raw.loadUnaligned(as: Float.self)
        #expect(value.up[0] == first * 2)
    }

    /// An adapter in F16 gives the F32 adapter's logits up to F16 rounding of its weights.
    @Test func halfPrecisionAdapterMatchesSinglePrecision() throws {
        let bundle = try Support.bundle(arithmetic: .float32)
        let config = bundle.model.config
        let single = Support.temporaryDirectory("f32"), half = Support.temporaryDirectory("f16")
        try RandomPEFTAdapter(dtype: .f32).write(to: single, config: config)
        try RandomPEFTAdapter(dtype: .f16).write(to: half, config: config)
        let a = try bundle.model.attach(LoRAAdapter.open(single, for: bundle.model))
        let b = try bundle.model.attach(LoRAAdapter.open(half, for: bundle.model))
        let prompt = try Support.chatPrompt(bundle, "Hello")
        let x = try lastLogits(bundle.model, prompt, adapter: a), y = try lastLogits(bundle.model, prompt, adapter: b)
        let base = try lastLogits(bundle.model, prompt, adapter: nil)
        let difference = zip(x, y).map { abs($0 - $1) }.max()!, moved = zip(x, base).map { abs($0 - $1) }.max()!
        #expect(difference < moved / 20, "F16 rounding (\(difference)) should be small beside the adapter's effect (\(moved))")
    }

    /// The same update written as a llama.cpp LoRA GGUF (rows already in the GGUF's layout) gives the same logits.
    @Test func ggufLoRAMatchesThePEFTFolder() throws {
        let bundle = try Support.bundle()
        let directory = Support.temporaryDirectory("peft-for-gguf")
        try RandomPEFTAdapter(rank: 4, alpha: 8).write(to: directory, config: bundle.model.config)
        let peft = try LoRAAdapter.open(directory, for: bundle.model)
        var writer = GGUFWriter()
        writer.set("general.architecture", .string("llama"))
        writer.set("general.type", .string("adapter"))
        writer.set("adapter.type", .string("lora"))
        writer.set("adapter.lora.alpha", .float32(8))
        for (layer, deltas) in peft.layers.enumerated() {
            for (target, delta) in deltas {
                let name = TensorNames.gguf.layer(layer, target)
                writer.addTensor(name + ".lora_a", dimensions: [delta.inputs, delta.rank], floats: delta.down)
                writer.addTensor(name + ".lora_b", dimensions: [delta.rank, delta.outputs], floats: delta.up.map { $0 / 2 })
            }
        }
        let path = Support.temporaryDirectory("gguf-lora") + "/adapter.gguf"
        try writer.write(to: path)
        let gguf = try LoRAAdapter.open(path, for: bundle.model)
        let a = try bundle.model.attach(peft), b = try bundle.model.attach(gguf)
        let prompt = try Support.chatPrompt(bundle, "Hello")
        #expect(try lastLogits(bundle.model, prompt, adapter: a) == lastLogits(bundle.model, prompt, adapter: b))
    }

    @Test func rotaryRowsMoveToTheInterleavedOrder() {
        // One head of dimension 4, rank 1: HF rows [x0, x1 | y0, y1] pair (x0, y0) and (x1, y1).
        let rows: [Float] = [10, 11, 20, 21]
        #expect(LoRAAdapter.interleaveRotaryRows(rows, rowWidth: 1, heads: 1, headDimension: 4) == [10, 20, 11, 21])
        let two: [Float] = [1, 2, 3, 4, 5, 6, 7, 8]
        #expect(LoRAAdapter.interleaveRotaryRows(two, rowWidth: 2, heads: 1, headDimension: 4) == [1, 2, 5, 6, 3, 4, 7, 8])
    }

    @Test func badAdaptersAreRefusedNamingTheFileAndField() throws {
        let bundle = try Support.bundle()
        let config = bundle.model.config
        func folder(_ name: String, edit: ([String: Any]) -> [String: Any] = { $0 }) throws -> String {
            let directory = Support.temporaryDirectory("bad-" + name)
            try RandomPEFTAdapter(rank: 2, projections: ["q_proj"]).write(to: directory, config: config)
            let path = directory + "/adapter_config.json"
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
            try JSONSerialization.data(withJSONObject: edit(object)).write(to: URL(fileURLWithPath: path))
            return directory
        }
        func message(_ body: () throws -> Void) -> String {
            do { try body() } catch { return "\(error)" }
            return "no error"
        }
        let noRank = try folder("no-rank") { var o = $0; o["r"] = nil; return o }
        #expect(message { _ = try PEFTAdapterFolder(directory: noRank) }.contains("adapter_config.json: invalid r"))
        let dora = try folder("dora") { var o = $0; o["use_dora"] = true; return o }
        #expect(message { _ = try PEFTAdapterFolder(directory: dora) }.contains("use_dora"))
        let wrongRank = try folder("wrong-rank") { var o = $0; o["r"] = 3; return o }
        #expect(message { _ = try PEFTAdapterFolder(directory: wrongRank) }.contains("has rank 2, config says r=3"))
        let missing = Support.temporaryDirectory("bad-empty")
        #expect(message { _ = try PEFTAdapterFolder(directory: missing) }.contains("no adapter_config.json"))

        // A lora_A without its lora_B, and a tensor for a module dera does not adapt.
        let orphan = Support.temporaryDirectory("bad-orphan")
        try RandomPEFTAdapter(rank: 2, projections: ["q_proj"]).write(to: orphan, config: config)
        let a = [Float](repeating: 0.1, count: 2 * 576).flatMap { withUnsafeBytes(of: $0, Array.init) }
        try Data(SafetensorsFile.encode([
            ("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", .f32, [2, 576], a),
        ])).write(to: URL(fileURLWithPath: orphan + "/adapter_model.safetensors"))
        #expect(message { _ = try PEFTAdapterFolder(directory: orphan) }.contains("q_proj.lora_B.weight"))
        try Data(SafetensorsFile.encode([
            ("base_model.model.lm_head.lora_A.weight", .f32, [2, 576], a),
        ])).write(to: URL(fileURLWithPath: orphan + "/adapter_model.safetensors"))
        #expect(message { _ = try PEFTAdapterFolder(directory: orphan) }.contains("lm_head.lora_A.weight"))

        // An adapter for a model of another shape.
        var small = config
        small.embeddingLength = 64
        let otherShape = Support.temporaryDirectory("bad-shape")
        try RandomPEFTAdapter(rank: 2, projections: ["q_proj"]).write(to: otherShape, config: small)
        #expect(message { _ = try LoRAAdapter.open(otherShape, for: bundle.model) }.contains("has shape"))
        // A batch row naming an adapter that is not attached.
        #expect(throws: ModelError.noSuchAdapter(index: 0, attached: 0)) {
            _ = try bundle.model.forward(DecoderBatch(prompt: [1, 2], adapter: 0), caches: [bundle.model.makeCache()])
        }
    }
}
