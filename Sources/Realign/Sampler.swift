import Foundation

/// How the next token is chosen from a logits vector. `temperature == 0` means greedy.
public struct SamplingParameters: Sendable, Equatable {
    public var temperature: Float
    public var topK: Int
    public var topP: Float
    public var minP: Float
    public var repetitionPenalty: Float
    /// Tokens looked back at by the repetition penalty.
    public var penaltyWindow: Int
    public var seed: UInt64

    public init(temperature: Float = 0.7, topK: Int = 50, topP: Float = 0.95, minP: Float = 0,
                repetitionPenalty: Float = 1, penaltyWindow: Int = 64, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.penaltyWindow = penaltyWindow
        self.seed = seed
    }

    /// Greedy decoding: always the most likely token.
    public static let greedy = SamplingParameters(temperature: 0, topK: 1, topP: 1)
    public var isGreedy: Bool { temperature <= 0 || topK == 1 }
}

/// Picks tokens from logits: a chain of small steps (repetition penalty, temperature, top-k, top-p, min-p)
/// and a seeded draw, so a run with the same seed gives the same tokens.
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    private var random: SeededGenerator
    private var candidates: [(token: Int, logit: Float)] = []

    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        random = SeededGenerator(seed: parameters.seed)
    }

    /// The index of the largest logit (the lowest index on ties, as llama.cpp's greedy sampler).
    public static func argmax(_ logits: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        var bestValue = -Float.infinity
        for i in 0..<logits.count where logits[i] > bestValue {
            best = i
            bestValue = logits[i]
        }
        return best
    }

    /// Chooses the next token. `logits` may be modified (penalties are applied in place).
    public mutating func sample(_ logits: UnsafeMutableBufferPointer<Float>, history: [Int] = []) -> Int {
        let p = parameters
        if p.repetitionPenalty != 1 {
            for token in Set(history.suffix(p.penaltyWindow)) where token < logits.count {
                let value = logits[token]
                logits[token] = value > 0 ? value / p.repetitionPenalty : value * p.repetitionPenalty
            }
        }
        if p.isGreedy { return Self.argmax(UnsafeBufferPointer(logits)) }

        candidates.removeAll(keepingCapacity: true)
        for i in 0..<logits.count where logits[i].isFinite { candidates.append((i, logits[i] / p.temperature)) }
        guard !candidates.isEmpty else { return Self.argmax(UnsafeBufferPointer(logits)) }
        candidates.sort { $0.logit > $1.logit || ($0.logit == $1.logit && $0.token < $1.token) }
        if p.topK > 0, candidates.count > p.topK { candidates.removeLast(candidates.count - p.topK) }

        let top = candidates[0].logit
        var probabilities = candidates.map { expf($0.logit - top) }
        var total = probabilities.reduce(0, +)
        var keep = candidates.count
        if p.topP < 1 {
            var cumulative: Float = 0
            for (i, probability) in probabilities.enumerated() {
                cumulative += probability / total
                if cumulative >= p.topP {
                    keep = i + 1
                    break
                }
            }
        }
        if p.minP > 0 {
            // probabilities[0] is the largest, exp(0) = 1.
            keep = min(keep, probabilities.prefix(keep).prefix { $0 >= p.minP }.count)
        }
        keep = max(keep, 1)
        probabilities.removeLast(probabilities.count - keep)
        total = probabilities.reduce(0, +)
        var draw = Float(Double(random.next() >> 11) / Double(1 << 53)) * total
        for (i, probability) in probabilities.enumerated() {
            draw -= probability
            if draw < 0 { return candidates[i].token }
        }
        return candidates[keep - 1].token
    }
}

/// SplitMix64: small, fast and reproducible across platforms.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
