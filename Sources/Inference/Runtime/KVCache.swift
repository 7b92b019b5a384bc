/// The keys and values one sequence has attended to so far, per layer, in F32.
///
/// Layout: `[layer][position][kvWidth]` for keys and the same for values. A cache is a reference type so a
/// batch can hold several, and ``copy(prefix:)`` lets sequences that share a prompt start from one prefill.
public final class KVCache: @unchecked Sendable {
    public let layerCount: Int
    public let width: Int
    public let capacity: Int
    /// Positions filled so far.
    public internal(set) var length = 0
    let keys: UnsafeMutablePointer<Float>
    let values: UnsafeMutablePointer<Float>

    public init(layerCount: Int, width: Int, capacity: Int) {
        self.layerCount = layerCount
        self.width = width
        self.capacity = capacity
        let count = layerCount * capacity * width
        keys = .allocate(capacity: max(count, 1))
        values = .allocate(capacity: max(count, 1))
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    func keys(layer: Int) -> UnsafeMutablePointer<Float> { keys + layer * capacity * width }
    func values(layer: Int) -> UnsafeMutablePointer<Float> { values + layer * capacity * width }

    /// Forgets everything after `length` positions (for example to re-use a shared prompt).
    public func truncate(to length: Int) {
        self.length = min(self.length, max(0, length))
    }

    /// A new cache holding this one's first `prefix` positions.
    public func copy(prefix: Int? = nil) -> KVCache {
        let n = min(prefix ?? length, length)
        let other = KVCache(layerCount: layerCount, width: width, capacity: capacity)
        for layer in 0..<layerCount {
            other.keys(layer: layer).update(from: keys(layer: layer), count: n * width)
            other.values(layer: layer).update(from: values(layer: layer), count: n * width)
        }
        other.length = n
        return other
    }
}
