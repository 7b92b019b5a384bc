import Foundation
@testable import Inference

/// A deliberately plain transformer forward pass (no cache, no BLAS, no batching), written from the
/// textbook definitions, used to check the engine's optimised one.
struct NaiveDecoder {
    let config: ModelConfig
    let weights: DecoderWeights

    func row(_ m: WeightMatrix, _ r: Int) -> [Float] {
        var out = [Float](repeating: 0, count: m.columns)
        out.withUnsafeMutableBufferPointer { m.dequantizeRow(r, into: $0.baseAddress!) }
        return out
    }

    func apply(_ m: WeightMatrix, _ x: [Float], bias: [Float]? = nil) -> [Float] {
        (0..<m.rows).map { r in
            var sum: Double = 0
            for (w, v) in zip(row(m, r), x) { sum += Double(w) * Double(v) }
            return Float(sum) + (bias?[r] ?? 0)
        }
    }

    func norm(_ x: [Float], _ w: [Float]) -> [Float] {
        let mean = x.reduce(0) { $0 + Double($1 * $1) } / Double(x.count)
        let s = Float(1 / (mean + Double(config.rmsNormEpsilon)).squareRoot())
        return zip(x, w).map { $0 * s * $1 }
    }

    func rope(_ v: [Float], heads: Int, position: Int) -> [Float] {
        var v = v
        let hd = config.headDimension
        for h in 0..<heads {
            for i in 0..<(hd / 2) {
                let theta = Double(position) * pow(Double(config.ropeBase), -2 * Double(i) / Double(hd))
                let (a, b) = config.ropeStyle == .interleaved ? (h * hd + 2 * i, h * hd + 2 * i + 1)
                                                               : (h * hd + i, h * hd + i + hd / 2)
                let x0 = Double(v[a]), x1 = Double(v[b])
                v[a] = Float(x0 * cos(theta) - x1 * sin(theta))
                v[b] = Float(x0 * sin(theta) + x1 * cos(theta))
            }
        }
        return v
    }

    /// Next-token logits after every position of `tokens`.
    func logits(_ tokens: [Int]) -> [[Float]] {
        let c = config, hd = c.headDimension
        var xs = tokens.map { row(weights.embedding, $0) }
        for layer in weights.layers {
            var keys: [[Float]] = [], values: [[Float]] = [], queries: [[Float]] = []
            for (p, x) in xs.enumerated() {
                let h = norm(x, layer.attentionNorm)
                queries.append(rope(apply(layer.query, h, bias: layer.queryBias), heads: c.headCount, position: p))
                keys.append(rope(apply(layer.key, h, bias: layer.keyBias), heads: c.keyValueHeadCount, position: p))
                values.append(apply(layer.value, h, bias: layer.valueBias))
            }
            for p in xs.indices {
                var attended = [Float](repeating: 0, count: c.queryWidth)
                for head in 0..<c.headCount {
                    let g = head / (c.headCount / c.keyValueHeadCount)
                    let scores = (0...p).map { j in
                        (0..<hd).reduce(0.0) { $0 + Double(queries[p][head * hd + $1]) * Double(keys[j][g * hd + $1]) }
                            / Double(hd).squareRoot()
                    }
                    let top = scores.max()!
                    let e = scores.map { exp($0 - top) }
                    let total = e.reduce(0, +)
                    for i in 0..<hd {
                        attended[head * hd + i] = Float((0...p).reduce(0.0) { $0 + e[$1] / total * Double(values[$1][g * hd + i]) })
                    }
                }
                let o = apply(layer.attentionOutput, attended)
                xs[p] = zip(xs[p], o).map(+)
                let h = norm(xs[p], layer.feedForwardNorm)
                let gate = apply(layer.gate, h), up = apply(layer.up, h)
                let act = zip(gate, up).map { g, u in g / (1 + exp(-g)) * u }
                xs[p] = zip(xs[p], apply(layer.down, act)).map(+)
            }
        }
        return xs.map { apply(weights.output, norm($0, weights.outputNorm)) }
    }
}
