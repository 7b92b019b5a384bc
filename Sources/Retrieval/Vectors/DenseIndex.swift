import CKernels
import Foundation

/// Every passage vector of a store in one row-major matrix of half floats (as stored), searched exactly: the
/// scores of all passages are one matrix-vector product (dera's F16C/AVX2 kernel, F32 accumulation), then the
/// best k are kept.
///
/// - Complexity: O(n d) per query for n passages of d dimensions: about 2 ms for 10,000 x 384 here, so exact search
///   stays well under 20 ms to roughly 100,000 passages and near 0.1 s at a million (0.8 GB of F16 in memory);
///   past that an approximate index (HNSW, IVF) would be needed.
public final class DenseIndex: @unchecked Sendable {
    public let model: VectorModel
    /// Passage row ids, one per matrix row.
    public let passageIDs: [Int64]
    /// IEEE half floats, `dimension` per passage.
    let matrix: [UInt16]
    /// Matrix row of each passage id.
    let rows: [Int64: Int]

    init(model: VectorModel, passageIDs: [Int64], matrix: [UInt16]) {
        self.model = model
        self.passageIDs = passageIDs
        self.matrix = matrix
        rows = Dictionary(passageIDs.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The dot product of `query` with the vector of `passageID`, or nil when that passage has none.
    public func similarity(_ query: [Float], passageID: Int64) -> Float? {
        guard let row = rows[passageID], query.count == model.dimension else { return nil }
        let d = model.dimension
        return matrix.withUnsafeBufferPointer { m in
            query.withUnsafeBufferPointer { q in dera_dot_row(1, m.baseAddress! + row * d, q.baseAddress!, Int64(d)) }
        }
    }

    public var count: Int { passageIDs.count }

    /// The `limit` passages whose vectors have the largest dot product with `query` (a cosine, for unit vectors),
    /// best first; ties go to the lower row id. `allowed`, when given, restricts the candidates.
    public func nearest(_ query: [Float], limit: Int, allowed: Set<Int64>? = nil) -> [(passageID: Int64, score: Float)] {
        let n = count, d = model.dimension
        guard n > 0, limit > 0, query.count == d else { return [] }
        var scores = [Float](repeating: 0, count: n)
        matrix.withUnsafeBufferPointer { m in
            query.withUnsafeBufferPointer { q in
                scores.withUnsafeMutableBufferPointer { y in
                    // Type 1 is F16 (ggml's numbering, CKernels.h).
                    dera_matvec(1, m.baseAddress!, d * 2, q.baseAddress!, y.baseAddress!, 0, Int64(n), Int64(d))
                }
            }
        }
        // A bounded min-heap of the best `limit` rows.
        var heap: [(score: Float, row: Int)] = []
        heap.reserveCapacity(limit + 1)
        func worse(_ a: (score: Float, row: Int), _ b: (score: Float, row: Int)) -> Bool {
            a.score < b.score || (a.score == b.score && a.row > b.row)
        }
        for row in 0..<n {
            if let allowed, !allowed.contains(passageIDs[row]) { continue }
            let item = (score: scores[row], row: row)
            if heap.count == limit {
                guard worse(heap[0], item) else { continue }
                heap[0] = item
                var i = 0
                while true {
                    let l = 2 * i + 1, r = l + 1
                    var smallest = i
                    if l < heap.count, worse(heap[l], heap[smallest]) { smallest = l }
                    if r < heap.count, worse(heap[r], heap[smallest]) { smallest = r }
                    if smallest == i { break }
                    heap.swapAt(i, smallest)
                    i = smallest
                }
            } else {
                heap.append(item)
                var i = heap.count - 1
                while i > 0, worse(heap[i], heap[(i - 1) / 2]) {
                    heap.swapAt(i, (i - 1) / 2)
                    i = (i - 1) / 2
                }
            }
        }
        return heap.sorted { worse($1, $0) }.map { (passageIDs[$0.row], $0.score) }
    }
}

/// The dense index of one ``PassageStore``, loaded on first use and dropped by every write through that store.
final class DenseIndexCache: @unchecked Sendable {
    private let lock = NSLock()
    private var index: DenseIndex?

    func index(load: () throws -> DenseIndex?) rethrows -> DenseIndex? {
        if let index = lock.withLock({ index }) { return index }
        let loaded = try load()
        lock.withLock { index = loaded }
        return loaded
    }

    func removeAll() { lock.withLock { index = nil } }
}
