import Foundation

/// Whether a claim's calibrated score clears the threshold, or whether there is anything to score at all.
public enum SupportLabel: String, Sendable, Hashable, Codable {
    case supported
    case unsupported
    /// The claim has no content word ("Yes.", "No.", "He did it.", "!!!"): nothing in it can be found in or
    /// missing from a passage, so no passage can support it. It is left out of the answer's scores.
    case unverifiable
}

/// The checker's verdict on a whole answer.
public enum AnswerVerdict: String, Sendable, Hashable, Codable {
    /// The answer score clears the threshold.
    case supported
    /// The answer score is under the threshold.
    case hallucinated
    /// No claim of the answer can be checked (it is empty, or every claim is ``SupportLabel/unverifiable``): it
    /// asserts nothing the passages could contradict, and nothing they support either.
    case noCheckableClaim
}

/// One claim of an answer, scored, with every signal and its evidence.
public struct ClaimReport: Sendable, Hashable, Codable {
    public var text: String
    /// Where the claim sits in the answer, in Unicode scalar offsets.
    public var span: TextSpan
    /// Calibrated probability that the passages support the claim; 0 for an unverifiable claim.
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
    /// Lowest score of the checkable claims (unverifiable ones are left out); nil when there is none.
    public var minScore: Double?
    public var meanScore: Double?
    /// How the claim scores make the answer's score (the calibration chose it), and that score, over the
    /// checkable claims; nil when there is none.
    public var aggregate: ClaimAggregate
    public var answerScore: Double?
    /// The calibrated threshold the labels and the flag use.
    public var threshold: Double
    /// The answer score is under the threshold. False when the answer makes no checkable claim, which does not
    /// make it supported: see ``verdict``.
    public var hallucinated: Bool
    /// Supported, hallucinated, or no checkable claim.
    public var verdict: AnswerVerdict
    /// Which calibrated model scored it: "lexical" or "model".
    public var scorer: String

    /// The score to rank candidate answers by: ``answerScore``, or 0 for an answer that makes no checkable claim,
    /// so "Yes." or an empty answer never outranks one whose claims the passages support.
    public var rankingScore: Double { answerScore ?? 0 }
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

    /// The claims of `answer` with their signals, before scoring (the evaluation fits on these). The model scores
    /// only checkable claims (``LexicalSignals/isCheckable``); the others get no grounding.
    public func signals(answer: String, index: EvidenceIndex, question: String?) throws
        -> [(claim: Claim, lexical: LexicalSignals, grounding: GroundingScore?)] {
        let claims = splitter.claims(in: answer)
        let lexical = claims.map { LexicalSignals(claim: $0.text, index: index) }
        let checkable = claims.indices.filter { lexical[$0].isCheckable }
        var grounding = [GroundingScore?](repeating: nil, count: claims.count)
        if let model = self.grounding, !checkable.isEmpty {
            let scores = try model.score(claims: checkable.map { claims[$0].text },
                                         passages: index.focused(on: checkable.compactMap { lexical[$0].evidence }),
                                         question: question)
            for (i, score) in zip(checkable, scores) { grounding[i] = score }
        }
        return claims.indices.map { (claims[$0], lexical[$0], grounding[$0]) }
    }

    /// Checks `answer` against `passages`.
    public func check(answer: String, passages: [Passage], question: String?) throws -> FactualityReport {
        let index = EvidenceIndex(passages: passages, question: question, windowSentences: windowSentences)
        let claims = try signals(answer: answer, index: index, question: question).map { claim, lexical, grounding in
            guard lexical.isCheckable else {
                return ClaimReport(text: claim.text, span: claim.span, score: 0, label: .unverifiable, lexical: lexical,
                                   grounding: nil, evidence: nil)
            }
            let score = self.score(lexical, grounding)
            return ClaimReport(text: claim.text, span: claim.span, score: score,
                               label: score >= scorer.threshold ? .supported : .unsupported, lexical: lexical,
                               grounding: grounding, evidence: lexical.support > 0 ? lexical.evidence : nil)
        }
        let scores = claims.filter { $0.label != .unverifiable }.map(\.score)
        let answerScore = scorer.aggregate.apply(scores)
        let verdict: AnswerVerdict = answerScore.map { $0 < scorer.threshold ? .hallucinated : .supported }
            ?? .noCheckableClaim
        return FactualityReport(
            question: question, answer: answer, claims: claims, minScore: ClaimAggregate.minimum.apply(scores),
            meanScore: ClaimAggregate.mean.apply(scores), aggregate: scorer.aggregate, answerScore: answerScore,
            threshold: scorer.threshold, hallucinated: verdict == .hallucinated, verdict: verdict,
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
            guard claim.label != .unverifiable else {
                lines.append("[\(number + 1)] unverifiable      \"\(claim.text)\" (chars \(claim.span)): "
                             + "no content word to check")
                continue
            }
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
        } else if !claims.isEmpty {
            lines.append("The answer makes no checkable claim (no content word in any claim): "
                         + "not supported, not flagged.")
        }
        return lines.joined(separator: "\n")
    }
}

/// `x` with two decimals.
func fixed(_ x: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", x) }
