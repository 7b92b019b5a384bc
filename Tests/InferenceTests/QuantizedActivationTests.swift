import CKernels
import Foundation
import Formats
import Testing

@testable import Inference

/// The llama.cpp-compatible path: activations quantised to 8 bits per block, integer block dot products.
@Suite struct QuantizedActivationTests {
    static let levels = Array(0...min(1, Int(dera_max_kernel_level())))

    /// Decodes quantised activations independently of the C code: (values, block scale per element).
    static func decodeActivations(_ type: GGMLType, _ raw: [UInt8], count: Int) -> (values: [Float], step: [Float]) {
        var values = [Float](), steps = [Float]()
        func half(_ at: Int) -> Float { Float(Float16(bitPattern: UInt16(raw[at]) | UInt16(raw[at + 1]) << 8)) }
        switch type {
        case .f32:
            for i in 0..<count {
                values.append(raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) })
                steps.append(0)
            }
        case .f16:
            for i in 0..<count { values.append(half(2 * i)); steps.append(abs(values[i]) / 1024) }
        case .bf16:
            for i in 0..<count {
                let bits = UInt32(raw[2 * i]) << 16 | UInt32(raw[2 * i + 1]) << 24
                values.append(Float(bitPattern: bits))
                steps.append(abs(values[i]) / 128)
            }
        case .q4_1:
            for b in 0..<(count / 32) {
                let d = half(36 * b)
                for j in 0..<32 { values.append(d * Float(Int8(bitPattern: raw[36 * b + 4 + j]))); steps.append(d) }
            }
        case .q4_K, .q6_K:
            for b in 0..<(count / 256) {
                let d = raw.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 292 * b, as: Float.self) }
                for j in 0..<256 { values.append(d * Float(Int8(bitPattern: raw[292 * b + 4 + j]))); steps.append(abs(d)) }
            }
        default:  // Q8_0 for Q4_0, Q5_0, Q8_0
            for b in 0..<(count / 32) {
                let d = half(34 * b)
                for j in 0..<32 { values.append(d * Float(Int8(bitPattern: raw[34 * b + 2 + j]))); steps.append(d) }
            }
        }
        return (values, steps)
    }

    @Test(arguments: kernelTypes)
    func activationsRoundTripWithinHalfAStep(type: GGMLType) {
        var rng = SplitMix64(seed: 99 + UInt64(type.rawValue))
        let count = 512
        let x = ReferenceBlocks.randomVector(count, rng: &rng)
        var raw = [UInt8](repeating: 0, count: dera_q8_row_bytes(type.rawValue, Int64(count)))
        #expect(!raw.isEmpty)
        raw.withUnsafeMutableBytes { dera_quantize_activations(type.rawValue, x, $0.baseAddress, Int64(count)) }
        let (values, steps) = Self.decodeActivations(type, raw, count: count)
        for i in 0..<count {
            // Half a quantisation step, plus the F16 rounding of the stored scale.
            #expect(abs(values[i] - x[i]) <= steps[i] * 0.51 + abs(x[i]) * 2e-3 + 1e-7, "\(type) element \(i)")
        }
        if type == .q4_1 {
            // Q8_1 stores d times the sum of its quants.
            for b in 0..<(count / 32) {
                let s = Float(Float16(bitPattern: UInt16(raw[36 * b + 2]) | UInt16(raw[36 * b + 3]) << 8))
                let sum = values[(32 * b)..<(32 * b + 32)].reduce(0, +)
                #expect(abs(s - sum) <= abs(sum) * 2e-3 + 1e-3)
            }
        }
        if type == .q4_K {
            // Q8_K keeps the sum of each 16 quants.
            raw.withUnsafeBytes { p in
                for g in 0..<16 {
                    let stored = p.loadUnaligned(fromByteOffset: 4 + 256 + 2 * g, as: Int16.self)
                    let sum = (0..<16).reduce(0) { $0 + Int(Int8(bitPattern: raw[4 + 16 * g + $1])) }
                    #expect(Int(stored) == sum)
                }
            }
        }
    }

    @Test(arguments: kernelTypes, levels)
    func matvecMatchesDecodedProducts(type: GGMLType, level: Int) {
        dera_set_kernel_level(Int32(level))
        defer { dera_set_kernel_level(-1) }
        var rng = SplitMix64(seed: 7 + UInt64(type.rawValue))
        let columns = 512, rows = 9
        let weights = ReferenceBlocks.random(type, count: rows * columns, rng: &rng)
        let rowBytes = weights.count / rows
        let vectors = 3
        let xs = (0..<vectors).map { _ in ReferenceBlocks.randomVector(columns, rng: &rng) }
        let stride = dera_q8_row_bytes(type.rawValue, Int64(columns))
        var raw = [UInt8](repeating: 0, count: stride * vectors)
        raw.withUnsafeMutableBytes { p in
            for v in 0..<vectors { dera_quantize_activations(type.rawValue, xs[v], p.baseAddress! + v * stride, Int64(columns)) }
        }
        var single = [Float](repeating: 0, count: rows * vectors)
        var batched = [Float](repeating: .nan, count: rows * vectors)
        weights.withUnsafeBytes { w in
            raw.withUnsafeBytes { a in
                for v in 0..<vectors {
                    single.withUnsafeMutableBufferPointer { y in
                        dera_matvec_q8(type.rawValue, w.baseAddress, rowBytes, a.baseAddress! + v * stride,
                                       y.baseAddress! + v * rows, 0, Int64(rows), Int64(columns))
                    }
                }
                dera_matmat_q8(type.rawValue, w.baseAddress, rowBytes, a.baseAddress, stride, Int64(vectors), &batched,
                               Int64(rows), 0, Int64(rows), Int64(columns))
            }
        }
        #expect(single == batched)
        for v in 0..<vectors {
            let decodedX = Self.decodeActivations(type, Array(raw[(v * stride)..<((v + 1) * stride)]), count: columns).values
            for r in 0..<rows {
                let w = weights[(r * rowBytes)..<((r + 1) * rowBytes)].withUnsafeBytes {
                    ReferenceBlocks.decode(type, $0, count: columns)
                }
                let (expected, magnitude) = ReferenceBlocks.dot(w[...], decodedX[...])
                // Q8_1 keeps d * sum(q) as F16 for the weights' minimum term, as ggml does: allow that rounding.
                var minimumTerm = 0.0
                if type == .q4_1 {
                    for b in 0..<(columns / 32) {
                        let at = r * rowBytes + 20 * b + 2
                        let m = Float(Float16(bitPattern: UInt16(weights[at]) | UInt16(weights[at + 1]) << 8))
                        minimumTerm += Double(abs(m)) * decodedX[(32 * b)..<(32 * b + 32)].reduce(0.0) { $0 + Double(abs($1)) }
                    }
                }
                #expect(abs(Double(single[v * rows + r]) - expected) <= magnitude * 1e-5 + minimumTerm / 1024 + 1e-6,
                        "\(type) level \(level) row \(r): \(single[v * rows + r]) vs \(expected)")
            }
        }
    }

    /// Row ranges of one row take the one-row kernels, longer ranges the four-row (and multi-vector) kernels:
    /// the products must agree bit for bit, on every level. 4864 columns (Qwen2.5-0.5B's feed-forward width)
    /// gives 19 K-quant super-blocks and 152 32-blocks, past the four-row kernels' 64-block scale chunks.
    /// Random weights of `type` (`rows` x `columns`) and `vectors` random activation rows quantised for them.
    static func randomProduct(_ type: GGMLType, rows: Int, columns: Int, vectors: Int, rng: inout SplitMix64)
        -> (weights: [UInt8], rowBytes: Int, activations: [UInt8], stride: Int) {
        let weights = ReferenceBlocks.random(type, count: rows * columns, rng: &rng)
        let stride = dera_q8_row_bytes(type.rawValue, Int64(columns))
        var xq = [UInt8](repeating: 0, count: stride * vectors)
        for v in 0..<vectors {
            let x = ReferenceBlocks.randomVector(columns, rng: &rng)
            xq.withUnsafeMutableBytes { dera_quantize_activations(type.rawValue, x, $0.baseAddress! + v * stride, Int64(columns)) }
        }
        return (weights, weights.count / rows, xq, stride)
    }

    @Test(arguments: kernelTypes, [512, 4864])
    func multiRowKernelsMatchOneRowKernelsExactly(type: GGMLType, columns: Int) {
        var rng = SplitMix64(seed: 41 + UInt64(type.rawValue) + UInt64(columns))
        let rows = 22, vectors = 7  // multi-vector kernels take groups of 4, then 2, then 1
        let (weights, rowBytes, xq, stride) = Self.randomProduct(type, rows: rows, columns: columns, vectors: vectors,
                                                                 rng: &rng)
        for level in 0...2 {
            _ = dera_set_kernel_level(Int32(level))
            defer { _ = dera_set_kernel_level(-1) }
            weights.withUnsafeBytes { w in
                xq.withUnsafeBytes { a in
                    var whole = [Float](repeating: 0, count: rows), single = whole
                    dera_matvec_q8(type.rawValue, w.baseAddress, rowBytes, a.baseAddress, &whole, 0, Int64(rows), Int64(columns))
                    for r in 0..<rows {
                        dera_matvec_q8(type.rawValue, w.baseAddress, rowBytes, a.baseAddress, &single, Int64(r), Int64(r + 1),
                                       Int64(columns))
                    }
                    #expect(whole.map(\.bitPattern) == single.map(\.bitPattern), "\(type) \(columns) level \(level) matvec")
                    var batch = [Float](repeating: 0, count: rows * vectors), separate = batch
                    dera_matmat_q8(type.rawValue, w.baseAddress, rowBytes, a.baseAddress, stride, Int64(vectors), &batch,
                                   Int64(rows), 0, Int64(rows), Int64(columns))
                    for v in 0..<vectors {
                        for r in 0..<rows {
                            dera_matvec_q8(type.rawValue, w.baseAddress, rowBytes, a.baseAddress! + v * stride,
                                           &separate[v * rows], Int64(r), Int64(r + 1), Int64(columns))
                        }
                    }
                    #expect(batch.map(\.bitPattern) == separate.map(\.bitPattern), "\(type) \(columns) level \(level) matmat")
                }
            }
        }
    }

    /// The multi-vector kernels for the default model's types (Q4_1 layers, Q8_0 embedding and head) take
    /// vectors in groups of 4 and 2 and rows in groups of 4 inside 16-row tiles: every output must equal the
    /// one-vector result for its row and vector bit for bit, whatever the vector count (groups of 2, 4, both,
    /// with one left over), row count (not a multiple of 4 or 16), row range and level. 576 and 1536 columns
    /// are SmolLM2-135M's widths; 4864 runs past the 64-block scale chunks.
    @Test(arguments: [GGMLType.q4_1, .q8_0], [576, 1536, 4864])
    func multiVectorKernelsMatchOneVectorResultsExactly(type: GGMLType, columns: Int) {
        var rng = SplitMix64(seed: 1234 + UInt64(type.rawValue) + UInt64(columns))
        let rows = 45, maxVectors = 8
        let (weights, rowBytes, xq, stride) = Self.randomProduct(type, rows: rows, columns: columns, vectors: maxVectors,
                                                                 rng: &rng)
        for level in 0...2 {
            _ = dera_set_kernel_level(Int32(level))
            defer { _ = dera_set_kernel_level(-1) }
            weights.withUnsafeBytes { w in
                xq.withUnsafeBytes { a in
                    // One vector at a time over all rows: the four-row kernels, then one-row kernels for the rest.
                    var separate = [Float](repeating: 0, count: rows * maxVectors)
                    for v in 0..<maxVectors {
                        dera_matvec_q8(type.rawValue, w.baseAddress, rowBytes, a.baseAddress! + v * stride,
                                       &separate[v * rows], 0, Int64(rows), Int64(columns))
                    }
                    for vectors in [2, 3, 4, 5, 8] {
                        for (begin, end) in [(0, rows), (0, 16), (4, 39), (8, 45), (13, 30), (0, 3)] {
                            // Row ranges start at multiples of 4 where the four-row grouping must match matvec's.
                            var batch = [Float](repeating: .nan, count: rows * vectors)
                            dera_matmat_q8(type.rawValue, w.baseAddress, rowBytes, a.baseAddress, stride, Int64(vectors),
                                           &batch, Int64(rows), Int64(begin), Int64(end), Int64(columns))
                            var expected = [Float](repeating: .nan, count: rows * vectors)
                            for v in 0..<vectors {
                                if begin % 4 == 0 {
                                    for r in begin..<end { expected[v * rows + r] = separate[v * rows + r] }
                                } else {
                                    dera_matvec_q8(type.rawValue, w.baseAddress, rowBytes, a.baseAddress! + v * stride,
                                                   &expected[v * rows], Int64(begin), Int64(end), Int64(columns))
                                }
                            }
                            #expect(batch.map(\.bitPattern) == expected.map(\.bitPattern),
                                    "\(type) \(columns) columns, \(vectors) vectors, rows \(begin)..<\(end), level \(level)")
                        }
                    }
                }
            }
        }
    }

    /// Batches of 4 or more Q5_0 / Q4_K / Q6_K products take 16-row x 8-vector tiles on AVX-512 VNNI
    /// (kernels_q8_tiles.c). Every output must equal the one-row kernel's for its row and vector bit for bit:
    /// vector counts that leave 1 to 7 over, row ranges that start and end inside a 16-row tile, a single
    /// block or super-block per row, an odd number of 32-blocks, and Qwen2.5-0.5B's widths.
    @Test(arguments: [GGMLType.q5_0, .q4_K, .q6_K])
    func tiledKernelsMatchOneRowKernelsExactly(type: GGMLType) {
        let widths = type == .q5_0 ? [32, 96, 896, 4864] : [256, 768, 4864]
        for columns in widths {
            var rng = SplitMix64(seed: 2026 + UInt64(type.rawValue) + UInt64(columns))
            let rows = 45, maxVectors = 41
            let (weights, rowBytes, xq, stride) = Self.randomProduct(type, rows: rows, columns: columns,
                                                                     vectors: maxVectors, rng: &rng)
            for level in 0...2 {
                _ = dera_set_kernel_level(Int32(level))
                defer { _ = dera_set_kernel_level(-1) }
                weights.withUnsafeBytes { w in
                    xq.withUnsafeBytes { a in
                        var separate = [Float](repeating: .nan, count: rows * maxVectors)
                        for v in 0..<maxVectors {
                            for r in 0..<rows {
                                dera_matvec_q8(type.rawValue, w.baseAddress, rowBytes, a.baseAddress! + v * stride,
                                               &separate[v * rows], Int64(r), Int64(r + 1), Int64(columns))
                            }
                        }
                        for vectors in [4, 5, 8, 9, 15, 16, 23, 41] {
                            for (begin, end) in [(0, rows), (0, 16), (3, 30), (16, 45), (5, 6), (32, 45)] {
                                var batch = [Float](repeating: .nan, count: rows * vectors)
                                dera_matmat_q8(type.rawValue, w.baseAddress, rowBytes, a.baseAddress, stride,
                                               Int64(vectors), &batch, Int64(rows), Int64(begin), Int64(end),
                                               Int64(columns))
                                var expected = [Float](repeating: .nan, count: rows * vectors)
                                for v in 0..<vectors {
                                    for r in begin..<end { expected[v * rows + r] = separate[v * rows + r] }
                                }
                                let first = batch.indices.first { batch[$0].bitPattern != expected[$0].bitPattern }
                                #expect(first == nil, "\(type) \(columns) columns, \(vectors) vectors, rows \(begin)..<\(end), level \(level): output \(first ?? 0) is \(batch[first ?? 0]), one row gives \(expected[first ?? 0])")
                            }
                        }
                    }
                }
            }
            // Level 2's tiles against the portable scalar kernels (level 0): the same products up to the
            // rounding of fused multiply-adds.
            weights.withUnsafeBytes { w in
                xq.withUnsafeBytes { a in
                    var tiled = [Float](repeating: 0, count: rows * maxVectors), scalar = tiled
                    _ = dera_set_kernel_level(2)
                    dera_matmat_q8(type.rawValue, w.baseAddress, rowBytes, a.baseAddress, stride, Int64(maxVectors),
                                   &tiled, Int64(rows), 0, Int64(rows), Int64(columns))
                    _ = dera_set_kernel_level(0)
                    dera_matmat_q8(type.rawValue, w.baseAddress, rowBytes, a.baseAddress, stride, Int64(maxVectors),
                                   &scalar, Int64(rows), 0, Int64(rows), Int64(columns))
                    _ = dera_set_kernel_level(-1)
                    let scale = scalar.map { abs($0) }.max()!
                    #expect(scale > 0)
                    for i in 0..<(rows * maxVectors) {
                        #expect(abs(tiled[i] - scalar[i]) <= scale * 1e-5, "\(type) \(columns) output \(i)")
                    }
                }
            }
        }
    }

    /// Q8_0 activation rows end with every block's scale as a float and the sum of its quants.
    @Test func q8_0ActivationRowsCarryBlockScalesAndSums() {
        var rng = SplitMix64(seed: 314)
        for columns in [32, 96, 896] {
            let blocks = columns / 32
            let x = ReferenceBlocks.randomVector(columns, rng: &rng).enumerated().map { $0.offset < 32 ? 0 : $0.element }
            var raw = [UInt8](repeating: 0xAB, count: dera_q8_row_bytes(GGMLType.q5_0.rawValue, Int64(columns)))
            #expect(raw.count >= blocks * 34 + blocks * 8)
            raw.withUnsafeMutableBytes { dera_quantize_activations(GGMLType.q5_0.rawValue, x, $0.baseAddress, Int64(columns)) }
            let auxiliary = raw.count - blocks * 8
            raw.withUnsafeBytes { p in
                for b in 0..<blocks {
                    let half = Float(Float16(bitPattern: UInt16(raw[34 * b]) | UInt16(raw[34 * b + 1]) << 8))
                    let sum = (0..<32).reduce(0) { $0 + Int(Int8(bitPattern: raw[34 * b + 2 + $1])) }
                    #expect(p.loadUnaligned(fromByteOffset: auxiliary + 8 * b, as: Float.self) == half)
                    #expect(Int(p.loadUnaligned(fromByteOffset: auxiliary + 8 * b + 4, as: Int32.self)) == sum)
                }
            }
        }
    }

    @Test func flashAttentionVectorPathIsBitIdentical() {
        var rng = SplitMix64(seed: 11)
        func f16(_ x: Float) -> Float { Float(Float16(x)) }
        for trial in 0..<60 {
            let d = [64, 128, 192][trial % 3], length = 1 + trial * 5 + (trial % 7) * 40, stride = 3 * d + 64 * (trial % 2)
            let amplitude: Float = [0.01, 1, 40][trial % 3 == 0 ? 2 : trial % 2]
            let q = ReferenceBlocks.randomVector(d, rng: &rng).map { $0 * amplitude }
            let keys = ReferenceBlocks.randomVector(length * stride, rng: &rng).map { f16($0 * amplitude) }
            let values = ReferenceBlocks.randomVector(length * stride, rng: &rng).map { f16($0 * amplitude) }
            let scale = 1 / Float(d).squareRoot()
            var fast = [Float](repeating: 0, count: d), reference = fast
            dera_flash_attention_f16(q, keys, values, stride, Int64(length), Int64(d), scale, &fast)
            dera_flash_attention_f16_unvectorised(q, keys, values, stride, Int64(length), Int64(d), scale, &reference)
            #expect(fast.map(\.bitPattern) == reference.map(\.bitPattern), "d \(d) length \(length)")
        }
    }

    @Test func flashAttentionMatchesSoftmaxAttention() {
        var rng = SplitMix64(seed: 5)
        let d = 64, length = 37, stride = 3 * d
        func f16(_ x: Float) -> Float { Float(Float16(x)) }
        let q = ReferenceBlocks.randomVector(d, rng: &rng)
        let keys = ReferenceBlocks.randomVector(length * stride, rng: &rng).map(f16)
        let values = ReferenceBlocks.randomVector(length * stride, rng: &rng).map(f16)
        let scale = 1 / Float(d).squareRoot()
        var out = [Float](repeating: 0, count: d)
        dera_flash_attention_f16(q, keys, values, stride, Int64(length), Int64(d), scale, &out)
        let scores = (0..<length).map { j in (0..<d).reduce(0.0) { $0 + Double(f16(q[$1])) * Double(keys[j * stride + $1]) } * Double(scale) }
        let top = scores.max()!
        let weights = scores.map { exp($0 - top) }
        let total = weights.reduce(0, +)
        for i in 0..<d {
            let expected = (0..<length).reduce(0.0) { $0 + weights[$1] / total * Double(values[$1 * stride + i]) }
            // The running sum is kept in F16: a few half-precision roundings of error.
            #expect(abs(Double(out[i]) - expected) < 4e-3, "dimension \(i)")
        }
    }
}

/// SwiGLU and the float attention's softmax (kernels_activation.c) are vectorised without changing a bit: their
/// exp is glibc's expf computed eight lanes at a time.
@Suite struct ActivationKernelTests {
    /// On a CPU with AVX-512 and glibc's expf the vector path is in use (else a slowdown would go unnoticed).
    @Test func vectorPathIsTakenWhereAvailable() {
        _ = dera_set_kernel_level(2)
        defer { _ = dera_set_kernel_level(-1) }
        #if os(Linux) && arch(x86_64)
        if dera_max_kernel_level() >= 2 { #expect(dera_activations_vectorised() == 1) }
        #endif
        _ = dera_set_kernel_level(1)
        #expect(dera_activations_vectorised() == 0)
    }

    /// The vector path is taken at level 2; each level must give the plain Swift loop's bits.
    @Test(arguments: [0, 1, 2])
    func swigluEqualsTheScalarLoop(level: Int) {
        _ = dera_set_kernel_level(Int32(level))
        defer { _ = dera_set_kernel_level(-1) }
        var rng = SplitMix64(seed: 77)
        // Ordinary activations, random bit patterns (every exponent, NaNs and infinities among them), the ends
        // of exp's range, the two floats whose expf depends on a fused multiply-subtract, and a tail of 5.
        var gate = (0..<20000).map { _ in Float.random(in: -12...12, using: &rng) }
        gate += (0..<20000).map { _ in Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng)) }
        gate += [0, -0.0, 1e-30, -1e-30, 80, -80, 87.5, -87.5, 88.72, -88.72, 89, -89, 103.9, -103.9, 104, -104,
                 150, -150, .infinity, -.infinity, .nan, -0x1.04845ep+5, 0x1.f8cbb2p+5, 3]
        let up = gate.map { _ in Float.random(in: -3...3, using: &rng) }
        var fast = gate
        dera_swiglu(&fast, up, Int64(fast.count))
        var differing = 0
        for i in gate.indices {
            let g = gate[i]
            let expected = g / (1 + expf(-g)) * up[i]
            if fast[i].bitPattern != expected.bitPattern && !(fast[i].isNaN && expected.isNaN) {
                differing += 1
                if differing <= 3 { Issue.record("gate \(g) up \(up[i]): \(fast[i]) vs \(expected)") }
            }
        }
        #expect(differing == 0, "level \(level)")
    }

    @Test(arguments: [0, 1, 2])
    func causalSoftmaxEqualsTheScalarLoop(level: Int) {
        _ = dera_set_kernel_level(Int32(level))
        defer { _ = dera_set_kernel_level(-1) }
        var rng = SplitMix64(seed: 78)
        for (rows, length, stride, visible0) in [(21, 77, 80, 57), (3, 9, 9, 1), (64, 300, 300, 237), (6, 5, 8, -2)] {
            var scores = (0..<(rows * stride)).map { _ in Float.random(in: -30...30, using: &rng) }
            let original = scores
            dera_softmax_causal(&scores, Int64(rows), Int64(length), Int64(stride), Int64(visible0))
            for r in 0..<rows {
                let visible = max(0, min(visible0 + r, length))
                // The loop the kernel replaces: maximum, expf, sum in element order, one reciprocal.
                var expected = Array(original[(r * stride)..<(r * stride + length)])
                var maximum = -Float.infinity
                for j in 0..<visible { maximum = max(maximum, expected[j]) }
                var sum: Float = 0
                for j in 0..<visible {
                    expected[j] = expf(expected[j] - maximum)
                    sum += expected[j]
                }
                let inverse = 1 / sum
                for j in 0..<visible { expected[j] *= inverse }
                for j in visible..<length { expected[j] = 0 }
                let got = Array(scores[(r * stride)..<(r * stride + length)])
                #expect(got.map(\.bitPattern) == expected.map(\.bitPattern), "rows \(rows) length \(length) row \(r)")
                // The stride's padding past `length` is left alone, and each row sums to 1.
                for j in length..<stride { #expect(scores[r * stride + j] == original[r * stride + j]) }
                if visible > 0 { #expect(abs(got.reduce(0, +) - 1) < 1e-4) }
            }
        }
    }
}
