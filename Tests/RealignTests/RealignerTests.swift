import Foundation
import Formats
import Testing
@testable import Inference
@testable import Realign
import Tokenization

/// DeRa on a real pair: SmolLM2-135M-Instruct as the reference; as the aligned model, the same weights plus a
/// LoRA adapter with random weights that the test writes.
@Suite(.enabled(if: Support.smolLM2Available, "needs models/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/setup)"))
struct RealignerTests {
    static let questions = ["What is the capital of France?", "Name three primary colours.",
                            "Write one sentence about the sea."]

    func adapterPair(arithmetic: DecoderModel.Arithmetic = .llamaCpp, name: String) throws -> RealignmentPair {
        let bundle = try Support.bundle(arithmetic: arithmetic)
        let directory = Support.temporaryDirectory(name)
        try RandomPEFTAdapter().write(to: directory, config: bundle.model.config)
        return try RealignmentPair(reference: bundle, adapter: LoRAAdapter.open(directory, for: bundle.model))
    }

    @Test func lambdaZeroIsTheReferenceAndLambdaOneTheAligned() throws {
        let pair = try adapterPair(name: "endpoints")
        guard case let .adapter(index) = pair.aligned else { Issue.record("expected a shared base"); return }
        let lone = try Support.bundle()  // the reference checkpoint with no adapter attached
        let stop = pair.tokenizer.endOfGenerationIDs
        let realigner = Realigner(pair: pair)
        var differing = 0
        for question in Self.questions {
            let prompt = try Support.chatPrompt(lone, question)
            let reference = try greedyDecode(lone.model, prompt: prompt, adapter: nil, limit: 24, stop: stop).tokens
            let aligned = try greedyDecode(pair.reference, prompt: prompt, adapter: index, limit: 24, stop: stop).tokens
            let (outputs, _) = try realigner.generate([0, 1].map { RealignmentRequest(prompt: prompt, lambda: $0, maxTokens: 24) })
            #expect(outputs[0].tokens == reference, "lambda 0 must decode exactly as the reference model alone")
            #expect(outputs[1].tokens == aligned, "lambda 1 must decode exactly as the aligned model alone")
            if reference != aligned { differing += 1 }
        }
        #expect(differing > 0, "the adapter should change at least one completion, or the test proves nothing")
    }

    @Test(arguments: [Float(0.5), 2])
    func mixedLogitsAreTheMixOfTheTwoModelsAtEveryStep(lambda: Float) throws {
        let pair = try adapterPair(name: "mix-\(lambda)")
        guard case let .adapter(index) = pair.aligned else { Issue.record("expected a shared base"); return }
        let prompt = try Support.chatPrompt(try Support.bundle(), Self.questions[2])
        var observed: [(reference: [Float], aligned: [Float], mixed: [Float])] = []
        let (output, _) = try Realigner(pair: pair).generate(
            [RealignmentRequest(prompt: prompt, lambda: lambda, maxTokens: 12)],
            observe: { _, r, a, m in observed.append((Array(r), Array(a), Array(m))) })
        let tokens = output[0].tokens
        #expect(observed.count == tokens.count + (output[0].stoppedAtEndOfGeneration ? 1 : 0))
        // The same token history run through each side alone gives the logits the mix saw.
        let model = pair.reference
        let referenceCache = model.makeCache(), alignedCache = model.makeCache()
        var reference = try model.forward(DecoderBatch(prompt: prompt), caches: [referenceCache])
        var aligned = try model.forward(DecoderBatch(prompt: prompt, adapter: index), caches: [alignedCache])
        for (step, seen) in observed.enumerated() {
            #expect(seen.reference == reference, "reference logits at step \(step)")
            #expect(seen.aligned == aligned, "aligned logits at step \(step)")
            var worst: Float = 0
            for i in seen.mixed.indices {
                let expected = lambda * aligned[i] + (1 - lambda) * reference[i]
                worst = max(worst, abs(seen.mixed[i] - expected) / max(1, abs(expected)))
            }
            #expect(worst < 1e-5, "mixed logits at step \(step) differ from lambda*a + (1-lambda)*r by \(worst)")
            guard step < tokens.count else { break }
            reference = try model.forward(DecoderBatch(prompt: [tokens[step]]), caches: [referenceCache])
            aligned = try model.forward(DecoderBatch(prompt: [tokens[step]], adapter: index), caches: [alignedCache])
        }
    }

    /// One pass over shared weights with the low-rank update on the aligned rows equals two models, the second
    /// with the adapter merged into its weights (float arithmetic: the merged matrices are F32).
    @Test func sharedBaseAdapterEqualsMergedWeightsInASecondModel() throws {
        let shared = try adapterPair(arithmetic: .float32, name: "merge")
        let adapter = shared.reference.adapters[0]
        let base = try Support.bundle(arithmetic: .float32)
        let merged = DecoderModel(config: base.model.config, weights: try base.model.weights.merging(adapter), workers: 2)
        merged.arithmetic = .float32
        let separate = try RealignmentPair(
            reference: try Support.bundle(arithmetic: .float32),
            aligned: ModelBundle(path: "merged", model: merged, tokenizer: base.tokenizer, chatTemplate: base.chatTemplate))
        #expect(!separate.sharesBase && shared.sharesBase)
        let prompt = try Support.chatPrompt(base, Self.questions[0])
        func run(_ pair: RealignmentPair) throws -> (tokens: [Int], aligned: [[Float]]) {
            var aligned: [[Float]] = []
            let (outputs, _) = try Realigner(pair: pair).generate(
                [RealignmentRequest(prompt: prompt, lambda: 0.5, maxTokens: 10)],
                observe: { _, _, a, _ in aligned.append(Array(a)) })
            return (outputs[0].tokens, aligned)
        }
        let a = try run(shared), b = try run(separate)
        #expect(a.tokens == b.tokens)
        var worst: Float = 0
        for (x, y) in zip(a.aligned, b.aligned) {
            for i in x.indices { worst = max(worst, abs(x[i] - y[i])) }
        }
        #expect(worst < 2e-3, "shared-base and merged aligned logits differ by \(worst)")
        // The adapter really moves the aligned logits away from the reference's.
        let plain = try Support.bundle(arithmetic: .float32)
        let referenceLogits = try plain.model.forward(DecoderBatch(prompt: prompt), caches: [plain.model.makeCache()])
        let moved = zip(referenceLogits, a.aligned[0]).map { abs($0 - $1) }.max()!
        #expect(moved > 0.1)
    }

    /// A fixed lambda of 0 or 1 reads one side, so the other side's rows are not run, unless an observer wants to
    /// see them; the tokens are the same either way.
    @Test func fixedEndpointsRunOneSide() throws {
        let pair = try adapterPair(name: "one-side")
        let realigner = Realigner(pair: pair)
        let prompt = try Support.chatPrompt(try Support.bundle(), Self.questions[2])
        for lambda: Float in [0, 1] {
            let request = RealignmentRequest(prompt: prompt, lambda: lambda, maxTokens: 12)
            let (alone, statistics) = try realigner.generate([request])
            #expect(statistics.rows == prompt.count + statistics.steps, "lambda \(lambda): one side")
            var observed = 0
            let (watched, both) = try realigner.generate([request], observe: { _, _, _, _ in observed += 1 })
            #expect(both.rows == 2 * (prompt.count + both.steps), "lambda \(lambda) observed: both sides")
            #expect(watched[0].tokens == alone[0].tokens && observed > 0)
        }
        let (_, mixed) = try realigner.generate([RealignmentRequest(prompt: prompt, lambda: 0.5, maxTokens: 12)])
        #expect(mixed.rows == 2 * (prompt.count + mixed.steps))
    }

    @Test func batchedLambdaSweepEqualsSeparateRuns() throws {
        let pair = try adapterPair(name: "sweep")
        let realigner = Realigner(pair: pair)
        let bundle = try Support.bundle()
        let prompt = try Support.chatPrompt(bundle, Self.questions[1])
        let other = try Support.chatPrompt(bundle, Self.questions[0])
        var sampled = SamplingParameters(temperature: 0.7, topK: 50, topP: 0.95, seed: 11)
        var requests = [0, 0.5, 1, 2].map { RealignmentRequest(prompt: prompt, lambda: Float($0), maxTokens: 20) }
        requests.append(RealignmentRequest(prompt: prompt, lambda: 0.5, sampling: sampled, maxTokens: 20))
        sampled.seed = 12
        requests.append(RealignmentRequest(prompt: other, lambda: 1.5, sampling: sampled, maxTokens: 16))
        var pieces = [String](repeating: "", count: requests.count)
        let (together, statistics) = try realigner.generate(requests, onPiece: { piece in
            pieces[piece.sequence] += piece.text
            return true
        })
        #expect(statistics.promptTokens == prompt.count + other.count, "a shared prompt is prefilled once")
        for (i, request) in requests.enumerated() {
            let (alone, _) = try realigner.generate([request])
            #expect(together[i].tokens == alone[0].tokens, "request \(i) (lambda \(request.policy))")
            #expect(together[i].text == pieces[i])
            #expect(together[i].text == pair.tokenizer.decode(together[i].tokens))
        }
        #expect(Set(together.prefix(4).map(\.tokens)).count > 1, "different lambdas should not all agree")
    }

    /// Sequences with one prompt whose tokens agree read one row per side until they part; each still gets the
    /// tokens of its lone run, whether its leader stops first (a shorter limit), goes on, or parts from it.
    @Test func sequencesThatAgreeShareTheirRowsUntilTheyPart() throws {
        let pair = try adapterPair(name: "shared-history")
        let realigner = Realigner(pair: pair)
        let prompt = try Support.chatPrompt(try Support.bundle(), Self.questions[1])
        // Two identical sequences, the first (the leader) stopping at 5 tokens: one pair of rows a step.
        let twins = [5, 14].map {
            RealignmentRequest(prompt: prompt, lambda: 0.5, maxTokens: $0, stopAtEndOfGeneration: false)
        }
        let (together, statistics) = try realigner.generate(twins)
        #expect(together[0].tokens == Array(together[1].tokens.prefix(5)))
        #expect(statistics.rows == 2 * (prompt.count + statistics.steps), "one sequence's rows while they agree")
        #expect(statistics.steps == 14 - 1)
        #expect(statistics.promptRows == 2 * prompt.count, "the prompt once, both sides")
        // A sweep and a sampled sequence: every output as alone; fewer rows than its sequences would run apart.
        var requests = [0, 0.5, 1, 2, 4].map {
            RealignmentRequest(prompt: prompt, lambda: Float($0), maxTokens: 16, stopAtEndOfGeneration: false)
        }
        requests.append(RealignmentRequest(prompt: prompt, lambda: 0.5, sampling: SamplingParameters(temperature: 1.2, seed: 3),
                                           maxTokens: 16, stopAtEndOfGeneration: false))
        let (outputs, sweep) = try realigner.generate(requests)
        var apart = prompt.count * 2
        for (i, request) in requests.enumerated() {
            let (alone, statistics) = try realigner.generate([request])
            #expect(outputs[i].tokens == alone[0].tokens, "request \(i) (lambda \(request.policy))")
            apart += statistics.rows - statistics.promptRows
        }
        #expect(Set(outputs.map(\.tokens)).count > 2, "the sweep should part, or the test proves nothing")
        #expect(sweep.rows < apart, "rows run \(sweep.rows), apart \(apart)")
    }

    @Test func streamDeliversTheSamePieces() async throws {
        let pair = try adapterPair(name: "stream")
        let prompt = try Support.chatPrompt(try Support.bundle(), Self.questions[2])
        let requests = [0.5, 2].map { RealignmentRequest(prompt: prompt, lambda: Float($0), maxTokens: 12) }
        let (expected, _) = try Realigner(pair: pair).generate(requests)
        var texts = ["", ""]
        for try await piece in Realigner(pair: pair).stream(requests) { texts[piece.sequence] += piece.text }
        #expect(texts == expected.map(\.text))
    }

    @Test func refusesModelsWhoseTokenizersDiffer() throws {
        let bundle = try Support.bundle()
        func tokenizer(_ texts: [String]) throws -> Tokenizer {
            var writer = GGUFWriter()
            writer.set("general.architecture", .string("llama"))
            writer.set("tokenizer.ggml.model", .string("gpt2"))
            writer.set("tokenizer.ggml.pre", .string("gpt-2"))
            writer.set("tokenizer.ggml.tokens", .array(texts.map { .string($0) }))
            writer.set("tokenizer.ggml.token_type", .array(texts.map { _ in .int32(1) }))
            writer.set("tokenizer.ggml.merges", .array([.string("a b")]))
            let path = Support.temporaryDirectory("tokenizers") + "/\(texts.joined()).gguf"
            try writer.write(to: path)
            return try Tokenizer(gguf: GGUFFile(path: path))
        }
        let a = ModelBundle(path: "a.gguf", model: bundle.model, tokenizer: try tokenizer(["a", "b", "ab", "c"]), chatTemplate: nil)
        let b = ModelBundle(path: "b.gguf", model: bundle.model, tokenizer: try tokenizer(["a", "b", "ab", "d"]), chatTemplate: nil)
        let c = ModelBundle(path: "c.gguf", model: bundle.model, tokenizer: try tokenizer(["a", "b", "ab"]), chatTemplate: nil)
        #expect(throws: RealignmentError.incompatible(reference: "a.gguf", aligned: "b.gguf",
                                                      reason: "token 3 is \"c\" in one and \"d\" in the other")) {
            try RealignmentPair(reference: a, aligned: b)
        }
        #expect(throws: RealignmentError.incompatible(reference: "a.gguf", aligned: "c.gguf",
                                                      reason: "the vocabularies have 4 and 3 tokens")) {
            try RealignmentPair(reference: a, aligned: c)
        }
        #expect(throws: RealignmentError.noAlignedModel) {
            try RealignmentPair.open(reference: Support.smolLM2, aligned: nil, adapter: nil)
        }
        _ = try RealignmentPair(reference: a, aligned: a)
    }
}
