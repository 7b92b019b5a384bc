/// A setting measured on a question set: where it lands between correctness and naturalness.
public struct OperatingPoint: Sendable, Hashable, Codable {
    public var label: String
    public var lambda: Float
    public var correctness: Double
    public var naturalness: Double

    public init(label: String, lambda: Float, correctness: Double, naturalness: Double) {
        self.label = label
        self.lambda = lambda
        self.correctness = correctness
        self.naturalness = naturalness
    }
}

/// The settings no other setting beats on both correctness and naturalness.
public enum ParetoFront {
    /// Indices of the non-dominated points, ordered by correctness (highest first). A point is dominated when
    /// another is at least as good on both axes and better on one; equal points are all kept.
    /// - Complexity: O(n log n).
    public static func indices(of points: [OperatingPoint]) -> [Int] {
        let order = points.indices.sorted {
            let (a, b) = (points[$0], points[$1])
            if a.correctness != b.correctness { return a.correctness > b.correctness }
            if a.naturalness != b.naturalness { return a.naturalness > b.naturalness }
            return $0 < $1
        }
        var front: [Int] = []
        var bestNaturalness = -Double.infinity
        var last: OperatingPoint?
        for i in order {
            let p = points[i]
            if let last, last.correctness == p.correctness, last.naturalness == p.naturalness {
                front.append(i)   // an equal of a front point
                continue
            }
            if p.naturalness > bestNaturalness {
                front.append(i)
                bestNaturalness = p.naturalness
                last = p
            }
        }
        return front
    }

    /// The point a rule picks among `points`, using the same rule as a single query's choice.
    public static func choose(_ points: [OperatingPoint], rule: SelectionRule) -> Int? {
        let candidates = points.map {
            Candidate(label: $0.label, lambda: $0.lambda, text: "", correctness: $0.correctness,
                      naturalness: NaturalnessReport(fluency: nil, flags: [], words: 0, lengthFit: 1,
                                                     score: $0.naturalness),
                      tokens: 0)
        }
        return rule.choose(candidates)
    }
}
