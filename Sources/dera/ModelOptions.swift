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
        try NumericFlags.check("--threads", threads, in: 1...NumericFlags.maximumThreads)
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

    @Option(name: .long, help: "DeRa strength in [0, 100]: logits = lambda * aligned + (1 - lambda) * reference; 0 = reference, 1 = aligned, > 1 extrapolates.")
    var lambda: Float = 1

    @Option(name: .long, help: "A comma-separated sweep of up to 16 lambdas (e.g. 0,0.5,1,2), decoded together in one batch.")
    var lambdas: String?

    var isRealigning: Bool { aligned != nil || adapter != nil }

    func validate() throws {
        if aligned != nil && adapter != nil { throw ValidationError("give --aligned or --adapter, not both") }
        if !isRealigning && (lambdas != nil) { throw ValidationError("--lambdas needs --aligned or --adapter") }
        try NumericFlags.checkLambda("--lambda", lambda)
        _ = try sweep()
    }

    /// The lambdas to decode: the --lambdas list (at most ``NumericFlags/maximumSweep``), or the single --lambda.
    func sweep() throws -> [Float] {
        guard let lambdas else { return [lambda] }
        return try NumericFlags.lambdas("--lambdas", lambdas)
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

/// Sampling flags shared by the generating commands.
struct SamplingOptions: ParsableArguments {
    @Flag(name: .long, help: "Greedy decoding (same as --temperature 0).")
    var greedy = false

    @Option(name: .long, help: "Softmax temperature: 0 decodes greedily, otherwise 0.001 to 100.")
    var temperature: Float = 0.7

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
        try NumericFlags.checkSampling(SamplingParameters(temperature: temperature, topK: topK, topP: topP, minP: minP,
                                                          repetitionPenalty: repeatPenalty, seed: seed))
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
