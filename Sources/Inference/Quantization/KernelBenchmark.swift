import CKernels
import Dispatch
import Formats

/// Measures the quantised matrix kernels on synthetic weights (for `dera bench kernels`).
/// Throughput is reported in GB/s of weight bytes read, the figure that bounds decoding speed.
public enum KernelBenchmark {
    public struct Result: Sendable, CustomStringConvertible {
        public let type: GGMLType
        public let rows: Int
        public let cols: Int
        public let vectors: Int
        public let threads: Int
        /// Kernel level used (0 scalar, 1 AVX2).
        public let level: Int
        public let secondsPerCall: Double
        public let weightBytes: Int

        public var gigabytesPerSecond: Double { Double(weightBytes) / secondsPerCall / 1e9 }

        public var description: String {
            let shape = "\(rows)x\(cols)"
            let what = vectors == 1 ? "matvec" : "matmat x\(vectors)"
            let gbs = (gigabytesPerSecond * 10).rounded() / 10
            let us = (secondsPerCall * 1e7).rounded() / 10
            return "\(type) \(shape) \(what) threads \(threads) level \(level): \(us) us/call, \(gbs) GB/s"
        }
    }

    /// The shapes of SmolLM2-135M's projections (576 hidden, 1536 ffn, 49152 vocabulary).
    public static let defaultShapes: [(rows: Int, cols: Int)] = [(576, 1536), (1536, 576), (49152, 576)]

    /// Runs every combination and returns one result each. `minSeconds` is the time spent per combination.
    public static func run(
        types: [GGMLType] = [.f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q8_0, .q4_K, .q6_K],
        shapes: [(rows: Int, cols: Int)] = defaultShapes,
        vectors: [Int] = [1],
        threads: [Int] = [1],
        levels: [Int]? = nil,
        minSeconds: Double = 0.2
    ) -> [Result] {
        var results: [Result] = []
        let allLevels = levels ?? [Int(dera_max_kernel_level())]
        for type in types where type.isSupportedForCompute {
            for shape in shapes {
                let cols = (shape.cols + type.blockLength - 1) / type.blockLength * type.blockLength
                guard let rowBytes = type.byteCount(elements: cols) else { continue }
                let weights = syntheticWeights(type, rows: shape.rows, rowBytes: rowBytes)
                defer { weights.deallocate() }
                let matrix = try! QuantizedMatrix(type: type, rows: shape.rows, cols: cols, base: UnsafeRawPointer(weights.baseAddress!))
                for count in vectors {
                    let x = UnsafeMutablePointer<Float>.allocate(capacity: cols * count)
                    let y = UnsafeMutablePointer<Float>.allocate(capacity: shape.rows * count)
                    defer { x.deallocate(); y.deallocate() }
                    for i in 0..<cols * count { x[i] = Float(i % 17) * 0.01 - 0.08 }
                    for level in allLevels {
                        for t in threads {
                            let used = Int(dera_set_kernel_level(Int32(level)))
                            // The pinned level only applies to this thread: multi-threaded runs use the CPU's best.
                            let seconds = time(minSeconds: minSeconds) {
                                matrix.matmat(x: x, count: count, y: y, threads: t)
                            }
                            dera_set_kernel_level(-1)
                            results.append(Result(type: type, rows: shape.rows, cols: cols, vectors: count, threads: t,
                                                  level: t == 1 ? used : Int(dera_max_kernel_level()),
                                                  secondsPerCall: seconds, weightBytes: matrix.byteCount))
                        }
                    }
                }
            }
        }
        return results
    }

    /// Best-of-several average time per call, after a warm-up call.
    static func time(minSeconds: Double, _ body: () -> Void) -> Double {
        body()
        var best = Double.infinity
        var spent = 0.0
        repeat {
            var calls = 0
            let start = DispatchTime.now().uptimeNanoseconds
            var elapsed = 0.0
            repeat {
                body()
                calls += 1
                elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            } while elapsed < minSeconds / 20
            best = min(best, elapsed / Double(calls))
            spent += elapsed
        } while spent < minSeconds
        return best
    }

    /// Random quants with small, finite f16 scales, so no NaN or subnormal slows the arithmetic.
    static func syntheticWeights(_ type: GGMLType, rows: Int, rowBytes: Int) -> UnsafeMutableRawBufferPointer {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: rows * rowBytes, alignment: 64)
        var state: UInt64 = 0x1234_5678_9ABC_DEF1
        for i in 0..<buffer.count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            buffer[i] = UInt8(truncatingIfNeeded: state >> 56)
        }
        let halfScale: UInt16 = 0x2000  // 2^-7
        func setHalf(_ offset: Int, _ value: UInt16) {
            buffer[offset] = UInt8(value & 0xFF)
            buffer[offset + 1] = UInt8(value >> 8)
        }
        let blocks = rows * rowBytes / type.blockBytes
        for b in 0..<blocks {
            let o = b * type.blockBytes
            switch type {
            case .f16: setHalf(o, 0x3000 | UInt16(b & 0x3FF))
            case .bf16: setHalf(o, 0x3C00 | UInt16(b & 0x7F))
            case .f32: buffer.storeBytes(of: Float(b % 13) * 0.01, toByteOffset: o, as: Float.self)
            case .q4_0, .q5_0, .q8_0: setHalf(o, halfScale)
            case .q4_1, .q4_K: setHalf(o, halfScale); setHalf(o + 2, halfScale)
            case .q6_K: setHalf(o + 208, halfScale)
            default: break
            }
        }
        return buffer
    }
}
