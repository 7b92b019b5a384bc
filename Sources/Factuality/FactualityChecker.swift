import Foundation

/// Whether a claim's calibrated score clears the threshold.
public enum SupportLabel: String, Sendable, Hashable, Codable {
    case supported
    case unsupported
}

/// One claim of an answer, scored, with every signal and its evidence.
public struct ClaimReport: Sendable, Hashable, Codable {
    public var text: String
    /// Where the claim sits in the answer, in Unicode scalar offsets.
    public var span: TextSpan
    /// Calibrated probability that the passages support the claim.
    public var score: Double
    public var label: SupportLabel
    public var lexical: LexicalSignals
    /// Nil on the lexical-only path.
    public var grounding: GroundingScore?
    /// The passage window that supports the claim best; nil when no window shares a content word with it.
    public var evidence: Evidence?
}

/// The check of one answer: its claims, and the answer-level scores.
public struct FactualityReport: Sendable, Hashable, Codable {
    public var question: String?
    public var answer: String
    public var claims: [ClaimReport]
    /// Lowest claim score; nil when the answer makes no claim.
    public var minScore: Double?
    public var meanScore: Double?
    /// How the claim scores make the answer's score (the calibration chose it), and that score.
    public var aggregate: ClaimAggregate
    public var answerScore: Double?
    /// The calibrated threshold the labels and the flag use.
    public var threshold: Double
    /// The answer score is under the threshold.
    public var hallucinated: Bool
    /// Which calibrated model scored it: "lexical" or "model".
    public var scorer: String
}

/// Scores every claim of an answer against passages.
///
/// ```swift
/// let calibration = try CheckerCalibration.load(CheckerCalibration.defaultPath)
/// let checker = try FactualityChecker(profile: calibration.profile("qa", path: CheckerCalibration.defaultPath))
/// let report = try checker.check(answer: "Canberra is the capital.", passages: [Passage(id: "1", text: "...")],
///                                question: "What is the capital of Australia?")
/// ```
///
/// With a ``ModelGrounding`` the calibrated score includes the model's PMI; without one, the lexical signals only.
/// The model reads the passages cut down to the claims' evidence windows (``EvidenceIndex/focused(on:)``).
public struct FactualityChecker: Sendable {
    public var splitter = ClaimSplitter()
    /// Sentences per evidence window.
    public var windowSentences = 2
    public let scorer: LogisticModel
    public let grounding: ModelGrounding?

    /// - Parameters:
    ///   - scorer: a model over ``CheckerFeature/lexical`` (without grounding) or ``CheckerFeature/withModel``.
    ///   - grounding: the reference model, or nil for the lexical path.
    public init(scorer: LogisticModel, grounding: ModelGrounding? = nil) throws {
        let expected = (grounding == nil ? CheckerFeature.lexical : CheckerFeature.withModel).map(\.rawValue)
        guard scorer.features == expected else {
            throw CalibrationError.featureMismatch(path: "scorer", model: grounding == nil ? "lexical" : "model",
                                                   expected: expected, found: scorer.features)
        }
        self.scorer = scorer
        self.grounding = grounding
    }

    /// Picks the profile's lexical or model scorer, as `grounding` is nil or not.
    public init(profile: CalibrationProfile, grounding: ModelGrounding? = nil, path: String = "calibration") throws {
        let name = grounding == nil ? "lexical" : "model"
        guard let scorer = grounding == nil ? profile.lexical : profile.model else {
            throw CalibrationError.unreadable(
                path: path, reason: "the profile has no '\(name)' model; fit one with `dera eval checker --fit`"
                    + (grounding == nil ? " --no-model" : ""))
        }
        try self.init(scorer: scorer, grounding: grounding)
    }

    /// The claims of `answer` with their signals, before scoring (the evaluation fits on these).
    public func signals(answer: String, index: EvidenceIndex, question: String?) throws
        -> [(claim: Claim, lexical: LexicalSignals, grounding: GroundingScore?)] {
        let claims = splitter.claims(in: answer)
        let lexical = claims.map { LexicalSignals(claim: $0.text, index: index) }
        let grounding: [GroundingScore]? = try grounding.map {
            try $0.score(claims: claims.map(\.text), passages: index.focused(on: lexical.compactMap(\.evidence)),
                         question: question)
        }
        return claims.indices.map { (claims[$0], lexical[$0], grounding?[$0]) }
    }

    /// Checks `answer` against `passages`.
    public func check(answer: String, passages: [Passage], question: String?) throws -> FactualityReport {
        let index = EvidenceIndex(passages: passages, question: question, windowSentences: windowSentences)
        let claims = try signals(answer: answer, index: index, question: question).map { claim, lexical, grounding in
            let score = self.score(lexical, grounding)
            return ClaimReport(text: claim.text, span: claim.span, score: score,
                               label: score >= scorer.threshold ? .supported : .unsupported, lexical: lexical,
                               grounding: grounding, evidence: lexical.support > 0 ? lexical.evidence : nil)
        }
        let scores = claims.map(\.score)
        let answerScore = scorer.aggregate.apply(scores)
        return FactualityReport(
            question: question, answer: answer, claims: claims, minScore: ClaimAggregate.minimum.apply(scores),
            meanScore: ClaimAggregate.mean.apply(scores), aggregate: scorer.aggregate, answerScore: answerScore,
            threshold: scorer.threshold, hallucinated: answerScore.map { $0 < scorer.threshold } ?? false,
            scorer: grounding == nil ? "lexical" : "model")
    }

    /// The calibrated score of one claim's signals.
    public func score(_ lexical: LexicalSignals, _ grounding: GroundingScore?) -> Double {
        let features = scorer.features.map { CheckerFeature(rawValue: $0)!.value(lexical, grounding) }
        return scorer.probability(features)
    }
}

extension FactualityReport {
    /// A readable form for the terminal: one block per claim, then the verdict.
    public var summary: String {
        var lines: [String] = []
        if claims.isEmpty { lines.append("The answer makes no claim to check.") }
        for (number, claim) in claims.enumerated() {
            let mark = claim.label == .supported ? "supported  " : "UNSUPPORTED"
            lines.append("[\(number + 1)] \(mark) \(fixed(claim.score))  \"\(claim.text)\" (chars \(claim.span))")
            var signals = String(format: "    lexical %.2f, pairs %.2f", claim.lexical.support, claim.lexical.pairSupport)
            if let grounding = claim.grounding { signals += String(format: ", pmi %+.2f", grounding.pmi) }
            if !claim.lexical.missingFacts.isEmpty {
                signals += ", missing facts: " + claim.lexical.missingFacts.joined(separator: ", ")
            }
            if !claim.lexical.unsupportedWords.isEmpty {
                signals += ", unsupported words: " + claim.lexical.unsupportedWords.joined(separator: ", ")
            }
            if claim.lexical.negationMismatch { signals += ", negation not in evidence" }
            lines.append(signals)
            if let evidence = claim.evidence {
                let text = evidence.text.count > 160 ? String(evidence.text.prefix(157)) + "..." : evidence.text
                lines.append("    evidence: passage \(evidence.passageID) chars \(evidence.span.start)..<\(evidence.span.end): \(text)")
            }
        }
        if let minScore, let meanScore, let answerScore {
            lines.append("min \(fixed(minScore)), mean \(fixed(meanScore)); answer score (\(aggregate.rawValue)) "
                         + "\(fixed(answerScore)) vs threshold \(fixed(threshold)) (\(scorer)): "
                         + (hallucinated ? "HALLUCINATION" : "supported"))
        }
        return lines.joined(separator: "\n")
    }
}

/// `x` with two decimals.
func fixed(_ x: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", x) }
