import Foundation

/// The tokens still in the running for the next position and their logits, which sampling steps narrow
/// down and reshape. Buffers are kept between tokens, so a step allocates nothing.
public struct TokenCandidates: Sendable {
    public internal(set) var ids: [Int32] = []
    public internal(set) var logits: [Float] = []
    /// True once the candidates are ordered by logit, largest first (ties by lower id).
    public internal(set) var isSorted = false

    public init() {}

    public var count: Int { ids.count }

    /// Every token with a finite logit, in id order.
    public mutating func load(_ values: UnsafeBufferPointer<Float>) {
        ids.removeAll(keepingCapacity: true)
        logits.removeAll(keepingCapacity: true)
        ids.reserveCapacity(values.count)
        logits.reserveCapacity(values.count)
        for (i, value) in values.enumerated() where value.isFinite {
            ids.append(Int32(i))
            logits.append(value)
        }
        isSorted = false
    }

    public mutating func sort() {
        guard !isSorted else { return }
        let order = ids.indices.sorted { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && ids[$0] < ids[$1]) }
        ids = order.map { ids[$0] }
        logits = order.map { logits[$0] }
        isSorted = true
    }

    /// Keeps the `k` largest logits, sorted, in O(n log k) without sorting everything.
    public mutating func keepLargest(_ k: Int) {
        guard k < count else { return sort() }
        guard k > 0 else {
            ids.removeAll(keepingCapacity: true)
            logits.removeAll(keepingCapacity: true)
            return
        }
        // A sorted list of the best k seen so far; most tokens lose to its last entry and cost one comparison.
        var bestIDs: [Int32] = [], bestLogits: [Float] = []
        bestIDs.reserveCapacity(k + 1)
        bestLogits.reserveCapacity(k + 1)
        for i in 0..<count {
            let value = logits[i], id = ids[i]
            if bestLogits.count == k, let last = bestLogits.last,
               value < last || (value == last && id > bestIDs[k - 1]) { continue }
            var at = bestLogits.count
            while at > 0, bestLogits[at - 1] < value || (bestLogits[at - 1] == value && bestIDs[at - 1] > id) { at -= 1 }
            bestLogits.insert(value, at: at)
            bestIDs.insert(id, at: at)
            if bestLogits.count > k {
                bestLogits.removeLast()
                bestIDs.removeLast()
            }
        }
        ids = bestIDs
        logits = bestLogits
        isSorted = true
    }

    /// Keeps the first `n` candidates (of the current order).
    public mutating func keepFirst(_ n: Int) {
        let extra = count - n
        guard extra > 0 else { return }
        ids.removeLast(extra)
        logits.removeLast(extra)
    }

    /// Softmax probabilities of the current logits, in candidate order.
    public func probabilities() -> [Float] {
        guard let top = logits.max() else { return [] }
        var p = logits.map { expf($0 - top) }
        let total = p.reduce(0, +)
        for i in p.indices { p[i] /= total }
        return p
    }

    mutating func scaleLogit(at index: Int, by factor: (Float) -> Float) {
        logits[index] = factor(logits[index])
    }
}

/// One step of a sampler chain: it changes the logits or drops candidates, never picks the token.
public protocol SamplingStep: Sendable {
    /// - Parameters:
    ///   - candidates: the tokens still in play.
    ///   - history: the tokens of the sequence so far (prompt and generated).
    func apply(to candidates: inout TokenCandidates, history: [Int])
}

/// Makes recently seen tokens less likely: positive logits are divided by `penalty`, negative ones
/// multiplied (the CTRL / llama.cpp rule).
public struct RepetitionPenalty: SamplingStep {
    public var penalty: Float
    /// How many of the last tokens count as seen.
    public var window: Int

    public init(penalty: Float, window: Int = 64) {
        self.penalty = penalty
        self.window = window
    }

    public func apply(to candidates: inout TokenCandidates, history: [Int]) {
        guard penalty != 1 else { return }
        let seen = Set(history.suffix(window).map(Int32.init))
        for i in 0..<candidates.count where seen.contains(candidates.ids[i]) {
            candidates.scaleLogit(at: i) { $0 > 0 ? $0 / penalty : $0 * penalty }
        }
    }
}

/// Divides every logit by `temperature` (< 1 sharpens, > 1 flattens).
public struct Temperature: SamplingStep {
    public var temperature: Float
    public init(_ temperature: Float) { self.temperature = temperature }

    public func apply(to candidates: inout TokenCandidates, history: [Int]) {
        guard temperature > 0, temperature != 1 else { return }
        for i in 0..<candidates.count { candidates.scaleLogit(at: i) { $0 / temperature } }
    }
}

/// Keeps the `k` most likely tokens (0 keeps all).
public struct TopK: SamplingStep {
    public var k: Int
    public init(_ k: Int) { self.k = k }

    public func apply(to candidates: inout TokenCandidates, history: [Int]) {
        guard k > 0 else { return }
        candidates.keepLargest(k)
    }
}

/// Nucleus sampling: keeps the smallest set of most likely tokens whose probabilities reach `p`.
public struct TopP: SamplingStep {
    public var p: Float
    public init(_ p: Float) { self.p = p }

    public func apply(to candidates: inout TokenCandidates, history: [Int]) {
        guard p < 1, candidates.count > 1 else { return }
        candidates.sort()
        var cumulative: Float = 0
        for (i, probability) in candidates.probabilities().enumerated() {
            cumulative += probability
            if cumulative >= p {
                candidates.keepFirst(i + 1)
                return
            }
        }
    }
}

/// Drops tokens whose probability is under `p` times the most likely token's.
public struct MinP: SamplingStep {
    public var p: Float
    public init(_ p: Float) { self.p = p }

    public func apply(to candidates: inout TokenCandidates, history: [Int]) {
        guard p > 0, candidates.count > 1 else { return }
        candidates.sort()
        let threshold = candidates.logits[0] + logf(p)
        let keep = candidates.logits.prefix { $0 >= threshold }.count
        candidates.keepFirst(max(keep, 1))
    }
}
