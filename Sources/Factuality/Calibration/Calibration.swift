import Foundation

/// The features the calibrated score combines, each computed from a claim's signals.
public enum CheckerFeature: String, Sendable, CaseIterable, Codable {
    /// ``LexicalSignals/support``.
    case lexicalSupport
    /// ``LexicalSignals/pairSupport``.
    case pairSupport
    /// Missing hard facts, capped at 3.
    case missingFacts
    /// `log(1 + unsupported content words)`.
    case unsupportedWords
    /// Share of the claim's content words that some passage (or the question) mentions anywhere.
    case coverage
    /// 1 when the claim negates and its evidence does not.
    case negationMismatch
    /// ``GroundingScore/pmi``, clamped to [-5, 5].
    case pmi
    /// ``VerdictScore/logOdds`` (an instruct model's yes against no), clamped to [-10, 10].
    case verdict

    public static let lexical: [CheckerFeature] = [.lexicalSupport, .pairSupport, .missingFacts, .unsupportedWords,
                                                   .coverage, .negationMismatch]
    public static let withModel: [CheckerFeature] = lexical + [.pmi]
    /// The lexical signals and the model verdict.
    public static let withVerdict: [CheckerFeature] = lexical + [.verdict]

    /// Which model signal the feature needs, if any.
    public var needs: CheckerScorer? {
        switch self {
        case .pmi: return .pmi
        case .verdict: return .verdict
        default: return nil
        }
    }

    /// The sign its weight must have in a combination: +1 for evidence of support, -1 for evidence against.
    /// HaluEval's outputs carry correlated cues (a fitted weight can take the wrong sign to correct another
    /// feature); the constraint keeps the combination meaningful on other text.
    public var sign: Double {
        switch self {
        case .lexicalSupport, .pairSupport, .coverage, .pmi, .verdict: return 1
        case .missingFacts, .unsupportedWords, .negationMismatch: return -1
        }
    }

    /// Every feature's value for one claim, in ``allCases`` order: what the evaluations record and fit on.
    public static func vector(_ lexical: LexicalSignals, _ grounding: GroundingScore?, _ verdict: VerdictScore?) -> [Double] {
        allCases.map { $0.value(lexical, grounding, verdict) }
    }

    /// The feature's value for one claim; `pmi` needs `grounding`, `verdict` needs `verdict` (0 without them).
    public func value(_ lexical: LexicalSignals, _ grounding: GroundingScore?, _ verdict: VerdictScore? = nil) -> Double {
        switch self {
        case .lexicalSupport: return lexical.support
        case .pairSupport: return lexical.pairSupport
        case .missingFacts: return Double(min(lexical.missingFacts.count, 3))
        case .unsupportedWords: return log1p(Double(lexical.unsupportedWords.count))
        case .coverage:
            guard lexical.contentWords > 0 else { return 1 }
            return 1 - Double(lexical.unsupportedWords.count) / Double(lexical.contentWords)
        case .negationMismatch: return lexical.negationMismatch ? 1 : 0
        case .pmi: return min(5, max(-5, grounding?.pmi ?? 0))
        case .verdict: return min(10, max(-10, verdict?.logOdds ?? 0))
        }
    }
}

/// Which calibrated scorer the factuality checker uses.
public enum CheckerScorer: String, Sendable, Hashable, Codable, CaseIterable {
    /// Lexical signals only: no model.
    case lexical
    /// Lexical signals and the reference model's PMI (SmolLM2, as the calibration was fitted).
    case pmi
    /// Lexical signals and an instruct model's yes/no verdict (Qwen2.5-Coder-0.5B-Instruct, as fitted).
    case verdict
}


/// The fitted models of one kind of text (QA answers, summaries): the combined scores the checker uses, and, for
/// the evaluation, one model per single signal and a length-only baseline.
public struct CalibrationProfile: Sendable, Hashable, Codable {
    /// The combination of the lexical signals (used with `--no-model`).
    public var lexical: LogisticModel?
    /// The combination of the lexical signals and the model's PMI.
    public var model: LogisticModel?
    /// The combination of the lexical signals and the model verdict.
    public var verdict: LogisticModel?
    /// The verdict prompts (``PromptTemplate`` section text) the verdict model was fitted with, for claims that
    /// answer a question and for claims on their own; a different prompt needs a new fit.
    public var verdictPrompt: String?
    public var verdictClaimPrompt: String?
    /// The checkpoint file name the verdict model was fitted with.
    public var verdictModel: String?
    /// What the verdict model read when fitted (nil: ``VerdictContext/evidence``).
    public var verdictContext: VerdictContext?
    /// How outputs are cut into claims for every model of the profile (nil: ``ClaimUnit/clause``, as before the
    /// unit was recorded). A model fitted on clauses scores clauses.
    public var claimUnit: ClaimUnit?
    /// ``claimUnit``, or clauses for a profile that predates it: the unit every checker of the profile cuts.
    public var unit: ClaimUnit { claimUnit ?? .clause }
    /// One-feature models, by feature name, to report each signal on its own.
    public var signals: [String: LogisticModel] = [:]
    /// Answer length in words as the only feature: the baseline the checker must beat.
    public var length: LogisticModel?
    /// What each model was fitted on, by model name.
    public var trainedOn: [String: String] = [:]

    public init() {}
}

/// The committed calibration file (`models/checker/calibration.json`): profiles by name.
public struct CheckerCalibration: Sendable, Hashable, Codable {
    public static let defaultPath = "models/checker/calibration.json"
    public var version = 1
    public var profiles: [String: CalibrationProfile] = [:]

    public init() {}

    /// Reads the file at `path`.
    public static func load(_ path: String) throws -> CheckerCalibration {
        guard FileManager.default.fileExists(atPath: path) else { throw CalibrationError.missing(path: path) }
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            let calibration = try JSONDecoder().decode(CheckerCalibration.self, from: data)
            guard calibration.version == 1 else {
                throw CalibrationError.unreadable(path: path, reason: "version \(calibration.version), expected 1")
            }
            return calibration
        } catch let error as CalibrationError {
            throw error
        } catch let error as DecodingError {
            throw CalibrationError.unreadable(path: path, reason: Self.describe(error))
        } catch {
            throw CalibrationError.unreadable(path: path, reason: "\(error)")
        }
    }

    /// Reads the file at `path`, or starts an empty calibration when there is none.
    public static func loadOrEmpty(_ path: String) throws -> CheckerCalibration {
        FileManager.default.fileExists(atPath: path) ? try load(path) : CheckerCalibration()
    }

    /// The profile named `name`.
    public func profile(_ name: String, path: String) throws -> CalibrationProfile {
        guard let profile = profiles[name] else {
            throw CalibrationError.noProfile(path: path, profile: name, available: profiles.keys.sorted())
        }
        return profile
    }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        var data = try encoder.encode(self)
        data.append(contentsOf: Array("\n".utf8))
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    static func describe(_ error: DecodingError) -> String {
        func at(_ path: [CodingKey]) -> String { path.map(\.stringValue).joined(separator: ".") }
        switch error {
        case let .keyNotFound(key, context): return "missing field '\(at(context.codingPath + [key]))'"
        case let .typeMismatch(_, context), let .valueNotFound(_, context):
            return "wrong type at '\(at(context.codingPath))': \(context.debugDescription)"
        case let .dataCorrupted(context): return "\(context.debugDescription) at '\(at(context.codingPath))'"
        @unknown default: return "\(error)"
        }
    }
}
