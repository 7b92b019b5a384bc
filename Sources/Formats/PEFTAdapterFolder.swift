import Foundation

/// A LoRA adapter as Hugging Face PEFT saves it: `adapter_config.json` beside `adapter_model.safetensors`.
///
/// Only the reading happens here: the configuration fields that change the maths (`r`, `lora_alpha`,
/// `use_rslora`, `target_modules`) are checked, and every `lora_A` / `lora_B` tensor is matched to its
/// transformer layer and projection. Options dera cannot honour (DoRA, trained biases, per-module rank or
/// alpha patterns, fan-in/fan-out storage) are refused with the field named, never silently ignored.
///
/// ```swift
/// let adapter = try PEFTAdapterFolder(directory: "models/adapters/smollm2-dpo-beta0.1")
/// for module in adapter.modules { print(module.layer, module.projection, module.rank) }
/// ```
public struct PEFTAdapterFolder: Sendable {
    /// One adapted projection: `W' = W + scale * B A`, with A (`lora_A`, rank x input) and B
    /// (`lora_B`, output x rank).
    public struct Module: Sendable, Equatable {
        public let layer: Int
        /// The projection's Hugging Face name: `q_proj`, `k_proj`, `v_proj`, `o_proj`, `gate_proj`,
        /// `up_proj` or `down_proj`.
        public let projection: String
        public let down: SafetensorsTensorInfo
        public let up: SafetensorsTensorInfo
        public var rank: Int { down.shape[0] }
        public var inputs: Int { down.shape[1] }
        public var outputs: Int { up.shape[0] }
    }

    public static let projections = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

    public let directory: String
    public let rank: Int
    public let alpha: Double
    public let usesRankStabilizedScaling: Bool
    public let targetModules: [String]
    /// `base_model_name_or_path` from the configuration, for messages.
    public let baseModel: String?
    public let weights: SafetensorsFile
    /// Sorted by layer, then by projection in ``projections`` order.
    public let modules: [Module]

    /// The factor PEFT applies to `B A`: `alpha / r`, or `alpha / sqrt(r)` with rank-stabilised LoRA.
    public var scale: Double { usesRankStabilizedScaling ? alpha / Double(rank).squareRoot() : alpha / Double(rank) }

    public var configPath: String { directory + "/adapter_config.json" }

    public static func isAdapterFolder(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path + "/adapter_config.json")
    }

    public init(directory: String) throws {
        self.directory = directory
        let configPath = directory + "/adapter_config.json"
        guard let data = FileManager.default.contents(atPath: configPath) else {
            throw FormatError.cannotOpen(path: configPath, reason: "no adapter_config.json in the adapter folder")
        }
        guard let config = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw FormatError.badJSON(path: configPath, reason: "not a JSON object")
        }
        func fail(_ field: String, _ reason: String) -> FormatError {
            .invalidValue(path: configPath, field: field, offset: 0, reason: reason)
        }
        if let type = config["peft_type"] as? String, type.uppercased() != "LORA" {
            throw fail("peft_type", "\(type) adapters are not supported, only LORA")
        }
        guard let r = config["r"] as? Int, r > 0 else { throw fail("r", "missing or not a positive integer") }
        guard let alpha = (config["lora_alpha"] as? NSNumber)?.doubleValue else {
            throw fail("lora_alpha", "missing or not a number")
        }
        rank = r
        self.alpha = alpha
        usesRankStabilizedScaling = config["use_rslora"] as? Bool ?? false
        baseModel = config["base_model_name_or_path"] as? String
        if config["use_dora"] as? Bool == true { throw fail("use_dora", "DoRA adapters are not supported") }
        if config["fan_in_fan_out"] as? Bool == true {
            throw fail("fan_in_fan_out", "transposed (Conv1D-style) LoRA weights are not supported")
        }
        if let bias = config["bias"] as? String, bias != "none" {
            throw fail("bias", "trained biases (\(bias)) are not supported")
        }
        for field in ["rank_pattern", "alpha_pattern"] {
            if let pattern = config[field] as? [String: Any], !pattern.isEmpty {
                throw fail(field, "per-module ranks or alphas are not supported")
            }
        }
        if let list = config["target_modules"] as? [String] {
            targetModules = list
        } else if let single = config["target_modules"] as? String {
            targetModules = [single]
        } else {
            targetModules = []
        }

        let weightsPath = directory + "/adapter_model.safetensors"
        guard FileManager.default.fileExists(atPath: weightsPath) else {
            throw FormatError.cannotOpen(path: weightsPath,
                                         reason: "no adapter_model.safetensors (adapter_model.bin is not read)")
        }
        weights = try SafetensorsFile(path: weightsPath)
        modules = try Self.pairModules(weights, path: weightsPath, rank: r)
        guard !modules.isEmpty else {
            throw FormatError.invalidValue(path: weightsPath, field: "tensors", offset: 0,
                                           reason: "no lora_A / lora_B tensors found")
        }
    }

    /// Matches `...layers.N.(self_attn|mlp).X_proj.lora_(A|B)[.adapter].weight` tensor names into modules.
    private static func pairModules(_ file: SafetensorsFile, path: String, rank: Int) throws -> [Module] {
        struct Key: Hashable { let layer: Int; let projection: String }
        var downs: [Key: SafetensorsTensorInfo] = [:], ups: [Key: SafetensorsTensorInfo] = [:]
        for (name, info) in file.tensors {
            func fail(_ reason: String) -> FormatError {
                .invalidValue(path: path, field: name, offset: info.range.lowerBound, reason: reason)
            }
            let parts = name.split(separator: ".").map(String.init)
            guard let side = parts.firstIndex(where: { $0 == "lora_A" || $0 == "lora_B" }) else {
                throw fail("not a LoRA tensor (dera reads lora_A and lora_B weights only)")
            }
            guard parts.last == "weight", side >= 1,
                  let layersAt = parts.lastIndex(of: "layers"), layersAt + 1 < side,
                  let layer = Int(parts[layersAt + 1]) else {
                throw fail("cannot tell which transformer layer this tensor adapts")
            }
            let projection = parts[side - 1]
            guard projections.contains(projection) else {
                throw fail("adapts \(projection); dera supports \(projections.joined(separator: ", "))")
            }
            guard info.shape.count == 2 else { throw fail("expected a 2-D tensor, found shape \(info.shape)") }
            guard [.f32, .f16, .bf16].contains(info.dtype) else {
                throw fail("LoRA weights must be F32, F16 or BF16, found \(info.dtype.rawValue)")
            }
            let key = Key(layer: layer, projection: projection)
            if parts[side] == "lora_A" {
                guard info.shape[0] == rank else { throw fail("lora_A has rank \(info.shape[0]), config says r=\(rank)") }
                downs[key] = info
            } else {
                guard info.shape[1] == rank else { throw fail("lora_B has rank \(info.shape[1]), config says r=\(rank)") }
                ups[key] = info
            }
        }
        var modules: [Module] = []
        for (key, down) in downs {
            guard let up = ups.removeValue(forKey: key) else {
                throw FormatError.missingTensor(path: path, tensor: down.name.replacingOccurrences(of: "lora_A", with: "lora_B"))
            }
            modules.append(Module(layer: key.layer, projection: key.projection, down: down, up: up))
        }
        if let orphan = ups.values.first {
            throw FormatError.missingTensor(path: path, tensor: orphan.name.replacingOccurrences(of: "lora_B", with: "lora_A"))
        }
        return modules.sorted {
            ($0.layer, projections.firstIndex(of: $0.projection)!) < ($1.layer, projections.firstIndex(of: $1.projection)!)
        }
    }
}
