import Formats

/// Deterministic generator so every failure reproduces.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The element types the kernels support, in the order tests report them.
let kernelTypes: [GGMLType] = [.f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q8_0, .q4_K, .q6_K]

/// Builds rows of blocks with random quants and well-behaved random scales, and decodes them with an
/// independent Swift reading of the ggml layouts (written from the format description, not from the C code).
enum ReferenceBlocks {
    static func half(_ v: Float) -> UInt16 { Float16(v).bitPattern }

    static func put16(_ bytes: inout [UInt8], _ at: Int, _ v: UInt16) {
        bytes[at] = UInt8(v & 0xFF)
        bytes[at + 1] = UInt8(v >> 8)
    }

    static func get16(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt16 { UInt16(b[at]) | UInt16(b[at + 1]) << 8 }

    static func getHalf(_ b: UnsafeRawBufferPointer, _ at: Int) -> Float { Float(Float16(bitPattern: get16(b, at))) }

    /// Random bytes for `count` elements of `type` (count a multiple of the block length).
    static func random(_ type: GGMLType, count: Int, rng: inout SplitMix64) -> [UInt8] {
        let blocks = count / type.blockLength
        var bytes = (0..<blocks * type.blockBytes).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let bb = type.blockBytes
        func scale(_ lo: Float, _ hi: Float) -> UInt16 { half(Float.random(in: lo...hi, using: &rng)) }
        switch type {
        case .f32:
            for i in 0..<count {
                let v = Float.random(in: -2...2, using: &rng).bitPattern
                for k in 0..<4 { bytes[4 * i + k] = UInt8((v >> (8 * UInt32(k))) & 0xFF) }
            }
        case .f16:
            for i in 0..<count { put16(&bytes, 2 * i, scale(-2, 2)) }
        case .bf16:
            for i in 0..<count { put16(&bytes, 2 * i, UInt16(Float.random(in: -2...2, using: &rng).bitPattern >> 16)) }
        case .q4_0, .q5_0, .q8_0:
            for b in 0..<blocks { put16(&bytes, b * bb, scale(-0.05, 0.05)) }
        case .q4_1:
            for b in 0..<blocks {
                put16(&bytes, b * bb, scale(0, 0.02))
                put16(&bytes, b * bb + 2, scale(-0.2, 0.05))
            }
        case .q4_K:
            for b in 0..<blocks {
                put16(&bytes, b * bb, scale(0, 0.004))
                put16(&bytes, b * bb + 2, scale(0, 0.004))
            }
        case .q6_K:
            for b in 0..<blocks { put16(&bytes, b * bb + 208, scale(-0.002, 0.002)) }
        default:
            fatalError("no generator for \(type)")
        }
        return bytes
    }

    /// Decodes `count` elements of `type` starting at `raw`.
    static func decode(_ type: GGMLType, _ raw: UnsafeRawBufferPointer, count: Int) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        let bl = type.blockLength, bb = type.blockBytes
        for e in 0..<count {
            let blk = e / bl, i = e % bl, o = blk * bb
            switch type {
            case .f32:
                out[e] = Float(bitPattern: UInt32(get16(raw, 4 * e)) | UInt32(get16(raw, 4 * e + 2)) << 16)
            case .f16:
                out[e] = getHalf(raw, 2 * e)
            case .bf16:
                out[e] = Float(bitPattern: UInt32(get16(raw, 2 * e)) << 16)
            case .q4_0:
                let byte = raw[o + 2 + i % 16]
                let q = i < 16 ? byte & 0xF : byte >> 4
                out[e] = Float(Int(q) - 8) * getHalf(raw, o)
            case .q4_1:
                let byte = raw[o + 4 + i % 16]
                let q = i < 16 ? byte & 0xF : byte >> 4
                out[e] = Float(q) * getHalf(raw, o) + getHalf(raw, o + 2)
            case .q5_0:
                let byte = raw[o + 6 + i % 16]
                let low = Int(i < 16 ? byte & 0xF : byte >> 4)
                let high = Int((raw[o + 2 + i / 8] >> UInt8(i % 8)) & 1)  // bit i of the 32-bit qh
                out[e] = Float(low + 16 * high - 16) * getHalf(raw, o)
            case .q8_0:
                out[e] = Float(Int8(bitPattern: raw[o + 2 + i])) * getHalf(raw, o)
            case .q4_K:
                let d = getHalf(raw, o), dmin = getHalf(raw, o + 2)
                let s = { (k: Int) in Int(raw[o + 4 + k]) }
                let group = i / 64, sub = 2 * group + (i % 64 >= 32 ? 1 : 0), l = i % 32
                let sc: Int, m: Int
                if sub < 4 {
                    sc = s(sub) % 64
                    m = s(sub + 4) % 64
                } else {
                    sc = s(sub + 4) % 16 + (s(sub - 4) / 64) * 16
                    m = s(sub + 4) / 16 + (s(sub) / 64) * 16
                }
                let byte = Int(raw[o + 16 + 32 * group + l])
                let q = i % 64 < 32 ? byte % 16 : byte / 16
                out[e] = (d * Float(sc)) * Float(q) - dmin * Float(m)
            case .q6_K:
                let d = getHalf(raw, o + 208)
                let half = i / 128, w = i % 128, quarter = w / 32, l = w % 32
                let lowByte = Int(raw[o + 64 * half + l + 32 * (quarter % 2)])
                let low = quarter < 2 ? lowByte % 16 : lowByte / 16
                let high = (Int(raw[o + 128 + 32 * half + l]) >> (2 * quarter)) % 4
                let sc = Int8(bitPattern: raw[o + 192 + 8 * half + l / 16 + 2 * quarter])
                out[e] = d * Float(sc) * Float(low + 16 * high - 32)
            default:
                fatalError("no decoder for \(type)")
            }
        }
        return out
    }

    static func randomVector(_ count: Int, rng: inout SplitMix64) -> [Float] {
        (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }
    }

    /// Exact-as-possible dot product and the magnitude that bounds its rounding error.
    static func dot(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> (value: Double, magnitude: Double) {
        var s = 0.0, m = 0.0
        for (p, q) in zip(a, b) {
            s += Double(p) * Double(q)
            m += abs(Double(p) * Double(q))
        }
        return (s, m)
    }
}
