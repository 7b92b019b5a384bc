import CKernels
import Foundation
import Formats

/// A low-rank adapter for a ``DecoderModel``: for each adapted projection W of a layer, `W' = W + B A` with
/// A of `rank x inputs` and B of `outputs x rank` (the LoRA scale already folded into B), held as floats.
///
/// Attached to a model (``DecoderModel/attach(_:)``), an adapter is applied only to the batch rows that name
/// it, so one pass over the shared base weights computes rows with and without it: the reference and the
/// aligned model of decoding-time realignment for little more than the price of one.
///
/// ```swift
/// let adapter = try LoRAAdapter.open("models/adapters/smollm2-dpo-beta0.1", for: model)
/// let index = try model.attach(adapter)
/// var batch = DecoderBatch(prompt: ids)
/// batch.adapters = Array(repeating: index, count: ids.count)
/// ```
public struct LoRAAdapter: Sendable {
    /// One projection's low-rank update.
    public struct Delta: Sendable {
        public let rank: Int
        public let inputs: Int
        public let outputs: Int
        /// A, `rank x inputs`, row-major.
        public let down: [Float]
        /// B times the adapter's scale, `outputs x rank`, row-major.
        public let up: [Float]
        /// The same B transposed (`rank x outputs`), the layout the update kernel streams.
        let upTransposed: [Float]

        public init(rank: Int, inputs: Int, outputs: Int, down: [Float], up: [Float]) {
            precondition(down.count == rank * inputs && up.count == outputs * rank, "LoRA delta shape")
            self.rank = rank
            self.inputs = inputs
            self.outputs = outputs
            self.down = down
            self.up = up
            var transposed = [Float](repeating: 0, count: up.count)
            for o in 0..<outputs { for k in 0..<rank { transposed[k * outputs + o] = up[o * rank + k] } }
            upTransposed = transposed
        }

        /// The dense `outputs x inputs` update `B A`.
        public func dense() -> [Float] {
            var result = [Float](repeating: 0, count: outputs * inputs)
            for o in 0..<outputs {
                for k in 0..<rank {
                    let b = up[o * rank + k]
                    if b == 0 { continue }
                    for i in 0..<inputs { result[o * inputs + i] += b * down[k * inputs + i] }
                }
            }
            return result
        }
    }

    /// Largest LoRA scale (`alpha / r`, or `alpha / sqrt(r)`) accepted. Trained adapters use 0.5 to 64; a scale
    /// far beyond makes the update swamp the base weights, and 1e30 overflows every activation.
    public static let maximumScale = 1e4
    /// Largest magnitude of an element of A or of B times the scale. Trained LoRA weights are around 0.01 to 1;
    /// values near the float range overflow the activations (inf, then NaN logits) without any NaN in the file.
    public static let maximumWeight: Float = 1e4

    /// The projections an adapter may change.
    public static let targets: [TensorNames.LayerTensor] = [.query, .key, .value, .attentionOutput, .gate, .up, .down]

    /// Where the adapter came from, for messages.
    public let path: String
    /// Per layer, the adapted projections.
    public let layers: [[TensorNames.LayerTensor: Delta]]

    public init(path: String, layers: [[TensorNames.LayerTensor: Delta]]) {
        self.path = path
        self.layers = layers
    }

    /// The largest rank of any projection.
    public var rank: Int { layers.flatMap(\.values).map(\.rank).max() ?? 0 }
    /// The first layer the adapter changes (`layers.count` when it changes none): below it a row with this
    /// adapter computes exactly what a row without one computes.
    public var firstAdaptedLayer: Int { layers.firstIndex { !$0.isEmpty } ?? layers.count }
    /// Floats held by the adapter.
    public var parameterCount: Int { layers.flatMap(\.values).reduce(0) { $0 + $1.down.count + $1.up.count } }

    /// Opens a PEFT adapter folder or a llama.cpp GGUF LoRA file for `model`.
    public static func open(_ path: String, for model: DecoderModel) throws -> LoRAAdapter {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FormatError.cannotOpen(path: path, reason: "no such adapter file or folder")
        }
        if isDirectory.boolValue { return try LoRAAdapter(peft: PEFTAdapterFolder(directory: path), config: model.config) }
        return try LoRAAdapter(gguf: GGUFFile(path: path), config: model.config)
    }

    /// Reads a PEFT adapter for a model of `config`.
    ///
    /// PEFT adapters are trained on Hugging Face weights. A llama-architecture GGUF stores its query and key
    /// rows permuted for interleaved rotary embeddings (``RoPEStyle/interleaved``), so the rows of B for
    /// `q_proj` and `k_proj` are permuted the same way to land on the rows they were trained for.
    public init(peft folder: PEFTAdapterFolder, config: ModelConfig) throws {
        let path = folder.weights.path
        var layers = [[TensorNames.LayerTensor: Delta]](repeating: [:], count: config.layerCount)
        try Self.checkScale(folder.scale, path: folder.configPath, field: "lora_alpha",
                            how: "lora_alpha \(folder.alpha) over r = \(folder.rank)"
                                + (folder.usesRankStabilizedScaling ? " (rsLoRA: over sqrt(r))" : ""))
        let scale = Float(folder.scale)
        for module in folder.modules {
            guard module.layer < config.layerCount else {
                throw ModelError.invalidConfig(path: path, field: module.down.name,
                                               reason: "layer \(module.layer) but the model has \(config.layerCount)")
            }
            let target = Self.target(projection: module.projection)
            let (outputs, inputs) = Self.shape(of: target, config: config)
            guard module.inputs == inputs, module.outputs == outputs else {
                throw ModelError.badTensorShape(path: path, tensor: module.down.name, expected: [inputs, outputs],
                                                found: [module.inputs, module.outputs])
            }
            let down = try Self.floats(folder.weights, module.down)
            var up = try Self.floats(folder.weights, module.up).map { $0 * scale }
            func offset(_ info: SafetensorsTensorInfo) -> (Int) -> Int {
                { folder.weights.dataOffset + info.range.lowerBound + $0 * info.dtype.byteSize }
            }
            try Self.checkWeights(down, path: path, tensor: module.down.name, scale: 1, offset: offset(module.down))
            try Self.checkWeights(up, path: path, tensor: module.up.name, scale: scale, offset: offset(module.up))
            if config.ropeStyle == .interleaved, target == .query || target == .key {
                up = Self.interleaveRotaryRows(up, rowWidth: module.rank, heads: outputs / config.headDimension,
                                               headDimension: config.headDimension)
            }
            layers[module.layer][target] = Delta(rank: module.rank, inputs: inputs, outputs: outputs, down: down, up: up)
        }
        self.init(path: folder.directory, layers: layers)
    }

    /// Reads a llama.cpp LoRA GGUF (`general.type = adapter`, `adapter.type = lora`): tensors
    /// `blk.N.<name>.weight.lora_a` (rank x inputs) and `.lora_b` (outputs x rank), scale
    /// `adapter.lora.alpha / rank`. llama.cpp's converter already permutes query and key rows.
    public init(gguf file: GGUFFile, config: ModelConfig) throws {
        if let type = file.string("general.type"), type != "adapter" {
            throw FormatError.invalidValue(path: file.path, field: "general.type", offset: 0,
                                           reason: "\"\(type)\": this GGUF is not an adapter")
        }
        if let type = file.string("adapter.type"), type != "lora" {
            throw FormatError.invalidValue(path: file.path, field: "adapter.type", offset: 0,
                                           reason: "\"\(type)\" adapters are not supported, only lora")
        }
        let alpha = file.double("adapter.lora.alpha") ?? 0
        guard alpha.isFinite else {
            throw FormatError.invalidValue(path: file.path, field: "adapter.lora.alpha", offset: 0,
                                           reason: "\(alpha) is not a finite number")
        }
        var layers = [[TensorNames.LayerTensor: Delta]](repeating: [:], count: config.layerCount)
        var found = 0
        for layer in 0..<config.layerCount {
            for target in Self.targets {
                let base = TensorNames.gguf.layer(layer, target)
                let nameA = base + ".lora_a", nameB = base + ".lora_b"
                guard let a = file.info(nameA) else {
                    if file.info(nameB) != nil { throw FormatError.missingTensor(path: file.path, tensor: nameA) }
                    continue
                }
                guard let b = file.info(nameB) else { throw FormatError.missingTensor(path: file.path, tensor: nameB) }
                let (outputs, inputs) = Self.shape(of: target, config: config)
                guard a.dimensions.count == 2, b.dimensions.count == 2, a.dimensions[0] == inputs,
                      b.dimensions[1] == outputs, a.dimensions[1] == b.dimensions[0] else {
                    throw ModelError.badTensorShape(path: file.path, tensor: nameA, expected: [inputs, outputs],
                                                    found: a.dimensions + b.dimensions)
                }
                let rank = a.dimensions[1]
                let scale: Float = alpha > 0 ? Float(alpha) / Float(rank) : 1
                if alpha > 0 {
                    try Self.checkScale(alpha / Double(rank), path: file.path, field: "adapter.lora.alpha",
                                        how: "alpha \(alpha) over rank \(rank) of \(nameA)")
                }
                let down = try Self.floats(file, nameA, type: a.type, count: rank * inputs)
                let up = try Self.floats(file, nameB, type: b.type, count: outputs * rank).map { $0 * scale }
                func offset(_ info: GGUFTensorInfo) -> (Int) -> Int {
                    { file.dataOffset + info.offset + $0 / info.type.blockLength * info.type.blockBytes }
                }
                try Self.checkWeights(down, path: file.path, tensor: nameA, scale: 1, offset: offset(a))
                try Self.checkWeights(up, path: file.path, tensor: nameB, scale: scale, offset: offset(b))
                layers[layer][target] = Delta(rank: rank, inputs: inputs, outputs: outputs, down: down, up: up)
                found += 1
            }
        }
        guard found > 0 else {
            throw FormatError.invalidValue(path: file.path, field: "tensors", offset: 0,
                                           reason: "no blk.N.*.weight.lora_a / lora_b tensors for this model")
        }
        self.init(path: file.path, layers: layers)
    }

    /// Refuses a LoRA scale that is not finite or beyond ``maximumScale``.
    static func checkScale(_ scale: Double, path: String, field: String, how: String) throws {
        guard scale.isFinite, abs(scale) <= maximumScale else {
            throw FormatError.invalidValue(
                path: path, field: field, offset: 0,
                reason: "LoRA scale \(scale) (\(how)) is not a finite number of magnitude at most \(Int(maximumScale))")
        }
    }

    /// Refuses a tensor holding NaN, an infinity, or a value (after the scale) beyond ``maximumWeight``, naming
    /// the element and its byte offset in the file.
    static func checkWeights(_ values: [Float], path: String, tensor: String, scale: Float,
                             offset: (Int) -> Int) throws {
        guard let bad = values.firstIndex(where: { !(abs($0) <= maximumWeight) }) else { return }
        let value = values[bad]
        let scaled = scale == 1 ? "" : " (after the LoRA scale \(scale))"
        let reason = value.isFinite
            ? "element \(bad) is \(value)\(scaled), beyond the ±\(Int(maximumWeight)) a LoRA weight may have"
            : "element \(bad) is \(value)\(scaled): LoRA weights must be finite"
        throw FormatError.invalidValue(path: path, field: tensor, offset: offset(bad), reason: reason)
    }

    /// Output and input width of a projection.
    static func shape(of target: TensorNames.LayerTensor, config c: ModelConfig) -> (outputs: Int, inputs: Int) {
        switch target {
        case .query: (c.queryWidth, c.embeddingLength)
        case .key, .value: (c.keyValueWidth, c.embeddingLength)
        case .attentionOutput: (c.embeddingLength, c.queryWidth)
        case .gate, .up: (c.feedForwardLength, c.embeddingLength)
        case .down: (c.embeddingLength, c.feedForwardLength)
        default: preconditionFailure("\(target) is not a projection")
        }
    }

    static func target(projection: String) -> TensorNames.LayerTensor {
        switch projection {
        case "q_proj": .query
        case "k_proj": .key
        case "v_proj": .value
        case "o_proj": .attentionOutput
        case "gate_proj": .gate
        case "up_proj": .up
        default: .down
        }
    }

    /// Moves Hugging Face's rotate-half row order within each head to llama.cpp's interleaved order: the
    /// row that pairs dimension i of the first half (s = 0) or of the second half (s = 1) goes to 2i + s.
    static func interleaveRotaryRows(_ rows: [Float], rowWidth: Int, heads: Int, headDimension: Int) -> [Float] {
        var result = rows
        let half = headDimension / 2
        for head in 0..<heads {
            for i in 0..<half {
                for s in 0..<2 {
                    let from = head * headDimension + s * half + i
                    let to = head * headDimension + 2 * i + s
                    for k in 0..<rowWidth { result[to * rowWidth + k] = rows[from * rowWidth + k] }
                }
            }
        }
        return result
    }

    private static func floats(_ file: SafetensorsFile, _ info: SafetensorsTensorInfo) throws -> [Float] {
        let bytes = try file.tensor(info.name).bytes
        let count = info.shape.reduce(1, *)
        return convert(bytes, type: info.dtype.ggmlType!, count: count)
    }

    private static func floats(_ file: GGUFFile, _ name: String, type: GGMLType, count: Int) throws -> [Float] {
        guard [.f32, .f16, .bf16, .q8_0].contains(type), count % type.blockLength == 0 else {
            throw ModelError.unsupportedTensorType(path: file.path, tensor: name, type: type.description)
        }
        return convert(try file.tensor(name).bytes, type: type, count: count)
    }

    private static func convert(_ bytes: UnsafeRawBufferPointer, type: GGMLType, count: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            dera_dequantize_row(type.rawValue, bytes.baseAddress!, buffer.baseAddress!, Int64(count))
            initialized = count
        }
    }
}
