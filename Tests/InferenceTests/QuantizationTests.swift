import CKernels
import Foundation
import Formats
import Testing

@testable import Inference

/// Dequantisation and single-row dot products of every supported type, on every kernel level this CPU has.
@Suite struct QuantizationTests {
    static let levels = Array(0...Int(dera_max_kernel_level()))

    @Test func supportedTypesMatchFormats() {
        for type in GGMLType.allCases {
            #expect((dera_type_supported(type.rawValue) != 0) == type.isSupportedForCompute, "\(type)")
        }
        #expect(dera_type_supported(999) == 0)
    }

    @Test(arguments: kernelTypes, levels)
    func dequantizeMatchesReference(type: GGMLType, level: Int) {
        dera_set_kernel_level(Int32(level))
        defer { dera_set_kernel_level(-1) }
        var rng = SplitMix64(seed: 0xD37A_0000 + UInt64(type.rawValue))
        for blocks in [1, 2, 3, 7] {
            let count = blocks * max(type.blockLength, 32)
            let bytes = ReferenceBlocks.random(type, count: count, rng: &rng)
            let expected = bytes.withUnsafeBytes { ReferenceBlocks.decode(type, $0, count: count) }
            var got = [Float](repeating: .nan, count: count + 1)
            bytes.withUnsafeBytes { dera_dequantize_row(type.rawValue, $0.baseAddress, &got, Int64(count)) }
            #expect(got[count].isNaN, "wrote past the end")
            // Up to one rounding of the product (fused multiply-add in SIMD paths), relative to the block's scale.
            let bl = max(type.blockLength, 1)
            var worst: Float = 0
            for e in 0..<count {
                let blockStart = e / bl * bl
                let scale = expected[blockStart..<blockStart + bl].reduce(0) { max($0, abs($1)) }
                worst = max(worst, abs(got[e] - expected[e]) / max(scale, .leastNormalMagnitude))
            }
            #expect(worst <= 1e-6, "\(type) level \(level) blocks \(blocks): worst relative error \(worst)")
        }
    }

    @Test(arguments: kernelTypes, levels)
    func dotMatchesDequantizeThenDot(type: GGMLType, level: Int) {
        dera_set_kernel_level(Int32(level))
        defer { dera_set_kernel_level(-1) }
        var rng = SplitMix64(seed: 0xD07_0000 + UInt64(type.rawValue))
        // Odd block counts and lengths that exercise SIMD tails (plain types have block length 1).
        let lengths = type.blockLength == 1 ? [1, 7, 8, 31, 33, 64, 100, 576, 1537] : [1, 2, 3, 5, 18].map { $0 * type.blockLength }
        for n in lengths {
            let bytes = ReferenceBlocks.random(type, count: n, rng: &rng)
            let w = bytes.withUnsafeBytes { ReferenceBlocks.decode(type, $0, count: n) }
            let x = ReferenceBlocks.randomVector(n, rng: &rng)
            let got = bytes.withUnsafeBytes { dera_dot_row(type.rawValue, $0.baseAddress, x, Int64(n)) }
            let (want, magnitude) = ReferenceBlocks.dot(w[...], x[...])
            #expect(abs(Double(got) - want) <= 1e-5 * magnitude + 1e-30, "\(type) level \(level) n \(n): \(got) vs \(want)")
        }
    }

    @Test func unsupportedTypeLeavesOutputAlone() {
        var out = [Float](repeating: 7, count: 32)
        let bytes = [UInt8](repeating: 1, count: 64)
        bytes.withUnsafeBytes { dera_dequantize_row(GGMLType.q2_K.rawValue, $0.baseAddress, &out, 32) }
        #expect(out.allSatisfy { $0 == 7 })
        #expect(bytes.withUnsafeBytes { dera_dot_row(GGMLType.q2_K.rawValue, $0.baseAddress, out, 32) } == 0)
    }

    @Test func levelOverrideIsClampedAndPerThread() {
        let max = dera_max_kernel_level()
        #expect(dera_set_kernel_level(99) == max)
        #expect(dera_set_kernel_level(0) == 0)
        #expect(dera_kernel_level() == 0)
        #expect(dera_set_kernel_level(-1) == dera_default_kernel_level())
        let pinnedByEnvironment = ProcessInfo.processInfo.environment["DERA_KERNEL_LEVEL"] == "2"
        #expect(dera_default_kernel_level() == (pinnedByEnvironment ? max : min(max, 1)))
    }
}
