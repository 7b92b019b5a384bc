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

    /// The defaults are those of the DeRa paper's demo: temperature 0.7, top-k 50, top-p 0.95.
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

    /// The steps these parameters describe, in Hugging Face transformers' order (the one DeRa's reference
    /// implementation samples with): repetition penalty, temperature, top-k, top-p, min-p.
    public var steps: [any SamplingStep] {
        var steps: [any SamplingStep] = []
        if repetitionPenalty != 1 { steps.append(RepetitionPenalty(penalty: repetitionPenalty, window: penaltyWindow)) }
        if isGreedy { return steps }
        steps.append(Temperature(temperature))
        if topK > 0 { steps.append(TopK(topK)) }
        if topP < 1 { steps.append(TopP(topP)) }
        if minP > 0 { steps.append(MinP(minP)) }
        return steps
    }
}

/// Picks tokens from logits: a chain of ``SamplingStep``s, then the most likely survivor (greedy) or a draw
/// from a seeded generator, so a run with the same seed gives the same tokens.
///
/// ```swift
/// var sampler = Sampler(steps: [Temperature(0.7), TopK(50), TopP(0.95)], seed: 42)
/// let token = logits.withUnsafeMutableBufferPointer { sampler.sample($0, history: ids) }
/// ```
public struct Sampler: Sendable {
    public let steps: [any SamplingStep]
    public let isGreedy: Bool
    private var random: SeededGenerator
    private var candidates = TokenCandidates()

    /// A chain of `steps` followed by a seeded draw, or by taking the most likely token when `greedy`.
    public init(steps: [any SamplingStep], greedy: Bool = false, seed: UInt64 = 0) {
        self.steps = steps
        isGreedy = greedy
        random = SeededGenerator(seed: seed)
    }

    public init(_ parameters: SamplingParameters) {
        self.init(steps: parameters.steps, greedy: parameters.isGreedy, seed: parameters.seed)
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

    /// Chooses the next token from raw logits (which are left as they are).
    public mutating func sample(_ logits: UnsafeMutableBufferPointer<Float>, history: [Int] = []) -> Int {
        if isGreedy && steps.isEmpty { return Self.argmax(UnsafeBufferPointer(logits)) }
        candidates.load(UnsafeBufferPointer(logits))
        guard candidates.count > 0 else { return Self.argmax(UnsafeBufferPointer(logits)) }
        for step in steps { step.apply(to: &candidates, history: history) }
        guard candidates.count > 0 else { return Self.argmax(UnsafeBufferPointer(logits)) }
        if isGreedy {
            var best = 0
            for i in 1..<candidates.count where candidates.logits[i] > candidates.logits[best] { best = i }
            return Int(candidates.ids[best])
        }
        let probabilities = candidates.probabilities()
        var draw = Float(Double(random.next() >> 11) / Double(1 << 53))
        for (i, probability) in probabilities.enumerated() {
            draw -= probability
            if draw < 0 { return Int(candidates.ids[i]) }
        }
        return Int(candidates.ids[candidates.count - 1])
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
