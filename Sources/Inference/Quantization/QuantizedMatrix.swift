import CKernels
import Dispatch
import Formats

/// A read-only view of a row-major weight matrix stored in one ggml element type (plain or block-quantised),
/// typically pointing into a memory-mapped GGUF file. It owns nothing: the memory must outlive the view.
///
/// Row `r` starts at `base + r * rowBytes` and holds `cols` elements. For a GGUF tensor with dimensions
/// `[ne0, ne1]`, `cols = ne0` and `rows = ne1`. All products take and return f32 activations; nothing here
/// quantises activations. No method allocates on the heap.
public struct QuantizedMatrix: @unchecked Sendable {
    public let type: GGMLType
    public let rows: Int
    public let cols: Int
    public let base: UnsafeRawPointer
    /// Distance between consecutive rows (normally `type.byteCount(elements: cols)`).
    public let rowBytes: Int

    /// Rows per parallel task are at least this many, so a task amortises its dispatch cost.
    public static let minRowsPerTask = 64

    /// - Parameters:
    ///   - rowBytes: row stride; `nil` means densely packed rows.
    public init(type: GGMLType, rows: Int, cols: Int, base: UnsafeRawPointer, rowBytes: Int? = nil) throws(QuantizationError) {
        guard dera_type_supported(type.rawValue) != 0 else { throw .unsupportedType(type) }
        guard rows >= 0, cols >= 0 else { throw .invalidShape(rows: rows, cols: cols) }
        guard let packed = type.byteCount(elements: cols) else {
            throw .misalignedColumns(type: type, cols: cols)
        }
        let stride = rowBytes ?? packed
        guard stride >= packed else { throw .rowBytesTooSmall(rowBytes: stride, needed: packed) }
        guard !rows.multipliedReportingOverflow(by: stride).overflow else {
            throw .invalidShape(rows: rows, cols: cols)
        }
        self.type = type
        self.rows = rows
        self.cols = cols
        self.base = base
        self.rowBytes = stride
    }

    /// Total bytes the matrix spans (what a matvec reads).
    public var byteCount: Int { rows * rowBytes }

    /// Start of row `row`.
    @inlinable public func rowPointer(_ row: Int) -> UnsafeRawPointer { base + row * rowBytes }

    /// Writes the `cols` f32 values of row `row` to `out`.
    public func dequantizeRow(_ row: Int, into out: UnsafeMutablePointer<Float>) {
        precondition(row >= 0 && row < rows, "row \(row) out of 0..<\(rows)")
        dera_dequantize_row(type.rawValue, rowPointer(row), out, Int64(cols))
    }

    /// Writes the `cols` f32 values of row `row` to `out` (which must hold at least `cols` floats).
    public func dequantizeRow(_ row: Int, into out: UnsafeMutableBufferPointer<Float>) {
        precondition(out.count >= cols, "output holds \(out.count) floats, row has \(cols)")
        dequantizeRow(row, into: out.baseAddress!)
    }

    /// Writes rows `range` as f32, row after row (`range.count * cols` floats), e.g. to hand a block of
    /// weights to BLAS.
    public func dequantize(rows range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "rows \(range) out of 0..<\(rows)")
        for (i, r) in range.enumerated() {
            dera_dequantize_row(type.rawValue, rowPointer(r), out + i * cols, Int64(cols))
        }
    }

    /// dot(row `row`, x), x holding `cols` floats.
    public func dot(row: Int, x: UnsafePointer<Float>) -> Float {
        precondition(row >= 0 && row < rows, "row \(row) out of 0..<\(rows)")
        return dera_dot_row(type.rawValue, rowPointer(row), x, Int64(cols))
    }

    /// y[r] = dot(row r, x) for r in `range` on the calling thread. x holds `cols` floats; y is indexed by
    /// absolute row, so it must hold at least `range.upperBound` floats.
    public func matvec(rows range: Range<Int>, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "rows \(range) out of 0..<\(rows)")
        dera_matvec(type.rawValue, base, rowBytes, x, y, Int64(range.lowerBound), Int64(range.upperBound), Int64(cols))
    }

    /// y = W x: x holds `cols` floats, y receives `rows` floats. Rows are split over up to `threads`
    /// concurrent tasks (each with at least `minRowsPerTask` rows).
    public func matvec(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, threads: Int = 1) {
        let tasks = taskCount(threads: threads)
        if tasks <= 1 {
            matvec(rows: 0..<rows, x: x, y: y)
            return
        }
        let xBits = UInt(bitPattern: x), yBits = UInt(bitPattern: y)
        DispatchQueue.concurrentPerform(iterations: tasks) { task in
            let range = self.chunk(task, of: tasks)
            dera_matvec(self.type.rawValue, self.base, self.rowBytes,
                        UnsafePointer<Float>(bitPattern: xBits)!, UnsafeMutablePointer<Float>(bitPattern: yBits)!,
                        Int64(range.lowerBound), Int64(range.upperBound), Int64(self.cols))
        }
    }

    /// Y = W X for `count` vectors at once, reading each weight row once.
    /// x holds `count` vectors of `cols` floats (x[v * cols + i]); y receives `count` vectors of `rows`
    /// floats (y[v * rows + r]). Rows are split over up to `threads` concurrent tasks.
    public func matmat(x: UnsafePointer<Float>, count: Int, y: UnsafeMutablePointer<Float>, threads: Int = 1) {
        guard count > 0 else { return }
        if count == 1 {
            matvec(x: x, y: y, threads: threads)
            return
        }
        let tasks = taskCount(threads: threads)
        if tasks <= 1 {
            matmat(rows: 0..<rows, x: x, count: count, y: y)
            return
        }
        let xBits = UInt(bitPattern: x), yBits = UInt(bitPattern: y)
        DispatchQueue.concurrentPerform(iterations: tasks) { task in
            let range = self.chunk(task, of: tasks)
            dera_matmat(self.type.rawValue, self.base, self.rowBytes,
                        UnsafePointer<Float>(bitPattern: xBits)!, Int64(count),
                        UnsafeMutablePointer<Float>(bitPattern: yBits)!, Int64(self.rows),
                        Int64(range.lowerBound), Int64(range.upperBound), Int64(self.cols))
        }
    }

    /// `matmat` restricted to `range` rows, on the calling thread (y laid out as in `matmat`).
    public func matmat(rows range: Range<Int>, x: UnsafePointer<Float>, count: Int, y: UnsafeMutablePointer<Float>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "rows \(range) out of 0..<\(rows)")
        dera_matmat(type.rawValue, base, rowBytes, x, Int64(count), y, Int64(rows),
                    Int64(range.lowerBound), Int64(range.upperBound), Int64(cols))
    }

    // MARK: - Work splitting

    func taskCount(threads: Int) -> Int {
        max(1, min(threads, rows / Self.minRowsPerTask))
    }

    /// Rows of task `task` out of `tasks`: contiguous, near-equal, boundaries on multiples of 8 rows.
    func chunk(_ task: Int, of tasks: Int) -> Range<Int> {
        func boundary(_ t: Int) -> Int {
            if t >= tasks { return rows }
            return min(rows, (rows * t / tasks) & ~7)
        }
        return boundary(task)..<boundary(task + 1)
    }
}
