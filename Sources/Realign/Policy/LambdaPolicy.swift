import Foundation

/// Decides, at every decoding step of one sequence, the DeRa strength lambda from the two next-token logit
/// rows, and hears which token was chosen: the hook of the decoding loop (after llama.cpp's sampler
/// `apply/accept/reset` and MLX's `LogitProcessor.prompt/process/didSample`).
///
/// The loop gives every sequence its own copy of the policy, calls ``reset(prompt:)`` once, then at each step
/// ``lambda(reference:aligned:)`` before mixing and ``accept(_:)`` after sampling. A policy is a value: its
/// state lives in the copy. `lambda` runs once per token on vocabulary-sized rows, so it must not allocate
/// (grow buffers in `reset` or on the first step only).
public protocol LambdaStepPolicy: Sendable {
    /// Starts a sequence: clears anything kept from an earlier one.
    mutating func reset(prompt: [Int])
    /// The lambda for this step. The rows are raw logits (before any sampling step) of equal length.
    mutating func lambda(reference: UnsafeBufferPointer<Float>, aligned: UnsafeBufferPointer<Float>) -> Float
    /// The token sampled at this step (an end-of-generation token too).
    mutating func accept(_ token: Int)
}

extension LambdaStepPolicy {
    public mutating func reset(prompt: [Int]) {}
    public mutating func accept(_ token: Int) {}
}

/// How a request chooses lambda at each step. A value (`Sendable`, `Equatable`), so requests stay values.
///
/// ```swift
/// RealignmentRequest(prompt: ids, lambda: 0.5)                                   // .fixed(0.5)
/// RealignmentRequest(prompt: ids, policy: .divergence(DivergenceLambda(minimum: 0, maximum: 1)))
/// RealignmentRequest(prompt: ids, policy: .custom(CustomLambdaPolicy(MyPolicy())))
/// ```
public enum LambdaPolicy: Sendable, Equatable, CustomStringConvertible {
    /// The same lambda at every step: DeRa as the paper defines it.
    case fixed(Float)
    /// lambda from the Jensen-Shannon divergence of the two next-token distributions (``DivergenceLambda``).
    case divergence(DivergenceLambda)
    /// lambda from the reference model's next-token entropy (``EntropyLambda``).
    case entropy(EntropyLambda)
    /// Any other ``LambdaStepPolicy``.
    case custom(CustomLambdaPolicy)

    /// The lambda of a fixed policy; nil for the others.
    public var fixedLambda: Float? {
        if case let .fixed(lambda) = self { return lambda }
        return nil
    }

    /// A fresh per-sequence state of this policy.
    public func makeStepPolicy() -> any LambdaStepPolicy {
        switch self {
        case let .fixed(lambda): FixedLambda(lambda)
        case let .divergence(policy): policy
        case let .entropy(policy): policy
        case let .custom(policy): policy.base
        }
    }

    public var description: String {
        func bounds(_ a: Float, _ b: Float) -> String { "\(formatLambda(a))..\(formatLambda(b))" }
        switch self {
        case let .fixed(lambda): return formatLambda(lambda)
        case let .divergence(p):
            return "divergence(\(bounds(p.minimum, p.maximum)), scale \(formatLambda(p.scale)), toward \(p.direction.rawValue))"
        case let .entropy(p): return "entropy(\(bounds(p.minimum, p.maximum)), scale \(formatLambda(p.scale)))"
        case let .custom(p): return p.name
        }
    }

}

/// A lambda (or another policy number) as people write it: "0.5", "1", "2.5e+07".
public func formatLambda(_ x: Float) -> String {
    x == x.rounded() && abs(x) < 1e6 ? String(Int(x)) : String(format: "%g", Double(x))
}

/// `low + (high - low) * w`, kept inside [low, high] whatever the float rounding.
@inline(__always)
func interpolate(_ low: Float, _ high: Float, _ w: Float) -> Float {
    min(high, max(low, low + (high - low) * w))
}

/// The same lambda at every step.
public struct FixedLambda: LambdaStepPolicy, Equatable {
    public var value: Float
    public init(_ value: Float) { self.value = value }
    public func lambda(reference: UnsafeBufferPointer<Float>, aligned: UnsafeBufferPointer<Float>) -> Float { value }
}

/// Divergence-driven lambda, after AdaCAD (Wang et al., 2024), which weights context-aware decoding per token
/// by the Jensen-Shannon divergence of the distributions with and without the context. Here the two
/// distributions are the reference's `p` and the aligned model's `q`:
///
///     w_t = min(1, JSD(p, q) / scale)
///     lambda_t = minimum + (maximum - minimum) * w_t        (direction .towardAligned)
///     lambda_t = maximum - (maximum - minimum) * w_t        (direction .towardReference)
///
/// Where the two models agree lambda hardly matters (the mix is the same distribution either way); where they
/// disagree the step decides the answer. `.towardAligned` (AdaCAD's choice) lets the aligned model decide
/// those steps and keeps the reference's wording elsewhere; `.towardReference` distrusts the aligned model
/// exactly where it departs from the reference. docs/decoding.md measures both.
public struct DivergenceLambda: LambdaStepPolicy, Equatable {
    public enum Direction: String, Sendable, CaseIterable {
        case towardAligned = "aligned"
        case towardReference = "reference"
    }

    public var minimum: Float
    public var maximum: Float
    /// The divergence (nats) at which lambda reaches the far bound; JSD is at most ln 2 = 0.693.
    public var scale: Float
    public var direction: Direction
    /// Room for the two exponentiated rows, grown on the first step.
    private var scratch: [Float] = []

    public init(minimum: Float = 0, maximum: Float = 1, scale: Float = DivergenceLambda.defaultScale,
                direction: Direction = .towardAligned) {
        self.minimum = minimum
        self.maximum = maximum
        self.scale = scale
        self.direction = direction
    }

    /// 0.1 nats (a seventh of the largest JSD): with the committed beta-0.1 adapter on HaluEval QA training
    /// rows the median step has a JSD of 0.003, a quarter of the steps over 0.03 and a tenth over 0.27
    /// (docs/decoding.md), so most steps keep lambda near the near bound and the contested ones reach the far one.
    public static let defaultScale: Float = 0.1

    /// The weight in [0, 1] a divergence gives.
    public func weight(divergence: Double) -> Float {
        scale > 0 ? Float(min(1, max(0, divergence / Double(scale)))) : (divergence > 0 ? 1 : 0)
    }

    public mutating func lambda(reference: UnsafeBufferPointer<Float>, aligned: UnsafeBufferPointer<Float>) -> Float {
        if scratch.count < 2 * reference.count { scratch = [Float](repeating: 0, count: 2 * reference.count) }
        let jsd = scratch.withUnsafeMutableBufferPointer {
            DistributionMeasures.compare(reference, aligned, scratch: $0).jensenShannon
        }
        let w = weight(divergence: jsd)
        return interpolate(minimum, maximum, direction == .towardAligned ? w : 1 - w)
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.minimum == b.minimum && a.maximum == b.maximum && a.scale == b.scale && a.direction == b.direction
    }
}

/// Entropy-driven lambda, after COIECD (Yuan et al., 2024) and CoCoA, which switch their contrast on the
/// model's uncertainty: trust the reference where it is confident, move toward `maximum` where it is not.
///
///     w_t = min(1, H(p) / scale),   lambda_t = minimum + (maximum - minimum) * w_t
///
/// with `H(p)` the entropy of the reference's next-token distribution (nats, at most ln |V| = 10.8 for
/// SmolLM2). A reference that is sure of the next token (copying a name out of the passage) keeps it; where it
/// hesitates, and small models invent, the aligned model gets the say.
public struct EntropyLambda: LambdaStepPolicy, Equatable {
    public var minimum: Float
    public var maximum: Float
    /// The reference entropy (nats) at which lambda reaches `maximum`.
    public var scale: Float

    public init(minimum: Float = 0, maximum: Float = 1, scale: Float = EntropyLambda.defaultScale) {
        self.minimum = minimum
        self.maximum = maximum
        self.scale = scale
    }

    /// 2 nats (as uncertain as a uniform choice among about 7 tokens): on HaluEval QA training rows the
    /// reference's median step has 0.47 nats, a quarter over 1.7 and a tenth over 3.1 (docs/decoding.md).
    public static let defaultScale: Float = 2

    public func weight(entropy: Double) -> Float {
        scale > 0 ? Float(min(1, max(0, entropy / Double(scale)))) : (entropy > 0 ? 1 : 0)
    }

    public func lambda(reference: UnsafeBufferPointer<Float>, aligned: UnsafeBufferPointer<Float>) -> Float {
        interpolate(minimum, maximum, weight(entropy: DistributionMeasures.entropy(reference)))
    }
}

/// A user's ``LambdaStepPolicy`` inside a ``LambdaPolicy``. Two are equal when they hold equal values of the
/// same type.
public struct CustomLambdaPolicy: Sendable, Equatable {
    public let base: any LambdaStepPolicy
    /// How reports name it.
    public let name: String
    private let isEqual: @Sendable (any LambdaStepPolicy) -> Bool

    public init<Policy: LambdaStepPolicy & Equatable>(_ policy: Policy, name: String? = nil) {
        base = policy
        self.name = name ?? String(describing: Policy.self)
        isEqual = { ($0 as? Policy) == policy }
    }

    public static func == (a: Self, b: Self) -> Bool { a.name == b.name && a.isEqual(b.base) }
}
