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
    /// The mixture `m = (p + q) / 2` needs both normalisers first, so this reads the rows three times: their
    /// maxima, then `exp(x - max)` into `scratch` with the normalisers, then
    /// `JSD = sum (p/2) log(p/m) + (q/2) log(q/m)` (exactly 0 where the rows are equal). The entropies of p and q
    /// come from the second pass: `H(p) = log Z - sum e (x - max) / Z`.
    /// - Parameter scratch: at least `2 * p.count` floats, overwritten.
    /// - Complexity: O(count), two `exp` and two `log` per entry, eight entries at a time, no allocation.
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
        let wide = n & ~7
        // Eight entries at a time: exp in SIMD (Cephes' expf polynomial, about 1 ulp), sums in double per chunk.
        var i = 0
        while i < wide {
            let dp = load8(p.baseAddress! + i) - topP, dq = load8(q.baseAddress! + i) - topQ
            let a = exp8(dp), b = exp8(dq)
            store8(a, ep + i)
            store8(b, eq + i)
            zp += Double(a.sum())
            zq += Double(b.sum())
            tp += Double((a * dp.replacing(with: 0, where: a .== 0)).sum())
            tq += Double((b * dq.replacing(with: 0, where: b .== 0)).sum())
            i += 8
        }
        for i in wide..<n {
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
        // JSD = sum over entries of (p/2) log(p/m) + (q/2) log(q/m), m = (p + q) / 2: no difference of large
        // entropies, and exactly 0 where p = q (the ratio is then exactly 1).
        var divergence = 0.0
        i = 0
        while i < wide {
            let a = load8(ep + i) * ip, b = load8(eq + i) * iq  // p/2 and q/2
            let m = a + b
            let live = m .> 1e-30
            let safeM = m.replacing(with: 1, where: .!live)
            let ra = a / safeM, rb = b / safeM  // p/m / 2 and q/m / 2, each in [0, 1]
            let la = log8((2 * ra).replacing(with: 1, where: ra .< 1e-30))
            let lb = log8((2 * rb).replacing(with: 1, where: rb .< 1e-30))
            divergence += Double((a * la + b * lb).replacing(with: 0, where: .!live).sum())
            i += 8
        }
        for i in wide..<n {
            let a = ep[i] * ip, b = eq[i] * iq, m = a + b
            guard m > 1e-30 else { continue }
            if a > 0 { divergence += Double(a * logf(2 * a / m)) }
            if b > 0 { divergence += Double(b * logf(2 * b / m)) }
        }
        let jsd = min(max(0, divergence), log(2.0))
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

    @inline(__always)
    static func load8(_ pointer: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func store8(_ value: SIMD8<Float>, _ pointer: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD8<Float>.self)
    }

    /// e^x for x <= 0 (a row minus its maximum): Cephes' expf (k = round(x / ln 2), a degree-6 polynomial
    /// on the remainder, 2^k from the exponent bits). Below -87 (and at -inf) it gives 0.
    @inline(__always)
    static func exp8(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let clamped = x.clamped(lowerBound: SIMD8(repeating: -87), upperBound: SIMD8(repeating: 88))
        let k = (clamped * 1.442_695_041).rounded(.toNearestOrEven)
        let r = clamped - k * 0.693_359_375 + k * 2.121_944_40e-4
        var p = SIMD8<Float>(repeating: 1.987_569_150_0e-4)
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        let e = p * r * r + r + 1
        let scale = unsafeBitCast((SIMD8<Int32>(k, rounding: .towardZero) &+ 127) &<< 23, to: SIMD8<Float>.self)
        return (e * scale).replacing(with: 0, where: x .< -87)
    }

    /// ln x for normal positive x: x = m 2^e with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s) with
    /// s = (m - 1) / (m + 1), |s| <= 0.172, summed to s^9 (error under 1e-9).
    @inline(__always)
    static func log8(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let bits = unsafeBitCast(x, to: SIMD8<Int32>.self)
        var e = (bits &>> 23) &- 127
        var m = unsafeBitCast((bits & 0x007F_FFFF) | 0x3F80_0000, to: SIMD8<Float>.self)
        let high = m .> 1.414_213_56
        m.replace(with: m * 0.5, where: high)
        e.replace(with: e &+ 1, where: high)
        let s = (m - 1) / (m + 1), s2 = s * s
        var p = SIMD8<Float>(repeating: 1.0 / 9)
        p = p * s2 + 1.0 / 7
        p = p * s2 + 1.0 / 5
        p = p * s2 + 1.0 / 3
        p = p * s2 + 1
        return 2 * s * p + SIMD8<Float>(e) * 0.693_147_18
    }
}
