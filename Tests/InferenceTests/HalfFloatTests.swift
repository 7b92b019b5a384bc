import CKernels
import Testing

/// f16 <-> f32 conversions against Swift's own Float16, on every kernel level.
@Suite struct HalfFloatTests {
    static let levels = Array(0...Int(dera_max_kernel_level()))

    @Test(arguments: levels)
    func everyHalfWidensExactly(level: Int) {
        dera_set_kernel_level(Int32(level))
        defer { dera_set_kernel_level(-1) }
        let halves = (0...UInt16.max).map { $0 }
        var wide = [Float](repeating: 0, count: halves.count)
        dera_f16_to_f32(halves, &wide, Int64(halves.count))
        var narrow = [UInt16](repeating: 0, count: halves.count)
        dera_f32_to_f16(wide, &narrow, Int64(halves.count))
        var bad = 0
        for (h, f) in zip(halves, wide) {
            let want = Float(Float16(bitPattern: h))
            if want.isNaN {
                if !(f.isNaN && f.sign == want.sign) { bad += 1 }
                let back = narrow[Int(h)]
                if !(Float16(bitPattern: back).isNaN && (back & 0x8000) == (h & 0x8000)) { bad += 1 }
            } else {
                if f.bitPattern != want.bitPattern { bad += 1 }
                if narrow[Int(h)] != h { bad += 1 }  // includes -0, subnormals, infinities
            }
        }
        #expect(bad == 0, "level \(level): \(bad) mismatches")
    }

    @Test(arguments: levels)
    func narrowingRoundsToNearestEven(level: Int) {
        dera_set_kernel_level(Int32(level))
        defer { dera_set_kernel_level(-1) }
        var rng = SplitMix64(seed: 77)
        var values: [Float] = [
            0, -0, 1, -1, 65504, 65519.99, 65520, -65520, 1e10, -.infinity, .infinity,
            Float(bitPattern: 0x3380_0000),  // 2^-24: smallest subnormal half
            Float(bitPattern: 0x3300_0000),  // 2^-25: tie, rounds to 0
            Float(bitPattern: 0x3300_0001),  // just above the tie: rounds up
            Float(bitPattern: 0x33C0_0000),  // 1.5 * 2^-24: tie, rounds to 2 * 2^-24
            Float(bitPattern: 0x3880_0000),  // 2^-14: smallest normal half
            Float(bitPattern: 0x387F_F000),  // just below: rounds up to the smallest normal
            1 + 1.0 / 2048, 1 + 3.0 / 2048,  // ties between halves: to even
            .leastNonzeroMagnitude, .greatestFiniteMagnitude,
        ]
        for _ in 0..<20000 {
            values.append(Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng)))
            values.append(Float.random(in: -70000...70000, using: &rng))
            values.append(Float.random(in: -1e-4...1e-4, using: &rng))
        }
        var got = [UInt16](repeating: 0, count: values.count)
        dera_f32_to_f16(values, &got, Int64(values.count))
        var bad: [String] = []
        for (v, h) in zip(values, got) {
            let want = Float16(v)
            if v.isNaN {
                if !Float16(bitPattern: h).isNaN { bad.append("\(v)") }
            } else if h != want.bitPattern {
                bad.append("\(v) -> \(h) want \(want.bitPattern)")
            }
        }
        #expect(bad.isEmpty, "level \(level): \(bad.prefix(5))")
    }

    @Test(arguments: levels)
    func oddLengthsAndTails(level: Int) {
        dera_set_kernel_level(Int32(level))
        defer { dera_set_kernel_level(-1) }
        for n in [1, 3, 7, 8, 9, 15, 16, 17, 33] {
            let src = (0..<n).map { Float($0) * 0.25 - 1 }
            var h = [UInt16](repeating: 0xFFFF, count: n + 1)
            dera_f32_to_f16(src, &h, Int64(n))
            #expect(h[n] == 0xFFFF)
            var back = [Float](repeating: .nan, count: n + 1)
            dera_f16_to_f32(h, &back, Int64(n))
            #expect(Array(back[0..<n]) == src)
            #expect(back[n].isNaN)
        }
    }
}
