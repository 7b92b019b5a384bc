import Foundation

/// A logistic regression over named features: `p = sigmoid(bias + sum_i weight_i * (x_i - mean_i) / scale_i)`,
/// with the decision threshold chosen on its training data.
public struct LogisticModel: Sendable, Hashable, Codable {
    public var features: [String]
    /// Feature standardisation learnt on the training data.
    public var mean: [Double]
    public var scale: [Double]
    public var weights: [Double]
    public var bias: Double
    /// Scores at or above this count as supported.
    public var threshold: Double
    /// How an answer's score follows from its claims' scores (the threshold applies to it).
    public var aggregate: ClaimAggregate = .minimum

    public init(features: [String], mean: [Double], scale: [Double], weights: [Double], bias: Double,
                threshold: Double = 0.5) {
        precondition(mean.count == features.count && scale.count == features.count && weights.count == features.count,
                     "one mean, scale and weight per feature")
        self.features = features
        self.mean = mean
        self.scale = scale
        self.weights = weights
        self.bias = bias
        self.threshold = threshold
    }

    /// The probability that the example with feature values `x` is supported.
    public func probability(_ x: [Double]) -> Double {
        precondition(x.count == weights.count, "expected \(weights.count) features, got \(x.count)")
        var z = bias
        for i in x.indices { z += weights[i] * (x[i] - mean[i]) / scale[i] }
        return 1 / (1 + exp(-z))
    }

    /// Weights on the raw (unstandardised) features and the matching bias: what the fit means in the
    /// features' own units.
    public var rawWeights: (weights: [Double], bias: Double) {
        let raw = weights.indices.map { weights[$0] / scale[$0] }
        let bias = self.bias - weights.indices.reduce(0) { $0 + raw[$1] * mean[$1] }
        return (raw, bias)
    }

    /// Fits by Newton's method (iteratively reweighted least squares) with a small L2 penalty on the weights.
    /// - Parameters:
    ///   - x: one feature vector per example.
    ///   - y: labels, `true` for supported.
    ///   - l2: penalty on the standardised weights (not on the bias).
    public static func fit(features: [String], x: [[Double]], y: [Bool], l2: Double = 1e-3,
                           iterations: Int = 50) throws -> LogisticModel {
        let n = x.count, d = features.count
        guard n > 0, y.count == n else { throw CalibrationError.fit("need as many labels as examples, and some") }
        guard y.contains(true), y.contains(false) else { throw CalibrationError.fit("both labels must occur") }
        guard x.allSatisfy({ $0.count == d }) else { throw CalibrationError.fit("every example needs \(d) features") }
        guard x.allSatisfy({ $0.allSatisfy(\.isFinite) }) else { throw CalibrationError.fit("non-finite feature value") }

        var mean = [Double](repeating: 0, count: d), scale = [Double](repeating: 1, count: d)
        for j in 0..<d {
            mean[j] = x.reduce(0) { $0 + $1[j] } / Double(n)
            let variance = x.reduce(0) { $0 + ($1[j] - mean[j]) * ($1[j] - mean[j]) } / Double(n)
            scale[j] = variance > 1e-12 ? variance.squareRoot() : 1
        }
        let z = x.map { row in (0..<d).map { (row[$0] - mean[$0]) / scale[$0] } + [1] }
        let m = d + 1
        var beta = [Double](repeating: 0, count: m)
        for _ in 0..<iterations {
            var gradient = [Double](repeating: 0, count: m)
            var hessian = [[Double]](repeating: [Double](repeating: 0, count: m), count: m)
            for (row, label) in zip(z, y) {
                let p = 1 / (1 + exp(-zip(row, beta).reduce(0) { $0 + $1.0 * $1.1 }))
                let residual = (label ? 1 : 0) - p
                let w = max(p * (1 - p), 1e-10)
                for a in 0..<m {
                    gradient[a] += residual * row[a]
                    for b in 0...a { hessian[a][b] += w * row[a] * row[b] }
                }
            }
            for a in 0..<m { for b in 0..<a { hessian[b][a] = hessian[a][b] } }
            for a in 0..<d {
                gradient[a] -= l2 * Double(n) * beta[a]
                hessian[a][a] += l2 * Double(n)
            }
            let step = try solve(hessian, gradient)
            for a in 0..<m { beta[a] += step[a] }
            if step.map(abs).max()! < 1e-9 { break }
        }
        return LogisticModel(features: features, mean: mean, scale: scale, weights: Array(beta[0..<d]), bias: beta[d])
    }

    /// Solves `a * x = b` by Gaussian elimination with partial pivoting.
    static func solve(_ a: [[Double]], _ b: [Double]) throws -> [Double] {
        var a = a, b = b
        let n = b.count
        for column in 0..<n {
            let pivot = (column..<n).max { abs(a[$0][column]) < abs(a[$1][column]) }!
            guard abs(a[pivot][column]) > 1e-12 else { throw CalibrationError.fit("singular system (a constant or duplicated feature)") }
            a.swapAt(column, pivot)
            b.swapAt(column, pivot)
            for row in (column + 1)..<n {
                let factor = a[row][column] / a[column][column]
                for k in column..<n { a[row][k] -= factor * a[column][k] }
                b[row] -= factor * b[column]
            }
        }
        var x = [Double](repeating: 0, count: n)
        for row in stride(from: n - 1, through: 0, by: -1) {
            var sum = b[row]
            for k in (row + 1)..<n { sum -= a[row][k] * x[k] }
            x[row] = sum / a[row][row]
        }
        return x
    }
}

/// How claim scores combine into an answer score.
public enum ClaimAggregate: String, Sendable, Hashable, Codable, CaseIterable {
    /// The weakest claim decides: one unsupported claim flags the answer.
    case minimum
    /// The mean claim score: for long outputs, where many claims make the minimum fall with length alone.
    case mean

    /// The aggregate of `scores`, or nil when there are none.
    public func apply(_ scores: [Double]) -> Double? {
        guard !scores.isEmpty else { return nil }
        switch self {
        case .minimum: return scores.min()
        case .mean: return scores.reduce(0, +) / Double(scores.count)
        }
    }
}

/// A calibration that cannot be fitted, read or written.
public enum CalibrationError: Error, CustomStringConvertible, Equatable {
    case fit(String)
    case missing(path: String)
    case unreadable(path: String, reason: String)
    case noProfile(path: String, profile: String, available: [String])
    case featureMismatch(path: String, model: String, expected: [String], found: [String])

    public var description: String {
        switch self {
        case let .fit(reason): return "cannot fit the calibration: \(reason)"
        case let .missing(path):
            return "no calibration at \(path); fit one with `dera eval checker --task general --rows 0..1999 --fit --no-model`"
        case let .unreadable(path, reason): return "\(path): cannot read the calibration: \(reason)"
        case let .noProfile(path, profile, available):
            return "\(path): no calibration profile '\(profile)' (has: \(available.joined(separator: ", ")))"
        case let .featureMismatch(path, model, expected, found):
            return "\(path): calibration '\(model)' has features \(found), the checker computes \(expected)"
        }
    }
}
