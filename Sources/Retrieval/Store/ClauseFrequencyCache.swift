import Foundation

/// Remembers how many passages each query clause matches, so common-term pruning costs one count
/// per distinct clause instead of one per query. Cleared by every write through the same
/// ``PassageStore``; writes by another process are not seen, which can only make pruning slightly
/// off, never a query wrong.
final class ClauseFrequencyCache: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    private var passages: Int? = nil
    private let capacity: Int

    init(capacity: Int = 100_000) { self.capacity = capacity }

    func count(of clause: String, compute: () throws -> Int) rethrows -> Int {
        if let known = lock.withLock({ counts[clause] }) { return known }
        let value = try compute()
        lock.withLock {
            if counts.count >= capacity { counts.removeAll(keepingCapacity: true) }
            counts[clause] = value
        }
        return value
    }

    func passageCount(compute: () throws -> Int) rethrows -> Int {
        if let known = lock.withLock({ passages }) { return known }
        let value = try compute()
        lock.withLock { passages = value }
        return value
    }

    func removeAll() {
        lock.withLock {
            counts.removeAll()
            passages = nil
        }
    }
}
