import CKernels
import COpenBLAS
import Dispatch
import Formats

/// A BERT encoder (bidirectional self-attention, absolute position and token-type embeddings, post-layer-norm
/// blocks with the exact GELU) run on F32 weights from a safetensors file, with OpenBLAS sgemm for the products.
///
/// Sequences of different lengths are packed one after another: every per-token step (embeddings, linear
/// layers, layer norms, GELU) runs on the packed rows at once, and attention runs per sequence over its own
/// tokens only. That is exactly what a padded batch with an attention mask computes for the real tokens, without
/// spending work on padding.
public final class BertEncoder: @unchecked Sendable {
    public let config: BertConfig
    let wordEmbeddings: FloatBuffer
    let positionEmbeddings: FloatBuffer
    let typeEmbeddings: FloatBuffer
    let embeddingNorm: (gamma: FloatBuffer, beta: FloatBuffer)
    let blocks: [Block]

    struct Block {
        /// Query, key and value weights stacked: 3 * hidden rows of hidden columns, and their biases.
        let qkv: FloatBuffer
        let qkvBias: FloatBuffer
        let attentionOutput: FloatBuffer
        let attentionOutputBias: FloatBuffer
        let attentionNorm: (gamma: FloatBuffer, beta: FloatBuffer)
        let up: FloatBuffer
        let upBias: FloatBuffer
        let down: FloatBuffer
        let downBias: FloatBuffer
        let outputNorm: (gamma: FloatBuffer, beta: FloatBuffer)
    }

    /// Reads the weights (Hugging Face `BertModel` names, with or without a `bert.` prefix), checking each shape.
    /// - Throws: `FormatError` for a missing tensor, ``EmbedderError`` for a wrong type or shape.
    public init(config: BertConfig, weights file: SafetensorsFile) throws {
        self.config = config
        // hiddenStates parallelises around OpenBLAS.
        dera_openblas_use_one_thread()
        let prefix = file.tensors["bert.embeddings.word_embeddings.weight"] != nil ? "bert." : ""
        let h = config.hiddenSize, f = config.intermediateSize
        func load(_ name: String, _ shape: [Int]) throws -> FloatBuffer {
            let (info, bytes) = try file.tensor(prefix + name)
            guard info.dtype == .f32 else {
                throw EmbedderError(path: file.path, reason: "tensor '\(info.name)' is \(info.dtype.rawValue); F32 expected")
            }
            guard info.shape == shape else {
                throw EmbedderError(path: file.path, reason: "tensor '\(info.name)' has shape \(info.shape); \(shape) expected")
            }
            return FloatBuffer(copying: bytes)
        }
        func norm(_ name: String) throws -> (gamma: FloatBuffer, beta: FloatBuffer) {
            (try load(name + ".weight", [h]), try load(name + ".bias", [h]))
        }
        wordEmbeddings = try load("embeddings.word_embeddings.weight", [config.vocabularySize, h])
        positionEmbeddings = try load("embeddings.position_embeddings.weight", [config.maximumPositions, h])
        typeEmbeddings = try load("embeddings.token_type_embeddings.weight", [config.tokenTypes, h])
        embeddingNorm = try norm("embeddings.LayerNorm")
        blocks = try (0..<config.layers).map { layer in
            let p = "encoder.layer.\(layer)."
            let parts = try ["query", "key", "value"].map { try load(p + "attention.self.\($0).weight", [h, h]) }
            let biases = try ["query", "key", "value"].map { try load(p + "attention.self.\($0).bias", [h]) }
            return Block(
                qkv: FloatBuffer(concatenating: parts), qkvBias: FloatBuffer(concatenating: biases),
                attentionOutput: try load(p + "attention.output.dense.weight", [h, h]),
                attentionOutputBias: try load(p + "attention.output.dense.bias", [h]),
                attentionNorm: try norm(p + "attention.output.LayerNorm"),
                up: try load(p + "intermediate.dense.weight", [f, h]),
                upBias: try load(p + "intermediate.dense.bias", [f]),
                down: try load(p + "output.dense.weight", [h, f]),
                downBias: try load(p + "output.dense.bias", [h]),
                outputNorm: try norm(p + "output.LayerNorm"))
        }
    }

    /// The last hidden state of every token of every sequence, packed: sequence after sequence, `hiddenSize`
    /// floats per token. Token ids must be below `vocabularySize` and sequences no longer than `maximumPositions`
    /// (``SentenceEmbedder`` guarantees both). Token type 0 throughout.
    /// - Parameter threads: threads for the work: the row-wise steps (products, norms, GELU) split the packed rows
    ///   among them and attention splits its (sequence, head) pairs. OpenBLAS itself always runs on one thread:
    ///   its thread count is process-wide, and setting it here (as this encoder once did) changed it under any
    ///   decoder running at the same time, whose sgemm calls then ran another way (OpenBLAS picks some kernels by
    ///   its thread count) and spun OpenBLAS threads against the decoder's own workers.
    public func hiddenStates(_ sequences: [[Int]], threads: Int) -> [Float] {
        let h = config.hiddenSize, f = config.intermediateSize, heads = config.heads, d = config.headDimension
        let total = sequences.reduce(0) { $0 + $1.count }
        guard total > 0 else { return [] }
        // Contiguous row ranges, one per worker, none under 16 rows (a product of fewer rows gains nothing).
        let workers = max(1, min(threads, total / 16))
        let rowRanges = (0..<workers).map { w in (total * w / workers)..<(total * (w + 1) / workers) }
        var offset = 0
        let starts = sequences.map { sequence in defer { offset += sequence.count }; return offset }
        let pairs = sequences.count * heads
        let pairWorkers = max(1, min(threads, pairs))

        func scratch(_ count: Int) -> FloatBuffer { FloatBuffer(count: count, alignment: 16) }
        let x = scratch(total * h), qkv = scratch(total * 3 * h), context = scratch(total * h)
        let projected = scratch(total * h), intermediate = scratch(total * f)
        let longest = sequences.map(\.count).max() ?? 0
        let scores = (0..<pairWorkers).map { _ in scratch(longest * longest) }
        let scale = 1 / Float(d).squareRoot()
        let epsilon = config.layerNormEpsilon

        var row = 0
        for sequence in sequences {
            for (position, token) in sequence.enumerated() {
                let word = wordEmbeddings.pointer + token * h
                let place = positionEmbeddings.pointer + position * h
                let type = typeEmbeddings.pointer
                let out = x.pointer + row * h
                for i in 0..<h { out[i] = word[i] + place[i] + type[i] }
                row += 1
            }
        }
        dera_layer_norm_rows(x.pointer, Int64(total), Int64(h), embeddingNorm.gamma.pointer, embeddingNorm.beta.pointer,
                             epsilon)

        for block in blocks {
            Self.concurrently(workers) { w in
                let rows = rowRanges[w]
                Self.linear(x.pointer + rows.lowerBound * h, rows: rows.count, inputs: h, weights: block.qkv,
                            bias: block.qkvBias, outputs: 3 * h, into: qkv.pointer + rows.lowerBound * 3 * h)
            }
            // Attention mixes the rows of one sequence: the (sequence, head) pairs are the unit of work.
            Self.concurrently(pairWorkers) { w in
                let scores = scores[w].pointer
                for pair in stride(from: w, to: pairs, by: pairWorkers) {
                    let s = pair / heads, head = pair % heads
                    let n = sequences[s].count, start = starts[s]
                    let q = qkv.pointer + start * 3 * h + head * d
                    let k = q + h, v = q + 2 * h
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(n), Int32(d),
                                scale, q, Int32(3 * h), k, Int32(3 * h), 0, scores, Int32(n))
                    dera_softmax_rows(scores, Int64(n), Int64(n), Int64(n))
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(d), Int32(n),
                                1, scores, Int32(n), v, Int32(3 * h), 0, context.pointer + start * h + head * d,
                                Int32(h))
                }
            }
            // The rest of the block is row by row.
            Self.concurrently(workers) { w in
                let rows = rowRanges[w], n = rows.count, first = rows.lowerBound
                let x = x.pointer + first * h, projected = projected.pointer + first * h
                let intermediate = intermediate.pointer + first * f
                Self.linear(context.pointer + first * h, rows: n, inputs: h, weights: block.attentionOutput,
                            bias: block.attentionOutputBias, outputs: h, into: projected)
                for i in 0..<(n * h) { x[i] += projected[i] }
                dera_layer_norm_rows(x, Int64(n), Int64(h), block.attentionNorm.gamma.pointer,
                                     block.attentionNorm.beta.pointer, epsilon)
                Self.linear(x, rows: n, inputs: h, weights: block.up, bias: block.upBias, outputs: f, into: intermediate)
                dera_gelu_erf(intermediate, Int64(n * f))
                Self.linear(intermediate, rows: n, inputs: f, weights: block.down, bias: block.downBias, outputs: h,
                            into: projected)
                for i in 0..<(n * h) { x[i] += projected[i] }
                dera_layer_norm_rows(x, Int64(n), Int64(h), block.outputNorm.gamma.pointer,
                                     block.outputNorm.beta.pointer, epsilon)
            }
        }
        return Array(UnsafeBufferPointer(start: x.pointer, count: total * h))
    }

    /// Runs `body(0..<workers)`, on as many threads when there is more than one.
    private static func concurrently(_ workers: Int, _ body: @Sendable (Int) -> Void) {
        if workers <= 1 { body(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: body) }
    }

    /// `y = x W^T + b` for `rows` rows: the bias is copied into every output row, then sgemm adds the product.
    static func linear(_ x: UnsafePointer<Float>, rows: Int, inputs: Int, weights: FloatBuffer, bias: FloatBuffer,
                       outputs: Int, into y: UnsafeMutablePointer<Float>) {
        for r in 0..<rows { (y + r * outputs).update(from: bias.pointer, count: outputs) }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(outputs), Int32(inputs),
                    1, x, Int32(inputs), weights.pointer, Int32(inputs), 1, y, Int32(outputs))
    }
}

/// Floats owned by one object, aligned for SIMD loads; safetensors data need not be 4-byte aligned in the map.
final class FloatBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    /// - Parameter alignment: 64 for weights (read for every token); the per-call activations take 16, malloc's
    ///   own: over-aligned blocks of tens of MB freed on every call stayed resident (`dera index --embed` of
    ///   1,500 Wikipedia extracts peaked at 372-385 MB with 64, 295-316 MB with 16, 2026-12-03).
    init(count: Int, alignment: Int = 64) {
        self.count = count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * 4, alignment: alignment)
            .bindMemory(to: Float.self, capacity: max(1, count))
    }

    convenience init(copying bytes: UnsafeRawBufferPointer) {
        self.init(count: bytes.count / 4)
        if let base = bytes.baseAddress { UnsafeMutableRawPointer(pointer).copyMemory(from: base, byteCount: count * 4) }
    }

    convenience init(concatenating parts: [FloatBuffer]) {
        self.init(count: parts.reduce(0) { $0 + $1.count })
        var offset = 0
        for part in parts {
            (pointer + offset).update(from: part.pointer, count: part.count)
            offset += part.count
        }
    }

    deinit { pointer.deallocate() }
}
