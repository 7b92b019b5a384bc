/// A decoding setting outside the range where it means something, named as the library names it.
public struct DecodingParameterError: Error, Equatable, CustomStringConvertible {
    /// `temperature`, `topK`, `topP`, `minP`, `repetitionPenalty`, `penaltyWindow`, `lambda` or `maxTokens`.
    public var parameter: String
    /// The value given, as text (`nan`, `inf`, `-1`).
    public var value: String
    /// What the value must be, in words ("between 0 and 100").
    public var requirement: String
    /// The request of a batch the value belongs to.
    public var request: Int?

    public init(parameter: String, value: String, requirement: String, request: Int? = nil) {
        self.parameter = parameter
        self.value = value
        self.requirement = requirement
        self.request = request
    }

    public var description: String {
        "\(parameter) must be \(requirement), got \(value)" + (request.map { " (request \($0))" } ?? "")
    }
}

/// The ranges decoding settings are checked against (by ``SamplingParameters/validate()``, ``Realigner`` and
/// ``TextGenerator`` before any work, and by the command line on its flags).
///
/// Each bound keeps the arithmetic finite and the setting meaningful: a temperature of 1e-40 divides logits
/// into infinities (NaN probabilities), a lambda of 1e30 overflows the mix, `maxTokens` of -1 asks for a
/// negative cache.
public enum DecodingLimits {
    /// A positive temperature must lie here; 0 means greedy.
    public static let temperature: ClosedRange<Float> = 0.001...100
    public static let topP: ClosedRange<Float> = Float.leastNonzeroMagnitude...1
    /// min-p below 1 (at 1 only tokens as likely as the best survive; use greedy for that).
    public static let minP: Range<Float> = 0..<1
    public static let repetitionPenalty: ClosedRange<Float> = 0.01...100
    /// DeRa's lambda is beta / beta' for KL strengths beta, beta' > 0: 0 is the reference, 1 the aligned model;
    /// the paper's sweeps stay well inside 10.
    public static let lambda: ClosedRange<Float> = 0...100
    /// Tokens one sequence may generate; a model's context is far smaller, and the check keeps
    /// `prompt + maxTokens` from overflowing.
    public static let maxTokens: ClosedRange<Int> = 1...1_000_000

    /// Throws unless `lambda` is a finite value in ``lambda``.
    public static func check(lambda value: Float, request: Int? = nil) throws {
        guard lambda.contains(value) else {
            throw DecodingParameterError(parameter: "lambda", value: "\(value)", requirement: between(lambda),
                                         request: request)
        }
    }

    /// Throws unless `maxTokens` is in ``maxTokens``.
    public static func check(maxTokens value: Int, request: Int? = nil) throws {
        guard maxTokens.contains(value) else {
            throw DecodingParameterError(parameter: "maxTokens", value: "\(value)",
                                         requirement: "between \(maxTokens.lowerBound) and \(maxTokens.upperBound)",
                                         request: request)
        }
    }

    /// "between 0.001 and 100".
    static func between(_ range: ClosedRange<Float>) -> String {
        "between \(format(range.lowerBound)) and \(format(range.upperBound))"
    }

    /// `0.001`, `100`, `1`: a bound as a person writes it.
    static func format(_ value: Float) -> String {
        value == value.rounded() && abs(value) < 1e9 ? String(Int(value)) : "\(value)"
    }
}

extension SamplingParameters {
    /// Throws the first setting outside ``DecodingLimits`` (NaN and infinities fail every range).
    /// - Parameter request: the batch request these parameters belong to, for the message.
    public func validate(request: Int? = nil) throws {
        func fail(_ parameter: String, _ value: some CustomStringConvertible, _ requirement: String)
            -> DecodingParameterError {
            DecodingParameterError(parameter: parameter, value: value.description, requirement: requirement,
                                   request: request)
        }
        let between = DecodingLimits.between
        guard temperature == 0 || DecodingLimits.temperature.contains(temperature) else {
            throw fail("temperature", temperature, "0 (greedy) or " + between(DecodingLimits.temperature))
        }
        guard topK >= 0 else { throw fail("topK", topK, "0 (all tokens) or more") }
        guard DecodingLimits.topP.contains(topP) else { throw fail("topP", topP, "above 0 and at most 1") }
        guard DecodingLimits.minP.contains(minP) else { throw fail("minP", minP, "at least 0 and below 1") }
        guard DecodingLimits.repetitionPenalty.contains(repetitionPenalty) else {
            throw fail("repetitionPenalty", repetitionPenalty, between(DecodingLimits.repetitionPenalty) + " (1 is off)")
        }
        guard penaltyWindow >= 0 else { throw fail("penaltyWindow", penaltyWindow, "0 or more") }
    }
}

extension RealignmentRequest {
    /// Throws the first setting outside ``DecodingLimits``: lambda (a fixed one, or an adaptive policy's bounds),
    /// the token limit, then the sampling.
    public func validate(request: Int? = nil) throws {
        switch policy {
        case let .fixed(lambda): try DecodingLimits.check(lambda: lambda, request: request)
        case let .divergence(p):
            try DecodingLimits.check(lambda: p.minimum, request: request)
            try DecodingLimits.check(lambda: p.maximum, request: request)
        case let .entropy(p):
            try DecodingLimits.check(lambda: p.minimum, request: request)
            try DecodingLimits.check(lambda: p.maximum, request: request)
        case .custom: break   // a custom policy's lambdas are checked as the loop reads them
        }
        try DecodingLimits.check(maxTokens: maxTokens, request: request)
        try sampling.validate(request: request)
    }
}
