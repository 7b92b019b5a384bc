import ArgumentParser
import Foundation
import Formats
import Inference
import Realign
import Tokenization

/// Where the model comes from and how many threads run it.
struct ModelOptions: ParsableArguments {
    static let defaultModel = "models/SmolLM2-135M-Instruct.Q4_1.gguf"

    @Option(name: [.customLong("model"), .customLong("reference")],
            help: "A .gguf file or a Hugging Face model folder (config.json, *.safetensors, tokenizer.json); with --aligned or --adapter, the reference model.")
    var model: String = ModelOptions.defaultModel

    @Option(name: .long, help: "Worker threads (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .long, help: "llamaCpp: 8-bit activations and F16 attention, as llama.cpp computes (default, faster); float32: float activations throughout, matching a float reference.")
    var arithmetic: DecoderModel.Arithmetic = .llamaCpp

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    func open() throws -> ModelBundle {
        guard FileManager.default.fileExists(atPath: model) else {
            throw CommandError(
                "model not found: \(model)\(model == Self.defaultModel ? " (run scripts/setup to fetch it)" : "")")
        }
        let bundle = try ModelBundle.open(model, workers: threads)
        bundle.model.arithmetic = arithmetic
        return bundle
    }
}

/// The aligned side of decoding-time realignment and the mixing strengths.
struct RealignmentOptions: ParsableArguments {
    @Option(name: .long, help: "An aligned model with the reference's tokenizer (.gguf or Hugging Face folder): decode with DeRa.")
    var aligned: String?

    @Option(name: .long, help: "A LoRA adapter (PEFT folder or llama.cpp LoRA .gguf) that makes the reference the aligned model: decode with DeRa in one pass over shared weights.")
    var adapter: String?

    @Option(name: .long, help: "DeRa strength: logits = lambda * aligned + (1 - lambda) * reference; 0 = reference, 1 = aligned, > 1 extrapolates.")
    var lambda: Float = 1

    @Option(name: .long, help: "A comma-separated sweep of lambdas (e.g. 0,0.5,1,2), decoded together in one batch.")
    var lambdas: String?

    @OptionGroup var policy: LambdaPolicyOptions

    var isRealigning: Bool { aligned != nil || adapter != nil }

    func validate() throws {
        if aligned != nil && adapter != nil { throw ValidationError("give --aligned or --adapter, not both") }
        if !isRealigning && (lambdas != nil) { throw ValidationError("--lambdas needs --aligned or --adapter") }
        if !isRealigning && policy.kind != .fixed { throw ValidationError("--lambda-policy needs --aligned or --adapter") }
        if lambdas != nil && policy.kind != .fixed { throw ValidationError("--lambdas sweeps fixed lambdas; drop it or --lambda-policy") }
        _ = try sweep()
    }

    /// The policies to decode: one per --lambdas value, the single --lambda, or the adaptive --lambda-policy.
    func policies() throws -> [LambdaPolicy] {
        policy.kind == .fixed ? try sweep().map { .fixed($0) } : [policy.policy(fixed: lambda)]
    }

    /// The lambdas to decode: the --lambdas list, or the single --lambda.
    func sweep() throws -> [Float] {
        guard let lambdas else { return [lambda] }
        let values = lambdas.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let parsed = values.compactMap(Float.init)
        guard parsed.count == values.count, !parsed.isEmpty, parsed.allSatisfy(\.isFinite) else {
            throw ValidationError("--lambdas must be comma-separated numbers, got '\(lambdas)'")
        }
        return parsed
    }

    /// The pair for an already opened reference `bundle`.
    func pair(reference bundle: ModelBundle, _ model: ModelOptions) throws -> RealignmentPair {
        for path in [aligned, adapter].compactMap({ $0 }) where !FileManager.default.fileExists(atPath: path) {
            throw CommandError("not found: \(path)")
        }
        if let adapter { return try RealignmentPair(reference: bundle, adapter: LoRAAdapter.open(adapter, for: bundle.model)) }
        let other = try ModelBundle.open(aligned!, workers: model.threads)
        other.model.arithmetic = model.arithmetic
        return try RealignmentPair(reference: bundle, aligned: other)
    }
}

/// How lambda is chosen at each decoding step.
struct LambdaPolicyOptions: ParsableArguments {
    enum Kind: String, ExpressibleByArgument, CaseIterable {
        case fixed, divergence, entropy
    }

    @Option(name: .long, help: "fixed: --lambda at every step; divergence: lambda per token from the Jensen-Shannon divergence of the aligned and reference distributions; entropy: from the reference's entropy (docs/decoding.md).")
    var lambdaPolicy: Kind = .fixed

    @Option(name: .long, help: "Lower bound of an adaptive lambda.")
    var lambdaMin: Float = 0

    @Option(name: .long, help: "Upper bound of an adaptive lambda.")
    var lambdaMax: Float = 1

    @Option(name: .long, help: "The divergence or entropy (nats) at which an adaptive lambda reaches its far bound (default: 0.1 for divergence, 2 for entropy).")
    var lambdaScale: Float?

    @Option(name: .long, help: "Where the divergence policy moves lambda when the models disagree: aligned (toward --lambda-max) or reference (toward --lambda-min).")
    var divergenceToward: DivergenceLambda.Direction = .towardAligned

    var kind: Kind { lambdaPolicy }

    func validate() throws {
        guard lambdaMin.isFinite, lambdaMax.isFinite, lambdaMin <= lambdaMax else {
            throw ValidationError("--lambda-min must be a number no larger than --lambda-max")
        }
        if let lambdaScale, !(lambdaScale > 0 && lambdaScale.isFinite) { throw ValidationError("--lambda-scale must be > 0") }
    }

    /// The policy these flags describe (`fixed` at `lambda`).
    func policy(fixed lambda: Float) -> LambdaPolicy {
        policy(kind, fixed: lambda, toward: divergenceToward)
    }

    func policy(_ kind: Kind, fixed lambda: Float, toward: DivergenceLambda.Direction) -> LambdaPolicy {
        switch kind {
        case .fixed: .fixed(lambda)
        case .divergence: .divergence(DivergenceLambda(minimum: lambdaMin, maximum: lambdaMax,
                                                       scale: lambdaScale ?? DivergenceLambda.defaultScale,
                                                       direction: toward))
        case .entropy: .entropy(EntropyLambda(minimum: lambdaMin, maximum: lambdaMax,
                                              scale: lambdaScale ?? EntropyLambda.defaultScale))
        }
    }

    /// A policy written as a number (fixed lambda), `divergence`, `divergence-reference` or `entropy`, with the
    /// bounds and scale of these flags.
    func policy(named text: String) -> LambdaPolicy? {
        if let lambda = Float(text), lambda.isFinite { return .fixed(lambda) }
        switch text {
        case "divergence", "divergence-aligned": return policy(.divergence, fixed: 0, toward: .towardAligned)
        case "divergence-reference": return policy(.divergence, fixed: 0, toward: .towardReference)
        case "entropy": return policy(.entropy, fixed: 0, toward: .towardAligned)
        default: return nil
        }
    }
}

extension DivergenceLambda.Direction: ExpressibleByArgument {}

/// Sampling flags shared by the generating commands.
struct SamplingOptions: ParsableArguments {
    @Flag(name: .long, help: "Greedy decoding (same as --temperature 0).")
    var greedy = false

    @Option(name: .long, help: "Softmax temperature; 0 decodes greedily.")
    var temperature: Float = 0.7

    @Option(name: .long, help: "Keep the k most likely tokens (0 keeps all).")
    var topK = 50

    @Option(name: .long, help: "Keep the smallest set of tokens whose probability reaches p.")
    var topP: Float = 0.95

    @Option(name: .long, help: "Drop tokens less likely than min-p times the most likely one.")
    var minP: Float = 0

    @Option(name: .long, help: "Divide the logits of recently seen tokens by this (1 = off).")
    var repeatPenalty: Float = 1

    @Option(name: .long, help: "Random seed, for reproducible sampling.")
    var seed: UInt64 = 0

    func validate() throws {
        guard temperature >= 0 else { throw ValidationError("--temperature must be >= 0") }
        guard topK >= 0 else { throw ValidationError("--top-k must be >= 0") }
        guard topP > 0, topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        guard minP >= 0, minP < 1 else { throw ValidationError("--min-p must be in [0, 1)") }
        guard repeatPenalty > 0 else { throw ValidationError("--repeat-penalty must be > 0") }
    }

    var parameters: SamplingParameters {
        if greedy || temperature == 0 { return .greedy }
        return SamplingParameters(temperature: temperature, topK: topK, topP: topP, minP: minP,
                                  repetitionPenalty: repeatPenalty, seed: seed)
    }
}

/// The tokenizer alone, without mapping the weights' compute path.
func loadTokenizer(_ path: String) throws -> Tokenizer {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw CommandError("model not found: \(path)")
    }
    if isDirectory.boolValue { return try Tokenizer(tokenizerJSONPath: path + "/tokenizer.json") }
    return try Tokenizer(gguf: GGUFFile(path: path))
}

extension DecoderModel.Arithmetic: ExpressibleByArgument {}

/// A failure while running a command (a missing file, a failed peer run): printed as `Error: ...` without
/// the usage text that argument mistakes get.
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
