import Formats

/// One transformer block's weights.
public struct DecoderLayerWeights: Sendable {
    public var attentionNorm: [Float]
    public var query: WeightMatrix
    public var key: WeightMatrix
    public var value: WeightMatrix
    public var queryBias: [Float]?
    public var keyBias: [Float]?
    public var valueBias: [Float]?
    public var attentionOutput: WeightMatrix
    public var feedForwardNorm: [Float]
    public var gate: WeightMatrix
    public var up: WeightMatrix
    public var down: WeightMatrix
}

/// The names a checkpoint format gives the tensors of a llama-family decoder.
public struct TensorNames: Sendable {
    public var embedding: String
    public var outputNorm: String
    public var output: String
    public var layer: @Sendable (Int, LayerTensor) -> String

    /// The tensors of one block.
    public enum LayerTensor: Sendable, CaseIterable {
        case attentionNorm, query, key, value, queryBias, keyBias, valueBias, attentionOutput
        case feedForwardNorm, gate, up, down
    }

    /// llama.cpp's GGUF names (`blk.N.attn_q.weight`, ...), shared by every architecture it converts.
    public static let gguf = TensorNames(
        embedding: "token_embd.weight", outputNorm: "output_norm.weight", output: "output.weight",
        layer: { index, tensor in
            let suffix = switch tensor {
            case .attentionNorm: "attn_norm.weight"
            case .query: "attn_q.weight"
            case .key: "attn_k.weight"
            case .value: "attn_v.weight"
            case .queryBias: "attn_q.bias"
            case .keyBias: "attn_k.bias"
            case .valueBias: "attn_v.bias"
            case .attentionOutput: "attn_output.weight"
            case .feedForwardNorm: "ffn_norm.weight"
            case .gate: "ffn_gate.weight"
            case .up: "ffn_up.weight"
            case .down: "ffn_down.weight"
            }
            return "blk.\(index).\(suffix)"
        })

    /// Hugging Face transformers' names (`model.layers.N.self_attn.q_proj.weight`, ...).
    public static let huggingFace = TensorNames(
        embedding: "model.embed_tokens.weight", outputNorm: "model.norm.weight", output: "lm_head.weight",
        layer: { index, tensor in
            let suffix = switch tensor {
            case .attentionNorm: "input_layernorm.weight"
            case .query: "self_attn.q_proj.weight"
            case .key: "self_attn.k_proj.weight"
            case .value: "self_attn.v_proj.weight"
            case .queryBias: "self_attn.q_proj.bias"
            case .keyBias: "self_attn.k_proj.bias"
            case .valueBias: "self_attn.v_proj.bias"
            case .attentionOutput: "self_attn.o_proj.weight"
            case .feedForwardNorm: "post_attention_layernorm.weight"
            case .gate: "mlp.gate_proj.weight"
            case .up: "mlp.up_proj.weight"
            case .down: "mlp.down_proj.weight"
            }
            return "model.layers.\(index).\(suffix)"
        })
}

/// All weights of a llama-family decoder, as views into the checkpoint.
public struct DecoderWeights: Sendable {
    public var embedding: WeightMatrix
    public var layers: [DecoderLayerWeights]
    public var outputNorm: [Float]
    /// The output head; the embedding matrix itself when the checkpoint ties them.
    public var output: WeightMatrix

    /// Loads and shape-checks every tensor the configuration needs.
    public init(source: some TensorSource, names: TensorNames, config c: ModelConfig) throws {
        let d = c.embeddingLength
        embedding = try source.matrix(names.embedding, rows: c.vocabularySize, columns: d)
        outputNorm = try source.vector(names.outputNorm, count: d)
        output = source.has(names.output)
            ? try source.matrix(names.output, rows: c.vocabularySize, columns: d) : embedding
        layers = try (0..<c.layerCount).map { i in
            func matrix(_ t: TensorNames.LayerTensor, _ rows: Int, _ columns: Int) throws -> WeightMatrix {
                try source.matrix(names.layer(i, t), rows: rows, columns: columns)
            }
            func vector(_ t: TensorNames.LayerTensor, _ count: Int) throws -> [Float] {
                try source.vector(names.layer(i, t), count: count)
            }
            func bias(_ t: TensorNames.LayerTensor, _ count: Int) throws -> [Float]? {
                c.attentionBiases || source.has(names.layer(i, t)) ? try vector(t, count) : nil
            }
            return DecoderLayerWeights(
                attentionNorm: try vector(.attentionNorm, d),
                query: try matrix(.query, c.queryWidth, d),
                key: try matrix(.key, c.keyValueWidth, d),
                value: try matrix(.value, c.keyValueWidth, d),
                queryBias: try bias(.queryBias, c.queryWidth),
                keyBias: try bias(.keyBias, c.keyValueWidth),
                valueBias: try bias(.valueBias, c.keyValueWidth),
                attentionOutput: try matrix(.attentionOutput, d, c.queryWidth),
                feedForwardNorm: try vector(.feedForwardNorm, d),
                gate: try matrix(.gate, c.feedForwardLength, d),
                up: try matrix(.up, c.feedForwardLength, d),
                down: try matrix(.down, d, c.feedForwardLength))
        }
    }
}
