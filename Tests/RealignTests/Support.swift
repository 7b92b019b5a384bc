import Foundation
import Formats
import Testing
@testable import Inference
@testable import Realign
import Tokenization

/// Paths and models shared by the realignment tests.
enum Support {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static let smolLM2 = root + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"

    /// Under CI the model must be there (scripts/setup fetches it); elsewhere tests that need it are skipped.
    static var smolLM2Available: Bool {
        FileManager.default.fileExists(atPath: smolLM2) || ProcessInfo.processInfo.environment["CI"] != nil
    }

    static func temporaryDirectory(_ name: String) -> String {
        let dir = NSTemporaryDirectory() + "dera-realign-tests-\(getpid())/" + name
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func bundle(arithmetic: DecoderModel.Arithmetic = .llamaCpp, workers: Int = 2) throws -> ModelBundle {
        let bundle = try ModelBundle.open(smolLM2, workers: workers)
        bundle.model.arithmetic = arithmetic
        return bundle
    }

    /// A chat prompt for SmolLM2.
    static func chatPrompt(_ bundle: ModelBundle, _ question: String) throws -> [Int] {
        let template = try #require(bundle.chatTemplate)
        return template.encode([ChatMessage(role: "user", content: question)], tokenizer: bundle.tokenizer,
                               addGenerationPrompt: true)
    }
}

/// A LoRA adapter with random weights in Hugging Face PEFT format, written by the test (it stands in for an
/// aligned model wherever the test needs one it can vary).
struct RandomPEFTAdapter {
    var rank = 4
    var alpha = 8.0
    var seed: UInt64 = 7
    /// Spread of the uniform weights of A and B.
    var magnitude: Float = 0.12
    var projections = PEFTAdapterFolder.projections
    /// The layers that get an update (all when nil).
    var layers: Range<Int>? = nil
    var dtype: SafetensorsDType = .f32
    /// Values to plant in the written tensors: tensor name -> (element index, value), for adapters that must be
    /// refused (NaN, infinities, absurd magnitudes).
    var poison: [String: (element: Int, value: Float)] = [:]

    /// Writes adapter_config.json and adapter_model.safetensors for a model of `config` (Hugging Face layout).
    func write(to directory: String, config c: ModelConfig) throws {
        var random = SeededGenerator(seed: seed)
        func uniform(_ count: Int) -> [Float] {
            (0..<count).map { _ in (Float(random.next() >> 40) / Float(1 << 24) * 2 - 1) * magnitude }
        }
        func bytes(_ values: [Float]) -> [UInt8] {
            switch dtype {
            case .f16: values.flatMap { value in withUnsafeBytes(of: Float16(value).bitPattern.littleEndian, Array.init) }
            default: values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian, Array.init) }
            }
        }
        var tensors: [(name: String, dtype: SafetensorsDType, shape: [Int], bytes: [UInt8])] = []
        for layer in 0..<c.layerCount where layers?.contains(layer) ?? true {
            for projection in projections {
                let (outputs, inputs): (Int, Int) = switch projection {
                case "q_proj": (c.queryWidth, c.embeddingLength)
                case "k_proj", "v_proj": (c.keyValueWidth, c.embeddingLength)
                case "o_proj": (c.embeddingLength, c.queryWidth)
                case "gate_proj", "up_proj": (c.feedForwardLength, c.embeddingLength)
                default: (c.embeddingLength, c.feedForwardLength)
                }
                let module = ["q_proj", "k_proj", "v_proj", "o_proj"].contains(projection) ? "self_attn" : "mlp"
                let prefix = "base_model.model.model.layers.\(layer).\(module).\(projection)"
                func values(_ name: String, _ count: Int) -> [Float] {
                    var values = uniform(count)
                    if let (element, value) = poison[name] { values[element] = value }
                    return values
                }
                let a = prefix + ".lora_A.weight", b = prefix + ".lora_B.weight"
                tensors.append((a, dtype, [rank, inputs], bytes(values(a, rank * inputs))))
                tensors.append((b, dtype, [outputs, rank], bytes(values(b, outputs * rank))))
            }
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let config: [String: Any] = [
            "peft_type": "LORA", "r": rank, "lora_alpha": alpha, "target_modules": projections, "bias": "none",
            "use_rslora": false, "use_dora": false, "fan_in_fan_out": false, "rank_pattern": [String: Int](),
            "alpha_pattern": [String: Double](), "base_model_name_or_path": "HuggingFaceTB/SmolLM2-135M-Instruct",
        ]
        try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys])
            .write(to: URL(fileURLWithPath: directory + "/adapter_config.json"))
        try Data(SafetensorsFile.encode(tensors)).write(to: URL(fileURLWithPath: directory + "/adapter_model.safetensors"))
    }
}

/// Greedy decoding of a single model (optionally through one of its adapters), token by token, with the
/// engine alone: what "the aligned model by itself" produces.
func greedyDecode(_ model: DecoderModel, prompt: [Int], adapter: Int?, limit: Int, stop: Set<Int>) throws
    -> (tokens: [Int], logits: [[Float]]) {
    let cache = model.makeCache(capacity: prompt.count + limit + 1)
    var logits = try model.forward(DecoderBatch(prompt: prompt, adapter: adapter), caches: [cache])
    var tokens: [Int] = [], seen: [[Float]] = []
    while tokens.count < limit {
        seen.append(logits)
        let next = logits.withUnsafeBufferPointer { Sampler.argmax($0) }
        if stop.contains(next) { break }
        tokens.append(next)
        var batch = DecoderBatch()
        batch.append(token: next, sequence: 0, wantsLogits: true, adapter: adapter)
        logits = try model.forward(batch, caches: [cache])
    }
    return (tokens, seen)
}
