import Formats

/// How rotary position embeddings pair up the dimensions of a head.
public enum RoPEStyle: Sendable, Equatable {
    /// Adjacent pairs (0,1), (2,3), ...: llama-architecture GGUF files, whose Q/K weights were permuted for it.
    case interleaved
    /// Halves (i, i + d/2): qwen2 GGUF files and every Hugging Face checkpoint ("rotate half", GPT-NeoX).
    case rotateHalf
}

/// The hyperparameters of a decoder-only transformer of the llama family.
public struct ModelConfig: Sendable, Equatable {
    public enum Architecture: String, Sendable { case llama, qwen2 }

    public var architecture: Architecture
    public var embeddingLength: Int
    public var feedForwardLength: Int
    public var layerCount: Int
    public var headCount: Int
    public var keyValueHeadCount: Int
    public var headDimension: Int
    public var vocabularySize: Int
    public var contextLength: Int
    public var rmsNormEpsilon: Float
    public var ropeBase: Float
    public var ropeStyle: RoPEStyle
    /// Q, K and V projections carry biases (qwen2).
    public var attentionBiases: Bool

    public init(architecture: Architecture, embeddingLength: Int, feedForwardLength: Int, layerCount: Int,
                headCount: Int, keyValueHeadCount: Int, headDimension: Int? = nil, vocabularySize: Int,
                contextLength: Int, rmsNormEpsilon: Float, ropeBase: Float, ropeStyle: RoPEStyle,
                attentionBiases: Bool) {
        self.architecture = architecture
        self.embeddingLength = embeddingLength
        self.feedForwardLength = feedForwardLength
        self.layerCount = layerCount
        self.headCount = headCount
        self.keyValueHeadCount = keyValueHeadCount
        self.headDimension = headDimension ?? embeddingLength / headCount
        self.vocabularySize = vocabularySize
        self.contextLength = contextLength
        self.rmsNormEpsilon = rmsNormEpsilon
        self.ropeBase = ropeBase
        self.ropeStyle = ropeStyle
        self.attentionBiases = attentionBiases
    }

    /// Reads `<arch>.*` metadata from a GGUF file.
    public init(gguf file: GGUFFile) throws {
        let name = try file.requireString("general.architecture")
        guard let architecture = Architecture(rawValue: name) else {
            throw ModelError.unsupportedArchitecture(path: file.path, name: name)
        }
        let p = name + "."
        let embedding = try file.requireInt(p + "embedding_length")
        let heads = try file.requireInt(p + "attention.head_count")
        let vocabulary = try file.int(p + "vocab_size")
            ?? file.strings("tokenizer.ggml.tokens")?.count
            ?? file.tensor("token_embd.weight").info.dimensions[1]
        self.init(
            architecture: architecture,
            embeddingLength: embedding,
            feedForwardLength: try file.requireInt(p + "feed_forward_length"),
            layerCount: try file.requireInt(p + "block_count"),
            headCount: heads,
            keyValueHeadCount: file.int(p + "attention.head_count_kv") ?? heads,
            headDimension: file.int(p + "attention.key_length"),
            vocabularySize: vocabulary,
            contextLength: file.int(p + "context_length") ?? 2048,
            rmsNormEpsilon: Float(file.double(p + "attention.layer_norm_rms_epsilon") ?? 1e-5),
            ropeBase: Float(file.double(p + "rope.freq_base") ?? 10_000),
            ropeStyle: architecture == .llama ? .interleaved : .rotateHalf,
            attentionBiases: architecture == .qwen2)
        try validate(path: file.path)
    }

    /// Reads a Hugging Face `config.json`.
    public init(hf folder: HFModelFolder) throws {
        let c = folder.config
        guard let architecture = Architecture(rawValue: c.modelType) else {
            throw ModelError.unsupportedArchitecture(path: folder.directory + "/config.json", name: c.modelType)
        }
        self.init(
            architecture: architecture, embeddingLength: c.hiddenSize, feedForwardLength: c.intermediateSize,
            layerCount: c.numHiddenLayers, headCount: c.numAttentionHeads,
            keyValueHeadCount: c.numKeyValueHeads ?? c.numAttentionHeads, headDimension: c.headDim,
            vocabularySize: c.vocabSize, contextLength: c.maxPositionEmbeddings ?? 2048,
            rmsNormEpsilon: Float(c.rmsNormEps ?? 1e-6), ropeBase: Float(c.ropeTheta ?? 10_000),
            ropeStyle: .rotateHalf, attentionBiases: architecture == .qwen2)
        try validate(path: folder.directory + "/config.json")
    }

    func validate(path: String) throws {
        func check(_ ok: Bool, _ field: String, _ reason: String) throws {
            if !ok { throw ModelError.invalidConfig(path: path, field: field, reason: reason) }
        }
        try check(embeddingLength > 0 && embeddingLength < 1 << 20, "embedding_length", "\(embeddingLength)")
        try check(layerCount > 0 && layerCount < 1000, "block_count", "\(layerCount)")
        try check(headCount > 0 && keyValueHeadCount > 0 && headCount % keyValueHeadCount == 0,
                  "attention.head_count_kv", "\(headCount) heads cannot share \(keyValueHeadCount) KV heads")
        try check(headDimension > 0 && headDimension % 2 == 0, "head dimension", "\(headDimension) must be even")
        try check(vocabularySize > 0, "vocab_size", "\(vocabularySize)")
        try check(feedForwardLength > 0, "feed_forward_length", "\(feedForwardLength)")
    }

    public var queryWidth: Int { headCount * headDimension }
    public var keyValueWidth: Int { keyValueHeadCount * headDimension }
}

/// Errors raised while building or running a model, naming the file and the tensor or field at fault.
public enum ModelError: Error, Equatable, CustomStringConvertible {
    case unsupportedArchitecture(path: String, name: String)
    case invalidConfig(path: String, field: String, reason: String)
    case badTensorShape(path: String, tensor: String, expected: [Int], found: [Int])
    case unsupportedTensorType(path: String, tensor: String, type: String)
    case tokenOutOfRange(token: Int, vocabularySize: Int)
    case contextFull(capacity: Int)
    case noSuchAdapter(index: Int, attached: Int)
    case invalidTwin(row: Int, reason: String)

    public var description: String {
        switch self {
        case let .unsupportedArchitecture(path, name):
            "\(path): architecture '\(name)' is not supported (llama and qwen2 are)"
        case let .invalidConfig(path, field, reason):
            "\(path): invalid \(field): \(reason)"
        case let .badTensorShape(path, tensor, expected, found):
            "\(path): tensor '\(tensor)' has shape \(found), expected \(expected) (innermost first)"
        case let .unsupportedTensorType(path, tensor, type):
            "\(path): tensor '\(tensor)' is \(type), which dera cannot compute with yet"
        case let .tokenOutOfRange(token, size):
            "token id \(token) is outside the vocabulary (0..<\(size))"
        case let .contextFull(capacity):
            "the context is full (\(capacity) positions); start a new sequence or raise the context size"
        case let .noSuchAdapter(index, attached):
            "batch row names adapter \(index) but the model has \(attached) attached"
        case let .invalidTwin(row, reason):
            "batch row \(row) is declared a twin but \(reason)"
        }
    }
}
