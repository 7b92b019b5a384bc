/// Decoding-time realignment's mix (Liu et al., ICML 2024, arXiv 2402.02992): the next-token logits of a
/// model aligned with KL strength beta/lambda are approximated by `lambda * aligned + (1 - lambda) * reference`.
///
/// lambda = 0 gives the reference model's logits, 1 the aligned model's (both exactly: the other side is not
/// read, so whatever it holds, even NaN from a broken adapter, cannot leak in), values between interpolate and
/// values above 1 extrapolate past the aligned model. The mix is taken on raw logits, before any sampler step, so
/// no -inf from a truncation can reach it.
public enum LogitMix {
    /// Writes `lambda * aligned + (1 - lambda) * reference` into `output` (which may alias either input).
    /// - Complexity: O(count), one pass, no allocation.
    @inlinable
    public static func mix(aligned: UnsafePointer<Float>, reference: UnsafePointer<Float>, lambda: Float,
                           count: Int, into output: UnsafeMutablePointer<Float>) {
        // 0 * NaN is NaN: the end points copy one side instead of multiplying the other by zero.
        if lambda == 0 {
            if output != UnsafeMutablePointer(mutating: reference) { output.update(from: reference, count: count) }
            return
        }
        if lambda == 1 {
            if output != UnsafeMutablePointer(mutating: aligned) { output.update(from: aligned, count: count) }
            return
        }
        let other = 1 - lambda
        for i in 0..<count { output[i] = lambda * aligned[i] + other * reference[i] }
    }

    /// The mix of two logits arrays of equal length.
    public static func mix(aligned: [Float], reference: [Float], lambda: Float) -> [Float] {
        precondition(aligned.count == reference.count, "logits of different lengths")
        return [Float](unsafeUninitializedCapacity: aligned.count) { buffer, initialized in
            mix(aligned: aligned, reference: reference, lambda: lambda, count: aligned.count, into: buffer.baseAddress!)
            initialized = aligned.count
        }
    }
}
