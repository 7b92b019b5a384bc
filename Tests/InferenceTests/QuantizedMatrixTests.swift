import CKernels
import Formats
import Testing

@testable import Inference

/// Matrix-vector and matrix-matrix products through `QuantizedMatrix`: row ranges, padding, threads.
@Suite struct QuantizedMatrixTests {
    /// A matrix with random contents and its independently decoded f32 copy.
    struct Fixture {
        let type: GGMLType
        let rows: Int, cols: Int, rowBytes: Int
        let bytes: [UInt8]
        let dense: [Float]  // rows x cols

        init(_ type: GGMLType, rows: Int, cols: Int, padding: Int = 0, seed: UInt64) {
            var rng = SplitMix64(seed: seed)
            let packed = type.byteCount(elements: cols)!
            var bytes = [UInt8](repeating: 0xAB, count: rows * (packed + padding))
            var dense = [Float]()
            for r in 0..<rows {
                let row = ReferenceBlocks.random(type, count: cols, rng: &rng)
                bytes.replaceSubrange(r * (packed + padding)..<r * (packed + padding) + packed, with: row)
                dense += row.withUnsafeBytes { ReferenceBlocks.decode(type, $0, count: cols) }
            }
            self.type = type
            self.rows = rows
            self.cols = cols
            self.rowBytes = packed + padding
            self.bytes = bytes
            self.dense = dense
        }

        func withMatrix<R>(_ body: (QuantizedMatrix) throws -> R) rethrows -> R {
            try bytes.withUnsafeBytes { raw in
                let m = try! QuantizedMatrix(type: type, rows: rows, cols: cols, base: raw.baseAddress!, rowBytes: rowBytes)
                return try body(m)
            }
        }

        func expectRow(_ r: Int, _ x: ArraySlice<Float>, got: Float, _ note: @autoclosure () -> String) {
            let (want, magnitude) = ReferenceBlocks.dot(dense[r * cols..<(r + 1) * cols], x)
            #expect(abs(Double(got) - want) <= 1e-5 * magnitude + 1e-30, "\(type) row \(r) \(note()): \(got) vs \(want)")
        }
    }

    static func cols(_ type: GGMLType) -> Int { type.blockLength == 256 ? 512 : 96 }

    @Test(arguments: kernelTypes)
    func matvecAllThreadCounts(type: GGMLType) {
        let rows = 203  // odd, and not a multiple of the task granularity
        let f = Fixture(type, rows: rows, cols: Self.cols(type), seed: 11 + UInt64(type.rawValue))
        var rng = SplitMix64(seed: 5)
        let x = ReferenceBlocks.randomVector(f.cols, rng: &rng)
        for threads in [1, 2, 3, 4] {
            var y = [Float](repeating: .nan, count: rows)
            f.withMatrix { m in m.matvec(x: x, y: &y, threads: threads) }
            for r in 0..<rows { f.expectRow(r, x[...], got: y[r], "threads \(threads)") }
        }
    }

    @Test(arguments: kernelTypes)
    func matvecRowRangeTouchesOnlyThoseRows(type: GGMLType) {
        let f = Fixture(type, rows: 37, cols: Self.cols(type), padding: 6, seed: 21 + UInt64(type.rawValue))
        var rng = SplitMix64(seed: 6)
        let x = ReferenceBlocks.randomVector(f.cols, rng: &rng)
        for range in [0..<1, 5..<18, 36..<37, 0..<37] {
            var y = [Float](repeating: -123, count: f.rows)
            f.withMatrix { m in m.matvec(rows: range, x: x, y: &y) }
            for r in 0..<f.rows {
                if range.contains(r) { f.expectRow(r, x[...], got: y[r], "range \(range)") } else { #expect(y[r] == -123) }
            }
        }
    }

    @Test(arguments: kernelTypes)
    func matmatMatchesPerVector(type: GGMLType) {
        let rows = 131
        let f = Fixture(type, rows: rows, cols: Self.cols(type), padding: 2, seed: 31 + UInt64(type.rawValue))
        var rng = SplitMix64(seed: 7)
        for (count, threads) in [(1, 1), (2, 1), (3, 2), (8, 1), (9, 3), (17, 2)] {
            let x = ReferenceBlocks.randomVector(count * f.cols, rng: &rng)
            var y = [Float](repeating: .nan, count: count * rows)
            f.withMatrix { m in m.matmat(x: x, count: count, y: &y, threads: threads) }
            for v in 0..<count {
                for r in 0..<rows {
                    f.expectRow(r, x[v * f.cols..<(v + 1) * f.cols], got: y[v * rows + r], "vector \(v)/\(count)")
                }
            }
        }
    }

    @Test(arguments: kernelTypes)
    func matmatRowRangeOnEveryLevel(type: GGMLType) {
        let rows = 19
        let f = Fixture(type, rows: rows, cols: Self.cols(type), seed: 41 + UInt64(type.rawValue))
        var rng = SplitMix64(seed: 8)
        let count = 5
        let x = ReferenceBlocks.randomVector(count * f.cols, rng: &rng)
        for level in 0...Int(dera_max_kernel_level()) {
            dera_set_kernel_level(Int32(level))
            defer { dera_set_kernel_level(-1) }
            var y = [Float](repeating: -9, count: count * rows)
            f.withMatrix { m in m.matmat(rows: 3..<16, x: x, count: count, y: &y) }
            for v in 0..<count {
                for r in 0..<rows {
                    if (3..<16).contains(r) {
                        f.expectRow(r, x[v * f.cols..<(v + 1) * f.cols], got: y[v * rows + r], "level \(level)")
                    } else {
                        #expect(y[v * rows + r] == -9)
                    }
                }
            }
        }
    }

    @Test(arguments: [GGMLType.f32, .f16, .bf16], [37, 48, 100, 560, 4097 + 64])
    func plainTypesWithRaggedRows(type: GGMLType, cols: Int) {
        let rows = 9
        let f = Fixture(type, rows: rows, cols: cols, seed: 61 + UInt64(cols))
        var rng = SplitMix64(seed: 10)
        for level in 0...Int(dera_max_kernel_level()) {
            dera_set_kernel_level(Int32(level))
            defer { dera_set_kernel_level(-1) }
            matmatRagged(f, rows: rows, cols: cols, rng: &rng)
        }
    }

    func matmatRagged(_ f: Fixture, rows: Int, cols: Int, rng: inout SplitMix64) {
        for count in [1, 5, 9] {
            let x = ReferenceBlocks.randomVector(count * cols, rng: &rng)
            var y = [Float](repeating: .nan, count: count * rows)
            f.withMatrix { m in m.matmat(x: x, count: count, y: &y, threads: 1) }
            for v in 0..<count {
                for r in 0..<rows { f.expectRow(r, x[v * cols..<(v + 1) * cols], got: y[v * rows + r], "cols \(cols) vector \(v)") }
            }
        }
    }

    @Test func dequantizeRowAndDotThroughTheView() {
        let f = Fixture(.q4_K, rows: 3, cols: 256, padding: 4, seed: 51)
        var rng = SplitMix64(seed: 9)
        let x = ReferenceBlocks.randomVector(256, rng: &rng)
        f.withMatrix { m in
            var out = [Float](repeating: 0, count: 256)
            out.withUnsafeMutableBufferPointer { m.dequantizeRow(2, into: $0) }
            for i in 0..<256 { #expect(abs(out[i] - f.dense[512 + i]) <= 4e-6) }  // values stay below 4: a few ulp
            f.expectRow(1, x[...], got: m.dot(row: 1, x: x), "dot")
            var block = [Float](repeating: .nan, count: 2 * 256 + 1)
            block.withUnsafeMutableBufferPointer { m.dequantize(rows: 1..<3, into: $0.baseAddress!) }
            for i in 0..<512 { #expect(abs(block[i] - f.dense[256 + i]) <= 4e-6) }  // values stay below 4: a few ulp
            #expect(block[512].isNaN)
        }
    }

    @Test func rejectsBadShapes() throws {
        let bytes = [UInt8](repeating: 0, count: 1024)
        try bytes.withUnsafeBytes { raw in
            let p = raw.baseAddress!
            #expect(throws: QuantizationError.unsupportedType(.q2_K)) {
                try QuantizedMatrix(type: .q2_K, rows: 1, cols: 256, base: p)
            }
            #expect(throws: QuantizationError.misalignedColumns(type: .q8_0, cols: 40)) {
                try QuantizedMatrix(type: .q8_0, rows: 1, cols: 40, base: p)
            }
            #expect(throws: QuantizationError.rowBytesTooSmall(rowBytes: 30, needed: 34)) {
                try QuantizedMatrix(type: .q8_0, rows: 1, cols: 32, base: p, rowBytes: 30)
            }
            let m = try QuantizedMatrix(type: .q4_1, rows: 4, cols: 64, base: p)
            #expect(m.rowBytes == 40 && m.byteCount == 160)
        }
    }

    @Test func chunksCoverAllRowsOnce() throws {
        let bytes = [UInt8](repeating: 0, count: 4)
        try bytes.withUnsafeBytes { raw in
            for rows in [0, 1, 63, 64, 129, 1000, 49152] {
                let m = try QuantizedMatrix(type: .f32, rows: rows, cols: 0, base: raw.baseAddress!)
                for threads in [1, 2, 3, 8] {
                    let tasks = m.taskCount(threads: threads)
                    var next = 0
                    for t in 0..<tasks {
                        let c = m.chunk(t, of: tasks)
                        #expect(c.lowerBound == next)
                        next = c.upperBound
                    }
                    #expect(next == rows)
                }
            }
        }
    }
}
