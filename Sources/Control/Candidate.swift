import Factuality
import Foundation

/// One decoded output the controller can choose: how it was decoded and how it scored.
public struct Candidate: Sendable, Codable, Hashable {
    /// How it was decoded, e.g. "lambda 0.5" or "divergence 0-1".
    public var label: String
    /// The fixed lambda, or the mean lambda an adaptive policy used.
    public var lambda: Float
    public var text: String
    /// The checker's answer score against the passages the output was generated from (0 when it makes no claim).
    public var correctness: Double
    public var naturalness: NaturalnessReport
    public var tokens: Int

    public init(label: String, lambda: Float, text: String, correctness: Double, naturalness: NaturalnessReport,
                tokens: Int) {
        self.label = label
        self.lambda = lambda
        self.text = text
        self.correctness = correctness
        self.naturalness = naturalness
        self.tokens = tokens
    }

    /// The checker's score of a report: its answer score, 0 for an answer that makes no claim.
    public static func correctness(of report: FactualityReport) -> Double { report.rankingScore }
}

/// How the controller trades correctness (the checker's score) against naturalness.
public enum SelectionRule: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The most correct non-degenerate candidate; candidates within `margin` of the best correctness count as tied
    /// and the most natural of them wins. The default for one query: on the checker's own terms auto is never
    /// worse than any candidate, the reference (lambda 0) included.
    case mostCorrect(margin: Double)
    /// The most natural candidate whose correctness reaches `target`; the most correct when none does.
    case naturalAtLeast(target: Double)
    /// The highest `weight * correctness + (1 - weight) * naturalness`.
    case weighted(weight: Double)

    public static let `default` = SelectionRule.mostCorrect(margin: 0.02)

    public var description: String {
        switch self {
        case let .mostCorrect(margin): "most-correct:\(margin)"
        case let .naturalAtLeast(target): "natural-at-least:\(target)"
        case let .weighted(weight): "weighted:\(weight)"
        }
    }

    /// Parses `most-correct[:MARGIN]`, `natural-at-least:TARGET` or `weighted:W` (numbers in [0, 1]).
    public init?(_ text: String) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        let number = parts.count == 2 ? Double(parts[1]) : nil
        if let number, !(number.isFinite && number >= 0 && number <= 1) { return nil }
        switch parts[0] {
        case "most-correct": self = .mostCorrect(margin: number ?? 0.02)
        case "natural-at-least": guard let number else { return nil }; self = .naturalAtLeast(target: number)
        case "weighted": guard let number else { return nil }; self = .weighted(weight: number)
        default: return nil
        }
    }

    /// The index of the candidate this rule picks; nil only for no candidates. Degenerate candidates lose to any
    /// non-degenerate one. Remaining ties go to the lower |lambda| (closest to the reference model), then to the
    /// earlier candidate, so the choice is deterministic.
    public func choose(_ candidates: [Candidate]) -> Int? {
        guard !candidates.isEmpty else { return nil }
        let healthy = candidates.indices.filter { !candidates[$0].naturalness.isDegenerate }
        let pool = healthy.isEmpty ? Array(candidates.indices) : healthy
        func better(_ a: Int, _ b: Int, by key: (Candidate) -> Double) -> Bool {
            let (ka, kb) = (key(candidates[a]), key(candidates[b]))
            if ka != kb { return ka > kb }
            let (la, lb) = (abs(candidates[a].lambda), abs(candidates[b].lambda))
            if la != lb { return la < lb }
            return a < b
        }
        func best(_ indices: [Int], by key: (Candidate) -> Double) -> Int {
            indices.dropFirst().reduce(indices[0]) { better($1, $0, by: key) ? $1 : $0 }
        }
        switch self {
        case let .mostCorrect(margin):
            let top = pool.map { candidates[$0].correctness }.max()!
            let tied = pool.filter { candidates[$0].correctness >= top - margin }
            return best(tied, by: { $0.naturalness.score })
        case let .naturalAtLeast(target):
            let passing = pool.filter { candidates[$0].correctness >= target }
            if passing.isEmpty { return best(pool, by: { $0.correctness }) }
            return best(passing, by: { $0.naturalness.score })
        case let .weighted(weight):
            return best(pool, by: { weight * $0.correctness + (1 - weight) * $0.naturalness.score })
        }
    }
}

extension SelectionRule {
    enum CodingKeys: String, CodingKey { case rule }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let rule = SelectionRule(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "not a selection rule: \(text)"))
        }
        self = rule
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
