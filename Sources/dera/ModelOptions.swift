import ArgumentParser
import Foundation
import Formats
import Inference
import Pipelines
import Realign
import Tokenization

/// Which model a command uses when --model is not given.
protocol DefaultModel {
    static var path: String { get }
    /// How to get it, for the "not found" message.
    static var fetch: String { get }
}

/// The engine commands' default (generate, tokenize, bench, the checker's PMI): SmolLM2-135M-Instruct, small and fast.
enum EngineModel: DefaultModel {
    static let path = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
    static let fetch = "scripts/setup fetches it"
}

/// The answering commands' default (ask, tune, bench ask): the model whose grounded answers measured best
/// (``PipelineConfiguration/defaultModel``).
enum AnsweringModel: DefaultModel {
    static var path: String { PipelineConfiguration.defaultModel }
    static let fetch = "scripts/setup --qwen fetches it"
}

/// The factuality checker's verdict model (``PipelineConfiguration/defaultVerdictModel``).
enum CheckerModel: DefaultModel {
    static var path: String { PipelineConfiguration.defaultVerdictModel }
    static let fetch = "scripts/setup --checker fetches it"
}

/// A model path with the threads and arithmetic that run it.
protocol ModelChoice {
    var model: String { get }
    var threads: Int { get }
    var arithmetic: DecoderModel.Arithmetic { get }
}

/// Where the model comes from and how many threads run it; `Default` says which model when --model is absent.
struct ModelOptions<Default: DefaultModel>: ParsableArguments, ModelChoice {
    @Option(name: [.customLong("model"), .customLong("reference")],
            help: ArgumentHelp("A .gguf file or a Hugging Face model folder (config.json, *.safetensors, tokenizer.json); with --aligned or --adapter, the reference model.",
                               discussion: "Default: \(Default.path)."))
    var model: String = Default.path

    @Option(name: .long, help: "Worker threads (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .long, help: "llamaCpp: 8-bit activations and F16 attention, as llama.cpp computes (default, faster); float32: float activations throughout, matching a float reference.")
    var arithmetic: DecoderModel.Arithmetic = .llamaCpp

    func validate() throws {
        try NumericFlags.check("--threads", threads, in: 1...NumericFlags.maximumThreads)
    }

    /// The default model with the default arithmetic.
    static func openDefault(workers: Int) throws -> ModelBundle {
        guard FileManager.default.fileExists(atPath: Default.path) else {
            throw CommandError("model not found: \(Default.path) (\(Default.fetch))")
        }
        return try ModelBundle.open(Default.path, workers: workers)
    }

    func open() throws -> ModelBundle {
        guard FileManager.default.fileExists(atPath: model) else {
            throw CommandError("model not found: \(model)\(model == Default.path ? " (\(Default.fetch))" : "")")
        }
        let bundle = try ModelBundle.open(model, workers: threads)
        bundle.model.arithmetic = arithmetic
        return bundle
    }
}

/// The aligned side of decoding-time realignment and the mixing strengths.
///
/// With neither --aligned nor --adapter, the model's committed faithfulness adapter (if it has one) is the aligned
/// side (``PipelineConfiguration/committedAdapters``); --no-adapter turns it off.
struct RealignmentOptions: ParsableArguments {
    @Option(name: .long, help: "An aligned model with the reference's tokenizer (.gguf or Hugging Face folder): decode with DeRa.")
    var aligned: String?

    @Option(name: .long, help: ArgumentHelp(
        "A LoRA adapter (PEFT folder or llama.cpp LoRA .gguf) that makes the reference the aligned model: decode with DeRa in one pass over shared weights.",
        discussion: "Default: the committed faithfulness adapter of the model, if it has one (\(PipelineConfiguration.committedAdapters.map { "\($0.key): \($0.value)" }.sorted().joined(separator: "; ")))."))
    var adapter: String?

    @Flag(name: .long, help: "Decode with the model alone: no adapter, not even the default one.")
    var noAdapter = false

    @Option(name: .long, help: ArgumentHelp(
        "DeRa strength: logits = lambda * aligned + (1 - lambda) * reference; 0 = reference, 1 = aligned, > 1 extrapolates; or auto.",
        discussion: "auto (dera ask): decode several candidate lambdas in one batch and keep the one the checker and the naturalness measure choose. Default: the choice `dera tune` saved in models/controller/tuned.json for this model and adapter, else auto."))
    var lambda: LambdaArgument?

    @Option(name: .long, help: "A comma-separated sweep of lambdas (e.g. 0,0.5,1,2), decoded together in one batch (at most \(RealignmentOptions.maximumSweep)).")
    var lambdas: String?

    @OptionGroup var policy: LambdaPolicyOptions

    static let maximumSweep = NumericFlags.maximumSweep

    /// The adapter to use: the one given, else the model's committed adapter (unless --no-adapter or --aligned).
    func adapterPath(_ model: some ModelChoice) -> String? {
        if noAdapter || aligned != nil { return adapter }
        if let adapter { return adapter }
        guard let committed = PipelineConfiguration.committedAdapter(for: model.model),
              FileManager.default.fileExists(atPath: committed + "/adapter_config.json") else { return nil }
        return committed
    }

    func isRealigning(_ model: some ModelChoice) -> Bool { aligned != nil || adapterPath(model) != nil }

    func validate() throws {
        if aligned != nil && adapter != nil { throw ValidationError("give --aligned or --adapter, not both") }
        if noAdapter && (aligned != nil || adapter != nil) {
            throw ValidationError("--no-adapter decodes the model alone; drop --aligned/--adapter or --no-adapter")
        }
        if noAdapter && (lambdas != nil || lambda != nil) {
            throw ValidationError("--lambda and --lambdas need an aligned side; drop --no-adapter")
        }
        if lambdas != nil, lambda != nil { throw ValidationError("give --lambda or --lambdas, not both") }
        if case let .value(value)? = lambda { try NumericFlags.checkLambda("--lambda", value) }
        if policy.kind != .fixed {
            if noAdapter { throw ValidationError("--lambda-policy needs an aligned side; drop --no-adapter") }
            if lambdas != nil || lambda != nil {
                throw ValidationError("--lambda-policy \(policy.kind.rawValue) chooses lambda per token; drop --lambda/--lambdas")
            }
        }
        _ = try sweep(default: 0)
    }

    /// The policies to decode: one per --lambdas value or the single --lambda (`fallback` when none is given), or
    /// the adaptive --lambda-policy.
    func policies(default fallback: Float) throws -> [LambdaPolicy] {
        policy.kind == .fixed ? try sweep(default: fallback).map { .fixed($0) } : [policy.policy(fixed: fallback)]
    }

    /// The lambdas to decode: the --lambdas list, or the single --lambda (`fallback` when none is given).
    func sweep(default fallback: Float) throws -> [Float] {
        guard let lambdas else {
            if case let .value(value)? = lambda { return [value] }
            return [fallback]
        }
        return try NumericFlags.lambdas("--lambdas", lambdas)
    }

    /// The pair for an already opened reference `bundle`, or nil for the model alone.
    func pair(reference bundle: ModelBundle, _ model: some ModelChoice) throws -> RealignmentPair? {
        let adapter = adapterPath(model)
        for path in [aligned, adapter].compactMap({ $0 }) where !FileManager.default.fileExists(atPath: path) {
            throw CommandError("not found: \(path)")
        }
        if let adapter { return try RealignmentPair(reference: bundle, adapter: LoRAAdapter.open(adapter, for: bundle.model)) }
        guard let aligned else { return nil }
        let other = try ModelBundle.open(aligned, workers: model.threads)
        other.model.arithmetic = model.arithmetic
        return try RealignmentPair(reference: bundle, aligned: other)
    }
}

/// A `--lambda` value: a finite number or `auto`.
enum LambdaArgument: ExpressibleByArgument, Equatable {
    case value(Float)
    case auto

    init?(argument: String) {
        if argument == "auto" { self = .auto; return }
        guard let value = Float(argument), value.isFinite else { return nil }
        self = .value(value)
    }

    static var defaultCompletionKind: CompletionKind { .list(["auto", "0", "0.5", "1"]) }
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
        try NumericFlags.checkLambda("--lambda-min", lambdaMin)
        try NumericFlags.checkLambda("--lambda-max", lambdaMax)
        guard lambdaMin <= lambdaMax else { throw ValidationError("--lambda-min must be no larger than --lambda-max") }
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

    @Option(name: .long, help: "Softmax temperature: 0 decodes greedily, otherwise 0.001 to 100 (default: 0.7 for generate; 0, greedy, for ask, whose answers were measured greedy).")
    var temperature: Float?

    @Option(name: .long, help: "Keep the k most likely tokens (0 keeps all).")
    var topK = 50

    @Option(name: .long, help: "Keep the smallest set of tokens whose probability reaches p.")
    var topP: Float = 0.95

    @Option(name: .long, help: "Drop tokens less likely than min-p times the most likely one.")
    var minP: Float = 0

    @Option(name: .long, help: "Divide the logits of recently seen tokens by this, 0.01 to 100 (1 = off).")
    var repeatPenalty: Float = 1

    @Option(name: .long, help: "Random seed, for reproducible sampling.")
    var seed: UInt64 = 0

    /// Every flag is checked, --greedy or not, by the library's rule.
    func validate() throws {
        try NumericFlags.checkSampling(SamplingParameters(temperature: temperature ?? 0.7, topK: topK, topP: topP, minP: minP,
                                                          repetitionPenalty: repeatPenalty, seed: seed))
    }

    /// The sampler; `defaultTemperature` when --temperature is not given.
    func parameters(defaultTemperature: Float) -> SamplingParameters {
        let temperature = self.temperature ?? defaultTemperature
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

/// `--stop`: the text rules that end an output before the token limit (``TextStop``).
enum StopChoice: String, ExpressibleByArgument, CaseIterable {
    /// Every answer rule (``TextStop/answer``): a blank line, a line starting a passage marker, a sentence said
    /// again or sharing four words in a row with an earlier one, or a phrase said again right after itself.
    case paragraph
    /// The rules for longer outputs (``TextStop/repetition``): a sentence said again or a phrase looping.
    case `repeat`
    /// Only the model's end-of-generation token or the limit.
    case none

    var textStop: TextStop? {
        switch self {
        case .paragraph: .answer
        case .repeat: .repetition
        case .none: nil
        }
    }

    static let help = "paragraph (a blank line, a line starting a passage marker such as [2], a sentence said again or repeating four words in a row of an earlier one, or a phrase said again right after itself), repeat (a sentence or a phrase said again, for summaries) or none."
}
