import Synchronization

/// Tokens of words already encoded, shared by every copy of a tokenizer and safe to use from many threads.
final class WordCache: Sendable {
    private let storage = Mutex<[[UInt8]: [Int32]]>([:])
    /// Words longer than this are not cached; the cache is emptied when it holds `capacity` words.
    static let longestWord = 64
    static let capacity = 65_536

    func tokens(for word: UnsafeBufferPointer<UInt8>) -> [Int32]? {
        guard word.count <= Self.longestWord else { return nil }
        let key = Array(word)
        return storage.withLock { $0[key] }
    }

    func store(_ tokens: [Int32], for word: UnsafeBufferPointer<UInt8>) {
        guard word.count <= Self.longestWord else { return }
        let key = Array(word)
        storage.withLock { cache in
            if cache.count >= Self.capacity { cache.removeAll(keepingCapacity: true) }
            cache[key] = tokens
        }
    }
}
