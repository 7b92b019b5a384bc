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

    /// The error `body` throws, as text ("no error" when it throws none).
    func message(_ body: () throws -> Void) -> String {
        do { try body() } catch { return "\(error)" }
        return "no error"
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

    /// A DeRa step's aligned row declared the twin of its reference row computes the layers below the adapter
    /// once: the same logits and caches as two full rows, bit for bit, in both arithmetics.
    @Test(arguments: [DecoderModel.Arithmetic.llamaCpp, .float32])
    func twinRowsGiveTheLogitsAndCachesOfFullRows(arithmetic: DecoderModel.Arithmetic) throws {
        let bundle = try Support.bundle(arithmetic: arithmetic)
        let model = bundle.model
        let directory = Support.temporaryDirectory("twin-top-\(arithmetic)")
        try RandomPEFTAdapter(layers: 20..<30).write(to: directory, config: model.config)
        let index = try model.attach(LoRAAdapter.open(directory, for: model))
        #expect(model.adapters[index].firstAdaptedLayer == 20)
        let prompt = try Support.chatPrompt(bundle, "Who wrote Hamlet?")
        let next = [504, 2111, 30]
        func run(twins: Bool) throws -> (logits: [[Float]], caches: [KVCache]) {
            let caches = (0..<4).map { _ in model.makeCache(capacity: prompt.count + 8) }
            // Two sequences per side, each prefilled as DeRa does (one pass per side).
            for s in 0..<2 {
                _ = try model.forward(DecoderBatch(prompt: prompt, sequence: s), caches: caches)
                _ = try model.forward(DecoderBatch(prompt: prompt, sequence: 2 + s, adapter: index), caches: caches)
            }
            var steps: [[Float]] = []
            for token in next {
                var batch = DecoderBatch()
                for s in 0..<2 { batch.append(token: token + s, sequence: s, wantsLogits: true) }
                for s in 0..<2 {
                    batch.append(token: token + s, sequence: 2 + s, wantsLogits: true, adapter: index,
                                 twin: twins ? s : nil)
                }
                steps.append(try model.forward(batch, caches: caches))
            }
            return (steps, caches)
        }
        let full = try run(twins: false), shared = try run(twins: true)
        #expect(full.logits == shared.logits)
        let width = model.config.keyValueWidth, position = prompt.count + 1
        func keys(_ cache: KVCache, _ layer: Int) -> [Float] {
            Array(UnsafeBufferPointer(start: cache.keys(layer: layer) + position * width, count: width))
        }
        for layer in [0, 19, 20, 29] {
            for (a, b) in zip(full.caches, shared.caches) { #expect(keys(a, layer) == keys(b, layer)) }
            #expect(shared.caches.map(\.length) == full.caches.map(\.length))
        }
        // Below the adapter the aligned side's cache is the reference's; from its first layer on it is not.
        #expect(keys(shared.caches[2], 19) == keys(shared.caches[0], 19))
        #expect(keys(shared.caches[2], 20) != keys(shared.caches[0], 20))
        // The adapter moves the aligned rows' logits.
        #expect(shared.logits[0].prefix(model.config.vocabularySize * 2) != shared.logits[0].suffix(model.config.vocabularySize * 2))
    }

    /// A shared-base pair prefills both sides in one pass (aligned rows as twins) and steps them together; each
    /// side's logits are still bit for bit those of its side alone, for SmolLM2 (Q4_1) and a K-quant Qwen (whose
    /// prompt products take tiles: the 0.5B, else the checker's 1.5B, which the test setup fetches), at a prompt
    /// long enough for the tiled attention kernel.
    @Test func pairPassesGiveEachSideItsLogitsAlone() throws {
        let qwen = ["qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"]
            .map { Support.root + "/models/" + $0 }.first { FileManager.default.fileExists(atPath: $0) }
        for path in [Support.smolLM2] + (qwen.map { [$0] } ?? []) {
            let bundle = try ModelBundle.open(path, workers: 2)
            let model = bundle.model
            let directory = Support.temporaryDirectory("twin-pair-\(model.config.layerCount)")
            let top = model.config.layerCount - 4
            try RandomPEFTAdapter(layers: top..<model.config.layerCount).write(to: directory, config: model.config)
            let pair = try RealignmentPair(reference: bundle, adapter: LoRAAdapter.open(directory, for: model))
            guard case let .adapter(index) = pair.aligned else { Issue.record("expected a shared base"); return }
            let passage = String(repeating: "The tower was built from 1887 to 1889 by Gustave Eiffel's company. ", count: 8)
            let prompt = try Support.chatPrompt(bundle, passage + "When was the tower built?")
            #expect(prompt.count > DecoderModel.flashAttentionTileRows)
            let v = pair.vocabularySize
            let caches = pair.makeCaches(capacity: prompt.count + 4)
            var both = [Float](repeating: 0, count: 2 * v)
            let steps = [prompt, [504], [2111]]
            let referenceCache = model.makeCache(capacity: prompt.count + 4)
            let alignedCache = model.makeCache(capacity: prompt.count + 4)
            for (n, tokens) in steps.enumerated() {
                try both.withUnsafeMutableBufferPointer { try pair.forward([(caches, tokens)], logits: $0.baseAddress!) }
                let reference = try model.forward(DecoderBatch(prompt: tokens), caches: [referenceCache])
                let aligned = try model.forward(DecoderBatch(prompt: tokens, adapter: index), caches: [alignedCache])
                #expect(Array(both[..<v]) == reference, "\(path) step \(n): reference side")
                #expect(Array(both[v...]) == aligned, "\(path) step \(n): aligned side")
                #expect(reference != aligned)
            }
        }
    }

    @Test func aTwinThatIsNotOneIsRefusedNamingTheRow() throws {
        let bundle = try Support.bundle()
        let model = bundle.model
        let directory = Support.temporaryDirectory("twin-bad")
        try RandomPEFTAdapter(layers: 10..<30).write(to: directory, config: model.config)
        let index = try model.attach(LoRAAdapter.open(directory, for: model))
        let caches = [model.makeCache(capacity: 8), model.makeCache(capacity: 8)]
        func step(_ tokens: (Int, Int), twin: Int) -> DecoderBatch {
            var batch = DecoderBatch()
            batch.append(token: tokens.0, sequence: 0, wantsLogits: true)
            batch.append(token: tokens.1, sequence: 1, wantsLogits: true, adapter: index, twin: twin)
            return batch
        }
        #expect(message { _ = try model.forward(step((5, 6), twin: 0), caches: caches) }
            .contains("batch row 1 is declared a twin but row 0 has another token"))
        #expect(message { _ = try model.forward(step((5, 5), twin: 1), caches: caches) }
            .contains("batch row 1 is declared a twin but row 1 is not an earlier row"))
        #expect(caches.map(\.length) == [0, 0], "a refused batch writes nothing")
        _ = try model.forward(step((5, 5), twin: 0), caches: caches)
        #expect(caches.map(\.length) == [1, 1])
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
