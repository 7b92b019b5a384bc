import CKernels
import Foundation
import Testing

@Suite struct EncoderKernelTests {
    /// The vectorised GELU against libm's erf over the range activations take (and far beyond, where it saturates).
    @Test func geluMatchesErf() {
        var inputs: [Float] = stride(from: -12, through: 12, by: 0.001).map { Float($0) }
        inputs += [0, -0, 1e-30, -1e-30, 100, -100, 1e6, -1e6]
        var output = inputs
        dera_gelu_erf(&output, Int64(output.count))
        var worst: Double = 0
        for (x, y) in zip(inputs, output) {
            let exact = 0.5 * Double(x) * (1 + erf(Double(x) / 2.0.squareRoot()))
            worst = max(worst, abs(exact - Double(y)) / max(1, abs(exact)))
        }
        #expect(worst < 1e-6)
        #expect(output[inputs.count - 2] == 1e6 && output[inputs.count - 1] == 0)
    }

    @Test func layerNormAndSoftmaxRows() {
        var rows: [Float] = [1, 2, 3, 4, 10, 10, 10, 10]
        let gamma: [Float] = [1, 2, 1, 1], beta: [Float] = [0, 0, 0, 1]
        dera_layer_norm_rows(&rows, 2, 4, gamma, beta, 1e-12)
        // Row 1: mean 2.5, variance 1.25 (population).
        let s = Float(1.25).squareRoot()
        let expected: [Float] = [-1.5 / s, 2 * -0.5 / s, 0.5 / s, 1.5 / s + 1, 0, 0, 0, 1]
        #expect(zip(rows, expected).allSatisfy { abs($0.0 - $0.1) < 1e-5 })

        var scores: [Float] = [0, Float(log(3.0)), 9, 1000, 1000, -1]
        dera_softmax_rows(&scores, 2, 2, 3)  // the third column of each row is outside n and untouched
        #expect(abs(scores[0] - 0.25) < 1e-6 && abs(scores[1] - 0.75) < 1e-6 && scores[2] == 9)
        #expect(scores[3] == 0.5 && scores[4] == 0.5 && scores[5] == -1)
    }
}
