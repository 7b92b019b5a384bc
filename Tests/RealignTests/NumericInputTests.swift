import Foundation
import Formats
import Testing
@testable import Inference
@testable import Realign
import Tokenization

/// Decoding settings outside their meaningful range are refused with the parameter named (issue 13:
/// `--lambda nan`, `--temperature 1e-40`, `--max-tokens -1` gave empty output or garbage with exit 0).
@Suite struct DecodingLimitsTests {
    func refusal(_ body: () throws -> Void) -> DecodingParameterError? {
        do { try body() } catch let error as DecodingParameterError { return error } catch {
            Issue.record("unexpected error \(error)")
        }
        return nil
    }

    @Test func samplingSettingsOutOfRangeAreNamed() {
        var cases: [(SamplingParameters, String)] = []
        for t: Float in [.infinity, .nan, 1e-40, -0.5, 1000] { cases.append((SamplingParameters(temperature: t), "temperature")) }
        cases.append((SamplingParameters(topK: -1), "topK"))
        for p: Float in [0, -1, 1.5, .nan, .infinity] { cases.append((SamplingParameters(topP: p), "topP")) }
        for p: Float in [-0.1, 1, .nan] { cases.append((SamplingParameters(minP: p), "minP")) }
        for r: Float in [0, -1, .infinity, .nan, 1e-30, 1e9] { cases.append((SamplingParameters(repetitionPenalty: r), "repetitionPenalty")) }
        cases.append((SamplingParameters(penaltyWindow: -1), "penaltyWindow"))
        for (parameters, name) in cases {
            let error = refusal { try parameters.validate() }
            #expect(error?.parameter == name, "\(parameters)")
            #expect(error.map { "\($0)" }?.hasPrefix(name + " must be") == true)
        }
        // The defaults, greedy and the edges of each range pass.
        for parameters in [SamplingParameters(), .greedy, SamplingParameters(temperature: 0.001, topK: 0, topP: 1, minP: 0.99,
                                                                           repetitionPenalty: 100, penaltyWindow: 0)] {
            #expect(refusal { try parameters.validate() } == nil)
        }
    }

    @Test func lambdaAndTokenLimitOutOfRangeAreNamed() {
        for lambda: Float in [.nan, .infinity, -.infinity, -1, 1e30, 100.5] {
            let error = refusal { try RealignmentRequest(prompt: [1], lambda: lambda).validate(request: 3) }
            #expect(error?.parameter == "lambda" && error?.request == 3, "\(lambda)")
        }
        for maxTokens in [-1, 0, Int.max] {
            #expect(refusal { try RealignmentRequest(prompt: [1], lambda: 1, maxTokens: maxTokens).validate() }?.parameter
                    == "maxTokens")
        }
        for lambda: Float in [0, 0.5, 1, 2, 100] {
            #expect(refusal { try RealignmentRequest(prompt: [1], lambda: lambda).validate() } == nil)
        }
        let error = DecodingParameterError(parameter: "lambda", value: "nan", requirement: "between 0 and 100", request: 2)
        #expect(error.description == "lambda must be between 0 and 100, got nan (request 2)")
    }

    /// lambda 0 copies the reference and 1 the aligned side: NaN on the other side cannot leak in (0 * NaN is NaN).
    @Test func mixEndpointsNeverReadTheOtherSide() {
        let finite: [Float] = [1.5, -2, 0, 3.25], broken: [Float] = [.nan, .infinity, -.infinity, .nan]
        #expect(LogitMix.mix(aligned: broken, reference: finite, lambda: 0) == finite)
        #expect(LogitMix.mix(aligned: finite, reference: broken, lambda: 1) == finite)
        #expect(LogitMix.mix(aligned: broken, reference: finite, lambda: 0.5).allSatisfy(\.isNaN) == false)
        #expect(LogitMix.mix(aligned: broken, reference: finite, lambda: 0.5)[0].isNaN)
        // In place, aliasing the side that is kept.
        var logits = finite
        logits.withUnsafeMutableBufferPointer { buffer in
            broken.withUnsafeBufferPointer { other in
                LogitMix.mix(aligned: other.baseAddress!, reference: buffer.baseAddress!, lambda: 0, count: 4,
                             into: buffer.baseAddress!)
            }
        }
        #expect(logits == finite)
    }
}

@Suite(.enabled(if: Support.smolLM2Available, "needs models/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/setup)"))
struct NumericInputTests {
    func message(_ body: () throws -> Void) -> String {
        do { try body() } catch { return "\(error)" }
        return "no error"
    }

    @Test func generatorsRefuseBadSettingsBeforeAnyWork() throws {
        let bundle = try Support.bundle()
        let directory = Support.temporaryDirectory("limits")
        try RandomPEFTAdapter(rank: 2, projections: ["q_proj"]).write(to: directory, config: bundle.model.config)
        let pair = try RealignmentPair(reference: bundle, adapter: LoRAAdapter.open(directory, for: bundle.model))
        let prompt = try Support.chatPrompt(bundle, "Hi")
        let realigner = Realigner(pair: pair)
        for lambda: Float in [.nan, .infinity, 1e30, -1] {
            #expect(throws: DecodingParameterError.self) {
                _ = try realigner.generate(prompt: prompt, lambda: lambda, maxTokens: 4)
            }
        }
        // In a sweep the message names the request.
        let sweep = [RealignmentRequest(prompt: prompt, lambda: 0.5), RealignmentRequest(prompt: prompt, lambda: .nan)]
        #expect(message { _ = try realigner.generate(sweep) } == "lambda must be between 0 and 100, got nan (request 1)")
        #expect(message { _ = try realigner.generate(prompt: prompt, lambda: 1, maxTokens: -1) }
                == "maxTokens must be between 1 and 1000000, got -1")
        let generator = TextGenerator(bundle: bundle)
        #expect(message { _ = try generator.generate(prompt: prompt, maxTokens: -1) }
                == "maxTokens must be between 1 and 1000000, got -1")
        #expect(message { _ = try generator.generate(prompt: prompt, maxTokens: 4, sampling: SamplingParameters(temperature: 1e-40)) }
                .hasPrefix("temperature must be 0 (greedy) or between 0.001 and 100, got 1e-40"))
    }

    /// An adapter that makes the aligned side all NaN (built in memory: files like it are refused at load) leaves
    /// lambda 0 exactly the reference model alone, token for token and logit for logit.
    @Test func lambdaZeroIsTheReferenceWhateverTheAdapter() throws {
        let bundle = try Support.bundle()
        let c = bundle.model.config
        let nan = Float.nan
        let layers = (0..<c.layerCount).map { _ in
            [TensorNames.LayerTensor.query: LoRAAdapter.Delta(
                rank: 1, inputs: c.embeddingLength, outputs: c.queryWidth,
                down: [Float](repeating: nan, count: c.embeddingLength), up: [Float](repeating: nan, count: c.queryWidth))]
        }
        let pair = try RealignmentPair(reference: bundle, adapter: LoRAAdapter(path: "all-nan", layers: layers))
        let lone = try Support.bundle()
        let prompt = try Support.chatPrompt(lone, "What is the capital of France?")
        let expected = try greedyDecode(lone.model, prompt: prompt, adapter: nil, limit: 12,
                                        stop: lone.tokenizer.endOfGenerationIDs)
        var sawNaN = false, exact = true
        var step = 0
        let (output, _) = try Realigner(pair: pair).generate(
            [RealignmentRequest(prompt: prompt, lambda: 0, maxTokens: 12)],
            observe: { _, reference, aligned, mixed in
                sawNaN = sawNaN || aligned.contains { $0.isNaN }
                if step < expected.logits.count { exact = exact && Array(mixed) == expected.logits[step] }
                exact = exact && Array(mixed) == Array(reference)
                step += 1
            })
        #expect(sawNaN, "the aligned side must be broken, or the test proves nothing")
        #expect(exact, "lambda 0 must pass the reference logits through untouched")
        #expect(output[0].tokens == expected.tokens)
        #expect(!output[0].tokens.isEmpty)
    }

    @Test func adapterFilesWithNonFiniteOrAbsurdValuesAreRefused() throws {
        let bundle = try Support.bundle()
        let config = bundle.model.config
        let layer = "base_model.model.model.layers.3.self_attn.q_proj"
        for (name, tensor, element, value) in [("nan", ".lora_A.weight", 5, Float.nan),
                                               ("inf", ".lora_B.weight", 7, -Float.infinity),
                                               ("huge", ".lora_A.weight", 0, 1e20)] {
            let directory = Support.temporaryDirectory("poison-" + name)
            try RandomPEFTAdapter(rank: 2, projections: ["q_proj"], poison: [layer + tensor: (element, value)])
                .write(to: directory, config: config)
            let text = message { _ = try LoRAAdapter.open(directory, for: bundle.model) }
            #expect(text.contains(directory + "/adapter_model.safetensors"), "\(text)")
            #expect(text.contains("invalid " + layer + tensor) && text.contains("element \(element) is"), "\(text)")
            // The offset points at the element: read it back from the file.
            let folder = try PEFTAdapterFolder(directory: directory)
            let info = try #require(folder.weights.tensors[layer + tensor])
            let offset = folder.weights.dataOffset + info.range.lowerBound + element * 4
            #expect(text.contains("at offset \(offset):"), "\(text)")
        }
        // A scale of 1e30 / 2.
        let huge = Support.temporaryDirectory("poison-alpha")
        try RandomPEFTAdapter(rank: 2, alpha: 1e30, projections: ["q_proj"]).write(to: huge, config: config)
        let text = message { _ = try LoRAAdapter.open(huge, for: bundle.model) }
        #expect(text.contains(huge + "/adapter_config.json: invalid lora_alpha") && text.contains("LoRA scale 5e+29"), "\(text)")
        // A sane adapter still loads.
        let fine = Support.temporaryDirectory("poison-none")
        try RandomPEFTAdapter(rank: 2, alpha: 16, projections: ["q_proj"]).write(to: fine, config: config)
        #expect(message { _ = try LoRAAdapter.open(fine, for: bundle.model) } == "no error")
    }

    @Test func ggufAdaptersWithNonFiniteOrAbsurdValuesAreRefused() throws {
        let bundle = try Support.bundle()
        let c = bundle.model.config
        func write(_ name: String, alpha: Float, b: [Float]) throws -> String {
            var writer = GGUFWriter()
            writer.set("general.architecture", .string("llama"))
            writer.set("general.type", .string("adapter"))
            writer.set("adapter.type", .string("lora"))
            writer.set("adapter.lora.alpha", .float32(alpha))
            let tensor = TensorNames.gguf.layer(0, .value)
            writer.addTensor(tensor + ".lora_a", dimensions: [c.embeddingLength, 2],
                             floats: [Float](repeating: 0.01, count: 2 * c.embeddingLength))
            writer.addTensor(tensor + ".lora_b", dimensions: [2, c.keyValueWidth], floats: b)
            let path = Support.temporaryDirectory("gguf-poison") + "/\(name).gguf"
            try writer.write(to: path)
            return path
        }
        var b = [Float](repeating: 0.01, count: 2 * c.keyValueWidth)
        let fine = try write("fine", alpha: 4, b: b)
        #expect(message { _ = try LoRAAdapter.open(fine, for: bundle.model) } == "no error")
        let alpha = try write("alpha", alpha: 1e30, b: b)
        let alphaText = message { _ = try LoRAAdapter.open(alpha, for: bundle.model) }
        #expect(alphaText.contains(alpha + ": invalid adapter.lora.alpha") && alphaText.contains("LoRA scale"), "\(alphaText)")
        b[9] = .nan
        let nan = try write("nan", alpha: 4, b: b)
        let nanText = message { _ = try LoRAAdapter.open(nan, for: bundle.model) }
        #expect(nanText.contains(nan + ": invalid blk.0.attn_v.weight.lora_b") && nanText.contains("element 9 is nan"),
                "\(nanText)")
    }
}
