import CKernels
import COpenBLAS
import Foundation
import Formats

/// A llama-family decoder-only transformer (llama, qwen2) that turns batches of tokens into next-token
/// logits: RMSNorm, rotary embeddings, grouped-query attention over a KV cache, SwiGLU feed-forward.
///
/// ```swift
/// let model = try DecoderModel(gguf: GGUFFile(path: "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
/// let cache = model.makeCache()
/// let logits = try model.forward(DecoderBatch(prompt: ids), caches: [cache])
/// ```
public final class DecoderModel: @unchecked Sendable {
    /// How the forward pass rounds its arithmetic.
    public enum Arithmetic: String, Sendable, CaseIterable {
        /// Float activations and an F32 KV cache: agrees with a float reference (transformers) to ~1e-4.
        case float32
        /// As llama.cpp computes on the CPU: activations quantised to 8 bits before each product with
        /// quantised weights, an F16 KV cache, and flash attention's F16 accumulation. Greedy decoding then
        /// follows llama.cpp's token choices, and it is faster.
        case llamaCpp
    }

    /// Query rows from which ggml's CPU flash attention uses its F32 tiled kernel.
    public static let flashAttentionTileRows = 64

    public let config: ModelConfig
    public let weights: DecoderWeights
    /// Worker threads used for matrix products and attention.
    public var workers: Int
    public var arithmetic: Arithmetic = .llamaCpp
    /// Low-rank adapters a batch row may name (``DecoderBatch/adapters``); see ``attach(_:)``.
    public internal(set) var adapters: [LoRAAdapter] = []
    private let inverseFrequencies: [Float]

    public init(config: ModelConfig, weights: DecoderWeights, workers: Int = 1) {
        self.config = config
        self.weights = weights
        self.workers = max(1, workers)
        let half = config.headDimension / 2
        inverseFrequencies = (0..<half).map { i in
            powf(config.ropeBase, -2 * Float(i) / Float(config.headDimension))
        }
        // dera parallelises around OpenBLAS; its own spinning workers would only compete.
        dera_openblas_use_one_thread()
    }

    /// Loads a GGUF checkpoint (llama or qwen2 architecture).
    public convenience init(gguf file: GGUFFile, workers: Int = 1) throws {
        let config = try ModelConfig(gguf: file)
        try self.init(config: config, weights: DecoderWeights(source: file, names: .gguf, config: config),
                      workers: workers)
    }

    /// Loads a Hugging Face folder (config.json + safetensors).
    public convenience init(huggingFace folder: HFModelFolder, workers: Int = 1) throws {
        let config = try ModelConfig(hf: folder)
        try self.init(config: config, weights: DecoderWeights(source: folder, names: .huggingFace, config: config),
                      workers: workers)
    }

    /// A KV cache for one sequence of up to `capacity` positions (the model's context length by default).
    public func makeCache(capacity: Int? = nil) -> KVCache {
        KVCache(layerCount: config.layerCount, width: config.keyValueWidth,
                capacity: min(capacity ?? config.contextLength, config.contextLength))
    }

    /// Runs one batch and returns the logits of the rows that want them, `vocabularySize` floats per row in
    /// row order. The caches named by the batch grow by their rows.
    public func forward(_ batch: DecoderBatch, caches: [KVCache]) throws -> [Float] {
        var logits = [Float](repeating: 0, count: batch.logitRowCount * config.vocabularySize)
        try logits.withUnsafeMutableBufferPointer { try forward(batch, caches: caches, logits: $0.baseAddress!) }
        return logits
    }

    /// Runs one batch, writing the wanted logits into `logits` (logitRowCount x vocabularySize floats).
    public func forward(_ batch: DecoderBatch, caches: [KVCache], logits: UnsafeMutablePointer<Float>) throws {
        let c = config
        let n = batch.count
        guard n > 0 else { return }
        precondition(batch.sequences.count == n && batch.wantsLogits.count == n, "inconsistent batch")
        var all = try RowPlan(batch, caches: caches, model: self)
        // Twins: the layers below the first one their adapters change run on the other rows only.
        let twins = try TwinPlan(batch, positions: all.positions, model: self)
        if let twins { all.shapeRows = twins.primaryBatch.count }
        let lower = try twins.flatMap { $0.sharedLayers > 0 ? try RowPlan($0.primaryBatch, caches: caches, model: self) : nil }

        let d = c.embeddingLength, qw = c.queryWidth, kvw = c.keyValueWidth, ff = c.feedForwardLength
        let buffer = Scratch(count: n * (2 * d + 2 * qw + 2 * kvw + 2 * ff + d))
        defer { withExtendedLifetime(buffer) {} }
        let x = buffer.take(n * d), h = buffer.take(n * d)
        let work = LayerBuffers(h: h, q: buffer.take(n * qw), attention: buffer.take(n * qw), k: buffer.take(n * kvw),
                                v: buffer.take(n * kvw), gate: buffer.take(n * ff), up: buffer.take(n * ff),
                                projected: buffer.take(n * d))

        let first = lower ?? all
        for (i, token) in first.tokens.enumerated() { weights.embedding.dequantizeRow(token, into: x + i * d) }
        for (layerIndex, layer) in weights.layers.enumerated() {
            if let twins, lower != nil, layerIndex == twins.sharedLayers { twins.expand(x, width: d, scratch: h) }
            if let twins, let lower, layerIndex < twins.sharedLayers {
                try runLayer(layerIndex, layer, x, lower, caches: caches, work: work)
                twins.copyKeysAndValues(layer: layerIndex, k: work.k, v: work.v, width: kvw, positions: all.positions,
                                        sequences: batch.sequences, caches: caches)
            } else {
                try runLayer(layerIndex, layer, x, all, caches: caches, work: work)
            }
        }
        if let twins, lower != nil, twins.sharedLayers == c.layerCount { twins.expand(x, width: d, scratch: h) }
        for run in all.runs { caches[run.sequence].length = all.positions[run.rows.upperBound - 1] + 1 }

        // Final norm and output head for the rows that want logits only.
        let wanted = (0..<n).filter { batch.wantsLogits[$0] }
        guard !wanted.isEmpty else { return }
        for (i, row) in wanted.enumerated() { (h + i * d).update(from: x + row * d, count: d) }
        rmsNorm(h, weights.outputNorm, rows: wanted.count, into: h)
        multiply(weights.output, h, wanted.count, logits)
    }

    /// One decoder layer over the plan's rows, whose hidden states are the first rows of `x`; writes their keys and
    /// values into their caches.
    private func runLayer(_ layerIndex: Int, _ layer: DecoderLayerWeights, _ x: UnsafeMutablePointer<Float>,
                          _ plan: RowPlan, caches: [KVCache], work: LayerBuffers) throws {
        let c = config
        let n = plan.tokens.count, positions = plan.positions, runs = plan.runs, adapterRuns = plan.adapterRuns
        let d = c.embeddingLength, kvw = c.keyValueWidth, ff = c.feedForwardLength
        let (h, q, k, v) = (work.h, work.q, work.k, work.v)
        let (attention, gate, up, projected) = (work.attention, work.gate, work.up, work.projected)
        rmsNorm(x, layer.attentionNorm, rows: n, into: h)
        multiply([(layer.query, q), (layer.key, k), (layer.value, v)], h, n)
        if let bias = layer.queryBias { addBias(bias, to: q, rows: n) }
        if let bias = layer.keyBias { addBias(bias, to: k, rows: n) }
        if let bias = layer.valueBias { addBias(bias, to: v, rows: n) }
        if !adapterRuns.isEmpty {
            addAdapterDeltas(layer: layerIndex, [(.query, q), (.key, k), (.value, v)], input: h, runs: adapterRuns)
        }
        applyRoPE(q, heads: c.headCount, positions: positions)
        applyRoPE(k, heads: c.keyValueHeadCount, positions: positions)
        if arithmetic == .llamaCpp {
            // An F16 KV cache stores rounded keys and values.
            dera_round_to_f16(k, Int64(n * kvw))
            dera_round_to_f16(v, Int64(n * kvw))
        }
        for run in runs {
            let cache = caches[run.sequence]
            let start = positions[run.rows.lowerBound]
            (cache.keys(layer: layerIndex) + start * kvw).update(from: k + run.rows.lowerBound * kvw,
                                                                count: run.rows.count * kvw)
            (cache.values(layer: layerIndex) + start * kvw).update(from: v + run.rows.lowerBound * kvw,
                                                                  count: run.rows.count * kvw)
        }
        // ggml's flash attention switches to an F32 tiled kernel for batches of 64 query rows or more.
        switch arithmetic == .llamaCpp && plan.shapeRows < Self.flashAttentionTileRows ? Arithmetic.llamaCpp : .float32 {
        case .float32:
            attend(q, runs: runs, positions: positions, caches: caches, layer: layerIndex, into: attention)
        case .llamaCpp:
            attendAccumulatingInF16(q, runs: runs, positions: positions, caches: caches, layer: layerIndex,
                                    into: attention)
        }
        multiply(layer.attentionOutput, attention, n, projected)
        if !adapterRuns.isEmpty {
            addAdapterDeltas(layer: layerIndex, [(.attentionOutput, projected)], input: attention, runs: adapterRuns)
        }
        for i in 0..<(n * d) { x[i] += projected[i] }

        rmsNorm(x, layer.feedForwardNorm, rows: n, into: h)
        multiply([(layer.gate, gate), (layer.up, up)], h, n)
        if !adapterRuns.isEmpty {
            addAdapterDeltas(layer: layerIndex, [(.gate, gate), (.up, up)], input: h, runs: adapterRuns)
        }
        // SwiGLU with a vector exp; one exp per element is still worth splitting across workers.
        parallelFor(workers: workers, count: n * ff, granularity: 256) { range in
            dera_swiglu(gate + range.lowerBound, up + range.lowerBound, Int64(range.count))
        }
        multiply(layer.down, gate, n, projected)
        if !adapterRuns.isEmpty {
            addAdapterDeltas(layer: layerIndex, [(.down, projected)], input: gate, runs: adapterRuns)
        }
        for i in 0..<(n * d) { x[i] += projected[i] }
    }

    private func multiply(_ w: WeightMatrix, _ x: UnsafeMutablePointer<Float>, _ count: Int,
                          _ y: UnsafeMutablePointer<Float>) {
        switch arithmetic {
        case .float32: w.multiply(x, count: count, into: y, workers: workers)
        case .llamaCpp: w.multiplyQuantizingActivations(x, count: count, into: y, workers: workers)
        }
    }

    /// Products of the same input: one parallel region and one activation quantisation for all of them.
    private func multiply(_ products: [(WeightMatrix, UnsafeMutablePointer<Float>)], _ x: UnsafeMutablePointer<Float>,
                          _ count: Int) {
        switch arithmetic {
        case .float32:
            for (w, y) in products { w.multiply(x, count: count, into: y, workers: workers) }
        case .llamaCpp:
            WeightMatrix.multiplyQuantizingActivations(products.map { (matrix: $0.0, output: $0.1) }, x, count: count,
                                                       workers: workers)
        }
    }

    // MARK: - Layers

    /// `out = x / sqrt(mean(x^2) + eps) * weight`, row by row (sum of squares in double, as ggml does).
    private func rmsNorm(_ x: UnsafeMutablePointer<Float>, _ weight: [Float], rows: Int,
                         into out: UnsafeMutablePointer<Float>) {
        let d = config.embeddingLength
        weight.withUnsafeBufferPointer { w in
            for r in 0..<rows {
                let row = x + r * d, target = out + r * d
                var sum: Double = 0
                for i in 0..<d { sum += Double(row[i] * row[i]) }
                let scale = 1 / sqrtf(Float(sum / Double(d)) + config.rmsNormEpsilon)
                for i in 0..<d { target[i] = row[i] * scale * w[i] }
            }
        }
    }

    private func addBias(_ bias: [Float], to y: UnsafeMutablePointer<Float>, rows: Int) {
        let width = bias.count
        bias.withUnsafeBufferPointer { b in
            for r in 0..<rows { for i in 0..<width { y[r * width + i] += b[i] } }
        }
    }

    /// Rotates each head's dimension pairs by position-dependent angles.
    private func applyRoPE(_ y: UnsafeMutablePointer<Float>, heads: Int, positions: [Int]) {
        let hd = config.headDimension, half = hd / 2, width = heads * hd
        var cosines = [Float](repeating: 0, count: half), sines = [Float](repeating: 0, count: half)
        let thetaScale = powf(config.ropeBase, -2 / Float(hd))
        for (row, position) in positions.enumerated() {
            if arithmetic == .llamaCpp {
                // ggml multiplies the angle by the same factor step by step, in float.
                var theta = Float(position)
                for i in 0..<half {
                    cosines[i] = cosf(theta)
                    sines[i] = sinf(theta)
                    theta *= thetaScale
                }
            } else {
                for i in 0..<half {
                    let angle = Float(position) * inverseFrequencies[i]
                    cosines[i] = cosf(angle)
                    sines[i] = sinf(angle)
                }
            }
            for head in 0..<heads {
                let v = y + row * width + head * hd
                for i in 0..<half {
                    let (a, b) = config.ropeStyle == .interleaved ? (2 * i, 2 * i + 1) : (i, i + half)
                    let x0 = v[a], x1 = v[b]
                    v[a] = x0 * cosines[i] - x1 * sines[i]
                    v[b] = x0 * sines[i] + x1 * cosines[i]
                }
            }
        }
    }

    /// Query rows per attention item: a run's rows go in chunks that see only the keys up to their last row,
    /// so a prompt's causal half of the scores is neither computed nor exponentiated.
    static let attentionChunkRows = 64

    /// Causal grouped-query attention for every run of rows against its sequence's cache.
    private func attend(_ q: UnsafeMutablePointer<Float>, runs: [(sequence: Int, rows: Range<Int>)],
                        positions: [Int], caches: [KVCache], layer: Int, into out: UnsafeMutablePointer<Float>) {
        let c = config
        let hd = c.headDimension, qw = c.queryWidth, kvw = c.keyValueWidth
        let group = c.headCount / c.keyValueHeadCount
        let scale = 1 / sqrtf(Float(hd))
        let chunkRows = Self.attentionChunkRows
        // Items: (run, head, chunk of the run's rows), the chunks of one head next to each other.
        var items: [(run: Int, head: Int, rows: Range<Int>)] = []
        var longest = 0
        for (index, run) in runs.enumerated() {
            longest = max(longest, positions[run.rows.upperBound - 1] + 1)
            for head in 0..<c.headCount {
                for begin in stride(from: run.rows.lowerBound, to: run.rows.upperBound, by: chunkRows) {
                    items.append((index, head, begin..<min(begin + chunkRows, run.rows.upperBound)))
                }
            }
        }
        parallelFor(workers: workers, count: items.count, granularity: 1) { range in
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: min(chunkRows, positions.count) * longest)
            defer { scores.deallocate() }
            for item in items[range] {
                let run = runs[item.run], head = item.head
                let cache = caches[run.sequence]
                let rows = item.rows.count
                let first = positions[item.rows.lowerBound]
                // Row i of the chunk sees positions 0...first + i.
                let length = first + rows
                let keys = cache.keys(layer: layer) + (head / group) * hd
                let values = cache.values(layer: layer) + (head / group) * hd
                let queries = q + item.rows.lowerBound * qw + head * hd
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(length), Int32(hd),
                            scale, queries, Int32(qw), keys, Int32(kvw), 0, scores, Int32(length))
                dera_softmax_causal(scores, Int64(rows), Int64(length), Int64(length), Int64(first + 1))
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(hd), Int32(length),
                            1, scores, Int32(length), values, Int32(kvw), 0,
                            out + item.rows.lowerBound * qw + head * hd, Int32(qw))
            }
        }
    }
}

extension DecoderModel {
    /// Attention as ggml's CPU flash attention computes it for batches under 64 rows (see
    /// `dera_flash_attention_f16`).
    fileprivate func attendAccumulatingInF16(
        _ q: UnsafeMutablePointer<Float>, runs: [(sequence: Int, rows: Range<Int>)], positions: [Int],
        caches: [KVCache], layer: Int, into out: UnsafeMutablePointer<Float>
    ) {
        let c = config
        let hd = c.headDimension, qw = c.queryWidth, kvw = c.keyValueWidth
        let group = c.headCount / c.keyValueHeadCount
        let scale = 1 / sqrtf(Float(hd))
        var rowSequence = [Int](repeating: 0, count: positions.count)
        for run in runs { for row in run.rows { rowSequence[row] = run.sequence } }
        parallelFor(workers: workers, count: positions.count * c.headCount, granularity: 1) { range in
            for item in range {
                let row = item / c.headCount, head = item % c.headCount
                let cache = caches[rowSequence[row]]
                dera_flash_attention_f16(
                    q + row * qw + head * hd, cache.keys(layer: layer) + (head / group) * hd,
                    cache.values(layer: layer) + (head / group) * hd, kvw, Int64(positions[row] + 1), Int64(hd),
                    scale, out + row * qw + head * hd)
            }
        }
    }
}

/// One allocation carved into the working arrays of a forward pass.
final class Scratch {
    private let base: UnsafeMutablePointer<Float>
    private let count: Int
    private var used = 0

    init(count: Int) {
        self.count = count
        base = .allocate(capacity: count)
        base.initialize(repeating: 0, count: count)
    }

    deinit { base.deallocate() }

    func take(_ n: Int) -> UnsafeMutablePointer<Float> {
        precondition(used + n <= count, "scratch exhausted")
        defer { used += n }
        return base + used
    }
}
