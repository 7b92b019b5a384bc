import Foundation

/// The shape of a BERT encoder, read from a Hugging Face `config.json`.
public struct BertConfig: Sendable, Hashable {
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var intermediateSize: Int
    public var maximumPositions: Int
    public var tokenTypes: Int
    public var layerNormEpsilon: Float

    public var headDimension: Int { hiddenSize / heads }

    public init(vocabularySize: Int, hiddenSize: Int, layers: Int, heads: Int, intermediateSize: Int,
                maximumPositions: Int, tokenTypes: Int = 2, layerNormEpsilon: Float = 1e-12) {
        self.vocabularySize = vocabularySize
        self.hiddenSize = hiddenSize
        self.layers = layers
        self.heads = heads
        self.intermediateSize = intermediateSize
        self.maximumPositions = maximumPositions
        self.tokenTypes = tokenTypes
        self.layerNormEpsilon = layerNormEpsilon
    }

    /// Reads `config.json`; only `model_type` "bert" with absolute positions and the exact GELU is accepted.
    /// - Throws: ``EmbedderError`` naming the file and the field.
    public init(configPath path: String) throws {
        let object: [String: Any]
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard let parsed = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw EmbedderError(path: path, reason: "not a JSON object")
            }
            object = parsed
        } catch let error as EmbedderError {
            throw error
        } catch {
            throw EmbedderError(path: path, reason: "cannot read: \(error.localizedDescription)")
        }
        func integer(_ key: String, in range: ClosedRange<Int>) throws -> Int {
            guard let number = object[key] as? NSNumber, let value = Int(exactly: number.doubleValue),
                  range.contains(value) else {
                throw EmbedderError(path: path, reason: "field '\(key)' must be a whole number in \(range)")
            }
            return value
        }
        func text(_ key: String, expected: String) throws {
            let value = object[key] as? String ?? expected
            guard value == expected else {
                throw EmbedderError(path: path, reason: "field '\(key)' is '\(value)'; only '\(expected)' is supported")
            }
        }
        try text("model_type", expected: "bert")
        try text("hidden_act", expected: "gelu")
        try text("position_embedding_type", expected: "absolute")
        self.init(vocabularySize: try integer("vocab_size", in: 1...1_000_000),
                  hiddenSize: try integer("hidden_size", in: 1...8192),
                  layers: try integer("num_hidden_layers", in: 1...128),
                  heads: try integer("num_attention_heads", in: 1...128),
                  intermediateSize: try integer("intermediate_size", in: 1...65536),
                  maximumPositions: try integer("max_position_embeddings", in: 1...65536),
                  tokenTypes: try integer("type_vocab_size", in: 1...16),
                  layerNormEpsilon: Float((object["layer_norm_eps"] as? NSNumber)?.doubleValue ?? 1e-12))
        guard hiddenSize % heads == 0 else {
            throw EmbedderError(path: path, reason: "hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(heads)")
        }
    }
}

/// A sentence embedder that cannot be built or run, naming the file and what was wrong.
public struct EmbedderError: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}
