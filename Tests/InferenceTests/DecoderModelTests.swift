import Foundation
import Formats
import Testing
@testable import Inference

@Suite struct DecoderModelTests {
    /// The test-written model, with float arithmetic unless asked otherwise (the textbook forward is float).
    static func open(_ tiny: TinyModel, name: String, workers: Int = 1,
                     arithmetic: DecoderModel.Arithmetic = .float32) throws -> DecoderModel {
        let path = NSTemporaryDirectory() + "dera-tiny-\(getpid())-\(name).gguf"
        try tiny.write(to: path)
        let model = try DecoderModel(gguf: GGUFFile(path: path), workers: workers)
        model.arithmetic = arithmetic
        return model
    }

    static func maxDifference(_ a: ArraySlice<Float>, _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
    }

    @Test(arguments: ["qwen2", "llama"])
    func promptLogitsMatchTextbookForward(architecture: String) throws {
        let tiny = TinyModel(architecture: architecture)
        let model = try Self.open(tiny, name: "prompt-\(architecture)")
        #expect(model.config.ropeStyle == (architecture == "llama" ? .interleaved : .rotateHalf))
        #expect(model.config.attentionBiases == (architecture == "qwen2"))
        let tokens = [3, 17, 42, 5, 96, 0, 11, 64, 8, 30]
        var batch = DecoderBatch()
        for t in tokens { batch.append(token: t, sequence: 0, wantsLogits: true) }
        let logits = try model.forward(batch, caches: [model.makeCache()])
        let expected = NaiveDecoder(config: model.config, weights: model.weights).logits(tokens)
        let v = model.config.vocabularySize
        for p in tokens.indices {
            let difference = Self.maxDifference(logits[(p * v)..<((p + 1) * v)], expected[p])
            #expect(difference < 1e-3, "position \(p): \(difference)")
        }
    }

    @Test func decodingTokenByTokenMatchesOnePrefill() throws {
        let model = try Self.open(TinyModel(matrixType: .q8_0), name: "incremental", workers: 2)
        let tokens = [1, 2, 3, 50, 60, 70, 80, 90]
        let whole = try model.forward(DecoderBatch(prompt: tokens), caches: [model.makeCache()])
        let cache = model.makeCache()
        _ = try model.forward(DecoderBatch(prompt: Array(tokens.prefix(3))), caches: [cache])
        var last: [Float] = []
        for t in tokens.dropFirst(3) {
            var step = DecoderBatch()
            step.append(token: t, sequence: 0, wantsLogits: true)
            last = try model.forward(step, caches: [cache])
        }
        #expect(cache.length == tokens.count)
        #expect(Self.maxDifference(whole[...], last) < 1e-3)
    }

    @Test func batchedSequencesMatchSeparateRuns() throws {
        let model = try Self.open(TinyModel(), name: "batched", workers: 2)
        let prompts = [[4, 8, 15, 16], [23, 42], [7, 7, 7, 7, 7, 7]]
        let separate = try prompts.map { try model.forward(DecoderBatch(prompt: $0), caches: [model.makeCache()]) }
        var batch = DecoderBatch()
        for (s, prompt) in prompts.enumerated() {
            for (i, t) in prompt.enumerated() { batch.append(token: t, sequence: s, wantsLogits: i == prompt.count - 1) }
        }
        let caches = prompts.map { _ in model.makeCache() }
        let together = try model.forward(batch, caches: caches)
        let v = model.config.vocabularySize
        for s in prompts.indices {
            #expect(Self.maxDifference(together[(s * v)..<((s + 1) * v)], separate[s]) < 1e-4)
        }
        // One decoding step for all three sequences at once equals three single steps.
        var step = DecoderBatch()
        for s in prompts.indices { step.append(token: 9 + s, sequence: s, wantsLogits: true) }
        let stepped = try model.forward(step, caches: caches)
        for (s, prompt) in prompts.enumerated() {
            let alone = try model.forward(DecoderBatch(prompt: prompt + [9 + s]), caches: [model.makeCache()])
            #expect(Self.maxDifference(stepped[(s * v)..<((s + 1) * v)], alone) < 1e-4)
        }
    }

    /// llama.cpp's rounding stays close to the float result, and is the same whether a prompt is prefilled
    /// at once or fed a token at a time (every row is quantised and attended on its own).
    @Test(arguments: ["qwen2", "llama"])
    func llamaCppArithmeticIsConsistentAndClose(architecture: String) throws {
        let tiny = TinyModel(architecture: architecture, matrixType: .q8_0)
        let model = try Self.open(tiny, name: "q8-\(architecture)", workers: 2, arithmetic: .llamaCpp)
        let reference = try Self.open(tiny, name: "f32-\(architecture)")
        let tokens = [3, 17, 42, 5, 96, 0, 11, 64]
        let whole = try model.forward(DecoderBatch(prompt: tokens), caches: [model.makeCache()])
        let cache = model.makeCache()
        var last: [Float] = []
        for t in tokens { last = try model.forward(DecoderBatch(prompt: [t]), caches: [cache]) }
        #expect(whole == last)
        let float = try reference.forward(DecoderBatch(prompt: tokens), caches: [reference.makeCache()])
        let spread = float.map(abs).max()!
        #expect(Self.maxDifference(whole[...], float) < spread * 0.05)
        #expect(Self.maxDifference(whole[...], float) > 0, "the 8-bit path should round differently")
    }

    @Test func sharedPrefixCacheCopiesMatch() throws {
        let model = try Self.open(TinyModel(), name: "prefix")
        let cache = model.makeCache()
        _ = try model.forward(DecoderBatch(prompt: [5, 6, 7]), caches: [cache])
        let fork = cache.copy()
        let a = try model.forward(DecoderBatch(prompt: [8]), caches: [cache])
        let b = try model.forward(DecoderBatch(prompt: [8]), caches: [fork])
        #expect(a == b)
    }

    @Test func rejectsBadTokensAndFullContext() throws {
        let model = try Self.open(TinyModel(), name: "errors")
        #expect(throws: ModelError.tokenOutOfRange(token: 97, vocabularySize: 97)) {
            try model.forward(DecoderBatch(prompt: [1, 97]), caches: [model.makeCache()])
        }
        let small = model.makeCache(capacity: 4)
        #expect(throws: ModelError.contextFull(capacity: 4)) {
            try model.forward(DecoderBatch(prompt: [1, 2, 3, 4, 5]), caches: [small])
        }
    }

    @Test func missingTensorAndBadShapeAreNamed() throws {
        let path = NSTemporaryDirectory() + "dera-tiny-\(getpid())-broken.gguf"
        try TinyModel(layers: 1).write(to: path)
        let file = try GGUFFile(path: path)
        var config = try ModelConfig(gguf: file)
        config.layerCount = 2
        #expect(throws: FormatError.missingTensor(path: path, tensor: "blk.1.attn_norm.weight")) {
            try DecoderWeights(source: file, names: .gguf, config: config)
        }
        config.layerCount = 1
        config.feedForwardLength = 95
        #expect(throws: ModelError.badTensorShape(path: path, tensor: "blk.0.ffn_gate.weight",
                                                  expected: [64, 95], found: [64, 96])) {
            try DecoderWeights(source: file, names: .gguf, config: config)
        }
    }
}
