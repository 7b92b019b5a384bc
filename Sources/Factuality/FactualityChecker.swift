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
    /// The reference model's PMI; nil unless the PMI scorer ran.
    public var grounding: GroundingScore?
    /// The instruct model's yes/no verdict; nil unless the verdict scorer ran.
    public var verdict: VerdictScore?
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
    /// Which calibrated model scored it: "lexical", "model" (with PMI) or "verdict".
    public var scorer: String

    /// The score to rank candidate answers by: ``answerScore``, or 0 for an answer that makes no checkable claim,
    /// so "Yes." or an empty answer never outranks one whose claims the passages support.
    public var rankingScore: Double { answerScore ?? 0 }
}

/// Scores every claim of an answer against passages.
///
/// ```swift
/// let calibration = try CheckerCalibration.load(CheckerCalibration.defaultPath)
/// let checker = try FactualityChecker(profile: calibration.profile("general", path: CheckerCalibration.defaultPath))
/// let report = try checker.check(answer: "Canberra is the capital.", passages: [Passage(id: "1", text: "...")],
///                                question: "What is the capital of Australia?")
/// ```
///
/// Three scorers, as the calibration profile holds them: the lexical signals alone (no model), the lexical
/// signals with a reference model's PMI (``ModelGrounding``; it reads the passages cut down to the claims'
/// evidence windows), or the lexical signals with an instruct model's yes/no verdict (``ModelVerdict``; it reads
/// the passages whole). Several answers to one question (the candidates of `--lambda auto`) are checked in one
/// call so the model reads the passages once.
public struct FactualityChecker: Sendable {
    public var splitter = ClaimSplitter()
    /// Sentences per evidence window.
    public var windowSentences = 2
    public let scorer: LogisticModel
    public let grounding: ModelGrounding?
    public let verdict: ModelVerdict?

    /// - Parameters:
    ///   - scorer: a model over known ``CheckerFeature``s; the model signals it uses must be given.
    ///   - grounding: the reference model for PMI, or nil.
    ///   - verdict: the instruct model for verdicts, or nil.
    public init(scorer: LogisticModel, grounding: ModelGrounding? = nil, verdict: ModelVerdict? = nil) throws {
        let available = CheckerFeature.lexical + (grounding == nil ? [] : [.pmi]) + (verdict == nil ? [] : [.verdict])
        guard scorer.features.allSatisfy({ name in available.contains { $0.rawValue == name } }) else {
            throw CalibrationError.featureMismatch(path: "scorer", model: Self.name(of: scorer),
                                                   expected: available.map(\.rawValue), found: scorer.features)
        }
        self.scorer = scorer
        self.grounding = grounding
        self.verdict = verdict
    }

    /// Picks the profile's verdict, PMI or lexical scorer, as `verdict` or `grounding` is given (the verdict first).
    public init(profile: CalibrationProfile, grounding: ModelGrounding? = nil, verdict: ModelVerdict? = nil,
                path: String = "calibration") throws {
        let (name, scorer): (String, LogisticModel?) = verdict != nil ? ("verdict", profile.verdict)
            : grounding != nil ? ("model", profile.model) : ("lexical", profile.lexical)
        guard let scorer else {
            throw CalibrationError.unreadable(
                path: path, reason: "the profile has no '\(name)' model; fit one with `dera eval checker --fit`"
                    + (name == "lexical" ? " --no-model" : name == "verdict" ? " --checker verdict" : " --checker pmi"))
        }
        try self.init(scorer: scorer, grounding: verdict == nil ? grounding : nil, verdict: verdict)
        splitter.unit = profile.unit
    }

    /// "verdict", "model" (PMI) or "lexical": which signals this checker's scorer combines.
    public var scorerName: String { Self.name(of: scorer) }

    /// "verdict", "model" (PMI) or "lexical": which signals a scorer combines.
    static func name(of scorer: LogisticModel) -> String {
        scorer.features.contains(CheckerFeature.verdict.rawValue) ? "verdict"
            : scorer.features.contains(CheckerFeature.pmi.rawValue) ? "model" : "lexical"
    }

    /// The signals of one claim, before scoring.
    public struct ClaimSignals: Sendable {
        public var claim: Claim
        public var lexical: LexicalSignals
        public var grounding: GroundingScore?
        public var verdict: VerdictScore?
    }

    /// The claims of each answer with their signals, before scoring (the evaluation fits on these). The models
    /// score only checkable claims (``LexicalSignals/isCheckable``) and only the signals the scorer uses; the
    /// claims of all answers go to each model in one call.
    public func signals(answers: [String], index: EvidenceIndex, question: String?) throws -> [[ClaimSignals]] {
        var result = answers.map { answer in
            splitter.claims(in: answer).map { claim in
                ClaimSignals(claim: claim, lexical: LexicalSignals(claim: claim.text, index: index))
            }
        }
        let checkable = result.indices.flatMap { a in result[a].indices.filter { result[a][$0].lexical.isCheckable }.map { (a, $0) } }
        guard !checkable.isEmpty else { return result }
        let texts = checkable.map { result[$0.0][$0.1].claim.text }
        let uses = Set(scorer.features)
        if let model = grounding, uses.contains(CheckerFeature.pmi.rawValue) {
            let focused = index.focused(on: checkable.compactMap { result[$0.0][$0.1].lexical.evidence })
            let scores = try model.score(claims: texts, passages: focused, question: question)
            for (k, (a, c)) in checkable.enumerated() { result[a][c].grounding = scores[k] }
        }
        if let model = verdict, uses.contains(CheckerFeature.verdict.rawValue) {
            let perAnswer = result.map { claims in claims.indices.filter { claims[$0].lexical.isCheckable } }
            let passages = model.passages(in: index, evidence: checkable.compactMap { result[$0.0][$0.1].lexical.evidence },
                                          question: question)
            let scores = try model.score(outputs: perAnswer.indices.map { a in perAnswer[a].map { result[a][$0].claim.text } },
                                         passages: passages, question: question)
            for (a, claims) in perAnswer.enumerated() {
                for (k, c) in claims.enumerated() { result[a][c].verdict = scores[a][k] }
            }
        }
        return result
    }

    /// Checks `answer` against `passages`.
    public func check(answer: String, passages: [Passage], question: String?) throws -> FactualityReport {
        try check(answers: [answer], passages: passages, question: question)[0]
    }

    /// Checks several answers to one question against the same passages: one report per answer, in order.
    public func check(answers: [String], passages: [Passage], question: String?) throws -> [FactualityReport] {
        let index = EvidenceIndex(passages: passages, question: question, windowSentences: windowSentences)
        let signals = try self.signals(answers: answers, index: index, question: question)
        return zip(answers, signals).map { answer, claimSignals in
            report(answer: answer, claims: claimSignals, question: question)
        }
    }

    func report(answer: String, claims claimSignals: [ClaimSignals], question: String?) -> FactualityReport {
        let claims = claimSignals.map { signal in
            guard signal.lexical.isCheckable else {
                return ClaimReport(text: signal.claim.text, span: signal.claim.span, score: 0, label: .unverifiable,
                                   lexical: signal.lexical, grounding: nil, verdict: nil, evidence: nil)
            }
            let score = self.score(signal.lexical, signal.grounding, signal.verdict)
            return ClaimReport(text: signal.claim.text, span: signal.claim.span, score: score,
                               label: score >= scorer.threshold ? .supported : .unsupported, lexical: signal.lexical,
                               grounding: signal.grounding, verdict: signal.verdict,
                               evidence: signal.lexical.support > 0 ? signal.lexical.evidence : nil)
        }
        let scores = claims.filter { $0.label != .unverifiable }.map(\.score)
        let answerScore = scorer.aggregate.apply(scores)
        let verdict: AnswerVerdict = answerScore.map { $0 < scorer.threshold ? .hallucinated : .supported }
            ?? .noCheckableClaim
        return FactualityReport(
            question: question, answer: answer, claims: claims, minScore: ClaimAggregate.minimum.apply(scores),
            meanScore: ClaimAggregate.mean.apply(scores), aggregate: scorer.aggregate, answerScore: answerScore,
            threshold: scorer.threshold, hallucinated: verdict == .hallucinated, verdict: verdict,
            scorer: Self.name(of: scorer))
    }

    /// The calibrated score of one claim's signals.
    public func score(_ lexical: LexicalSignals, _ grounding: GroundingScore?, _ verdict: VerdictScore? = nil) -> Double {
        let features = scorer.features.map { CheckerFeature(rawValue: $0)!.value(lexical, grounding, verdict) }
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
            if let verdict = claim.verdict {
                signals += String(format: ", model verdict %@ (log-odds %+.2f)", verdict.logOdds >= 0 ? "yes" : "no",
                                  verdict.logOdds)
            }
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
