import Foundation

/// The fields of a Hugging Face `config.json` that the llama and qwen2 architectures need.
public struct HFConfig: Sendable, Decodable, Equatable {
    public var modelType: String
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int?
    public var headDim: Int?
    public var vocabSize: Int
    public var rmsNormEps: Double?
    public var ropeTheta: Double?
    public var maxPositionEmbeddings: Int?
    public var tieWordEmbeddings: Bool?
    public var bosTokenId: Int?
    public var eosTokenId: Int?

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads", headDim = "head_dim", vocabSize = "vocab_size"
        case rmsNormEps = "rms_norm_eps", ropeTheta = "rope_theta"
        case maxPositionEmbeddings = "max_position_embeddings", tieWordEmbeddings = "tie_word_embeddings"
        case bosTokenId = "bos_token_id", eosTokenId = "eos_token_id"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        modelType = try c.decode(String.self, forKey: .modelType)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.decode(Int.self, forKey: .numAttentionHeads)
        numKeyValueHeads = try c.decodeIfPresent(Int.self, forKey: .numKeyValueHeads)
        headDim = try c.decodeIfPresent(Int.self, forKey: .headDim)
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        rmsNormEps = try c.decodeIfPresent(Double.self, forKey: .rmsNormEps)
        ropeTheta = try c.decodeIfPresent(Double.self, forKey: .ropeTheta)
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings)
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings)
        // eos_token_id may be a list in newer configs; take the first.
        bosTokenId = try? c.decodeIfPresent(Int.self, forKey: .bosTokenId)
        eosTokenId = (try? c.decodeIfPresent(Int.self, forKey: .eosTokenId))
            ?? (try? c.decodeIfPresent([Int].self, forKey: .eosTokenId))?.first
    }
}

/// A Hugging Face model folder: `config.json`, one or more `*.safetensors` (with
/// `model.safetensors.index.json` when sharded) and `tokenizer.json`.
public struct HFModelFolder: Sendable {
    public let directory: String
    public let config: HFConfig
    /// Every tensor name mapped to the shard that holds it.
    public let shards: [SafetensorsFile]
    private let tensorShard: [String: Int]

    public var tokenizerPath: String { directory + "/tokenizer.json" }

    public init(directory: String) throws {
        self.directory = directory
        let configPath = directory + "/config.json"
        guard let configData = FileManager.default.contents(atPath: configPath) else {
            throw FormatError.cannotOpen(path: configPath, reason: "no config.json in the model folder")
        }
        do {
            config = try JSONDecoder().decode(HFConfig.self, from: configData)
        } catch let DecodingError.keyNotFound(key, _) {
            throw FormatError.missingKey(path: configPath, key: key.stringValue)
        } catch {
            throw FormatError.badJSON(path: configPath, reason: "\(error)")
        }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let names = files.filter { $0.hasSuffix(".safetensors") }.sorted()
        guard !names.isEmpty else {
            throw FormatError.cannotOpen(path: directory, reason: "no *.safetensors files in the model folder")
        }
        var shards: [SafetensorsFile] = []
        var map: [String: Int] = [:]
        for name in names {
            let shard = try SafetensorsFile(path: directory + "/" + name)
            for tensor in shard.tensors.keys { map[tensor] = shards.count }
            shards.append(shard)
        }
        self.shards = shards
        tensorShard = map
    }

    public var tensorNames: [String] { Array(tensorShard.keys) }

    public func tensor(_ name: String) throws -> (info: SafetensorsTensorInfo, bytes: UnsafeRawBufferPointer) {
        guard let index = tensorShard[name] else { throw FormatError.missingTensor(path: directory, tensor: name) }
        return try shards[index].tensor(name)
    }
}
