import CKernels
import COpenBLAS

extension WeightMatrix {
    /// `y[t][r] = sum_c x[t][c] * W[r][c]` for `count` input rows of `columns` floats; `y` has `rows` floats per
    /// input row. One row reads the quantised weights directly; a few rows share each weight read; many rows
    /// dequantise a panel of weights and hand it to OpenBLAS sgemm.
    /// - Complexity: O(count * rows * columns).
    public func multiply(_ x: UnsafePointer<Float>, count: Int, into y: UnsafeMutablePointer<Float>, workers: Int) {
        let matrix = self.matrix, rows = self.rows, columns = self.columns
        if count == 1 {
            parallelFor(workers: workers, count: rows, granularity: 64) { range in
                matrix.matvec(rows: range, x: x, y: y)
            }
            return
        }
        if count <= 4 {
            parallelFor(workers: workers, count: rows, granularity: 64) { range in
                matrix.matmat(rows: range, x: x, count: count, y: y)
            }
            return
        }
        let panelRows = 64
        parallelFor(workers: workers, count: rows, granularity: panelRows) { range in
            let panel = UnsafeMutablePointer<Float>.allocate(capacity: panelRows * columns)
            defer { panel.deallocate() }
            var r = range.lowerBound
            while r < range.upperBound {
                let n = min(panelRows, range.upperBound - r)
                matrix.dequantize(rows: r..<(r + n), into: panel)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(count), Int32(n), Int32(columns),
                            1, x, Int32(columns), panel, Int32(columns), 0, y + r, Int32(rows))
                r += n
            }
        }
    }
}

extension WeightMatrix {
    /// `count` rows of activations quantised for weights of `type`, `stride` bytes apart; the caller
    /// deallocates the buffer.
    static func quantizeActivations(_ x: UnsafePointer<Float>, count: Int, type: UInt32, columns: Int, workers: Int)
        -> (buffer: UnsafeMutableRawPointer, stride: Int) {
        let stride = dera_q8_row_bytes(type, Int64(columns))
        let quantized = UnsafeMutableRawPointer.allocate(byteCount: max(stride * count, 1), alignment: 64)
        parallelFor(workers: workers, count: count, granularity: 1) { range in
            for v in range {
                dera_quantize_activations(type, x + v * columns, quantized + v * stride, Int64(columns))
            }
        }
        return (quantized, stride)
    }

    /// The same product with activations quantised to 8 bits per block first, as llama.cpp does on the CPU
    /// (see CKernelsQ8.h): integer block dot products, never expanding the weights to floats.
    public func multiplyQuantizingActivations(_ x: UnsafePointer<Float>, count: Int, into y: UnsafeMutablePointer<Float>,
                                              workers: Int) {
        let rows = self.rows, columns = self.columns, type = self.type.rawValue, rowBytes = self.rowBytes
        let base = self.base
        let (quantized, stride) = Self.quantizeActivations(x, count: count, type: type, columns: columns,
                                                          workers: workers)
        defer { quantized.deallocate() }
        let activations = UnsafeRawPointer(quantized)
        // 16-row units (a cache line of output, four passes of the four-row kernels) split 576 rows evenly.
        parallelFor(workers: workers, count: rows, granularity: 16) { range in
            if count == 1 {
                dera_matvec_q8(type, base, rowBytes, activations, y, Int64(range.lowerBound), Int64(range.upperBound),
                               Int64(columns))
            } else {
                dera_matmat_q8(type, base, rowBytes, activations, stride, Int64(count), y, Int64(rows),
                               Int64(range.lowerBound), Int64(range.upperBound), Int64(columns))
            }
        }
    }
}

extension WeightMatrix {
    /// Several products of the same activations (query/key/value, gate/up) in one parallel region with the
    /// activations quantised once: each output is exactly what `multiplyQuantizingActivations` gives, but the
    /// workers meet once instead of once per matrix. Matrices of different types or widths go one by one.
    static func multiplyQuantizingActivations(_ products: [(matrix: WeightMatrix, output: UnsafeMutablePointer<Float>)],
                                              _ x: UnsafePointer<Float>, count: Int, workers: Int) {
        guard let first = products.first?.matrix else { return }
        let type = first.type.rawValue, columns = first.columns
        guard products.allSatisfy({ $0.matrix.type.rawValue == type && $0.matrix.columns == columns && $0.matrix.rows % 16 == 0 })
        else {
            for (matrix, output) in products {
                matrix.multiplyQuantizingActivations(x, count: count, into: output, workers: workers)
            }
            return
        }
        let (quantized, stride) = Self.quantizeActivations(x, count: count, type: type, columns: columns,
                                                          workers: workers)
        defer { quantized.deallocate() }
        let activations = UnsafeRawPointer(quantized)
        // Offsets of each matrix's rows in the combined row space.
        var starts = [0]
        for (matrix, _) in products { starts.append(starts.last! + matrix.rows) }
        parallelFor(workers: workers, count: starts.last!, granularity: 16) { range in
            for (index, (matrix, y)) in products.enumerated() {
                let lower = max(range.lowerBound, starts[index]) - starts[index]
                let upper = min(range.upperBound, starts[index + 1]) - starts[index]
                guard lower < upper else { continue }
                if count == 1 {
                    dera_matvec_q8(type, matrix.base, matrix.rowBytes, activations, y, Int64(lower), Int64(upper),
                                   Int64(columns))
                } else {
                    dera_matmat_q8(type, matrix.base, matrix.rowBytes, activations, stride, Int64(count), y,
                                   Int64(matrix.rows), Int64(lower), Int64(upper), Int64(columns))
                }
            }
        }
    }
}
