import Foundation

/// Entropy and Jensen-Shannon divergence of next-token distributions given as raw logits (the softmax is
/// implied), with a numerically stable log-sum-exp, in nats, without allocating.
///
/// ```swift
/// let h = logits.withUnsafeBufferPointer { DistributionMeasures.entropy($0) }         // 0 ... ln(count)
/// let d = DistributionMeasures.compare(reference, aligned).jensenShannon               // 0 ... ln 2
/// ```
public enum DistributionMeasures {
    /// What ``compare(_:_:scratch:)`` finds about two rows.
    public struct Comparison: Sendable, Equatable {
        /// JSD(p, q) = H((p + q) / 2) - (H(p) + H(q)) / 2, in [0, ln 2].
        public var jensenShannon: Double
        /// H(p) of the first row (the reference).
        public var firstEntropy: Double
        /// H(q) of the second row (the aligned model).
        public var secondEntropy: Double
    }

    /// The entropy of `softmax(logits)` in one pass: an online log-sum-exp keeps the running maximum `M`,
    /// `S = sum exp(x - M)` and `T = sum (x - M) exp(x - M)`, rescaling both when `M` grows; then
    /// `H = log S - T / S`. Entries of -inf (tokens a mask removed) have probability 0 and are skipped.
    /// - Complexity: O(count), one `exp` per entry.
    public static func entropy(_ logits: UnsafeBufferPointer<Float>) -> Double {
        var top = -Float.infinity
        var s = 0.0, t = 0.0
        for x in logits where x > -Float.infinity {
            if x > top {
                if s > 0 {
                    let shift = Double(top - x)  // < 0
                    let factor = exp(shift)
                    t = (t + shift * s) * factor
                    s *= factor
                }
                top = x
            }
            let d = x - top, e = Double(expf(d))
            s += e
            t += Double(d) * e
        }
        guard s > 0 else { return 0 }
        return max(0, log(s) - t / s)
    }

    /// The Jensen-Shannon divergence of `softmax(p)` and `softmax(q)` and both entropies.
    ///
    /// The mixture `m = (p + q) / 2` needs both normalisers before its entropy can be summed, so this reads the
    /// rows three times: their maxima, then `exp(x - max)` into `scratch` with the normalisers, then
    /// `H(m) = -sum m log m` (one `log` per entry). The entropies of p and q come from the second pass:
    /// `H(p) = log Z - sum e (x - max) / Z`.
    /// - Parameter scratch: at least `2 * p.count` floats, overwritten.
    /// - Complexity: O(count), two `exp` and one `log` per entry, no allocation.
    public static func compare(_ p: UnsafeBufferPointer<Float>, _ q: UnsafeBufferPointer<Float>,
                               scratch: UnsafeMutableBufferPointer<Float>) -> Comparison {
        let n = p.count
        precondition(q.count == n && scratch.count >= 2 * n, "rows of different lengths or scratch too small")
        var topP = -Float.infinity, topQ = -Float.infinity
        for i in 0..<n {
            topP = max(topP, p[i])
            topQ = max(topQ, q[i])
        }
        guard topP > -Float.infinity, topQ > -Float.infinity else {
            return Comparison(jensenShannon: 0, firstEntropy: 0, secondEntropy: 0)
        }
        let ep = scratch.baseAddress!, eq = scratch.baseAddress! + n
        var zp = 0.0, zq = 0.0, tp = 0.0, tq = 0.0
        for i in 0..<n {
            let dp = p[i] - topP, dq = q[i] - topQ
            let a = dp > -Float.infinity ? expf(dp) : 0, b = dq > -Float.infinity ? expf(dq) : 0
            ep[i] = a
            eq[i] = b
            zp += Double(a)
            zq += Double(b)
            if a > 0 { tp += Double(a) * Double(dp) }
            if b > 0 { tq += Double(b) * Double(dq) }
        }
        let hp = max(0, log(zp) - tp / zp), hq = max(0, log(zq) - tq / zq)
        let ip = Float(0.5 / zp), iq = Float(0.5 / zq)
        var mixture = 0.0
        for i in 0..<n {
            let m = ep[i] * ip + eq[i] * iq
            if m > 0 { mixture -= Double(m * logf(m)) }
        }
        let jsd = min(max(0, mixture - (hp + hq) / 2), log(2.0))
        return Comparison(jensenShannon: jsd, firstEntropy: hp, secondEntropy: hq)
    }

    /// ``compare(_:_:scratch:)`` on arrays, allocating its scratch (for tests and analysis).
    public static func compare(_ p: [Float], _ q: [Float]) -> Comparison {
        var scratch = [Float](repeating: 0, count: 2 * p.count)
        return p.withUnsafeBufferPointer { p in
            q.withUnsafeBufferPointer { q in scratch.withUnsafeMutableBufferPointer { compare(p, q, scratch: $0) } }
        }
    }

    /// ``entropy(_:)`` of an array.
    public static func entropy(_ logits: [Float]) -> Double { logits.withUnsafeBufferPointer { entropy($0) } }
}
