import Foundation
import Testing
@testable import Realign

@Suite struct SamplerTests {
    static let logits: [Float] = [1.0, 3.0, 2.5, -1.0, 3.0, 0.5, -.infinity, 2.0]

    func sample(_ sampler: inout Sampler, _ logits: [Float], history: [Int] = []) -> Int {
        var copy = logits
        return copy.withUnsafeMutableBufferPointer { sampler.sample($0, history: history) }
    }

    @Test func greedyTakesTheLargestLowestIDOnTies() {
        var sampler = Sampler(.greedy)
        #expect(sample(&sampler, Self.logits) == 1)
    }

    @Test func samplingLeavesTheLogitsUntouched() {
        var sampler = Sampler(SamplingParameters(temperature: 0.5, topK: 3, repetitionPenalty: 2))
        var logits = Self.logits
        _ = logits.withUnsafeMutableBufferPointer { sampler.sample($0, history: [1, 2]) }
        #expect(logits.elementsEqual(Self.logits) { $0 == $1 || ($0.isInfinite && $1.isInfinite) })
    }

    @Test func topKKeepsTheKLargestInOrder() {
        var candidates = TokenCandidates()
        Self.logits.withUnsafeBufferPointer { candidates.load($0) }
        #expect(candidates.count == 7, "-inf is never a candidate")
        TopK(3).apply(to: &candidates, history: [])
        #expect(candidates.ids == [1, 4, 2])
        #expect(candidates.logits == [3.0, 3.0, 2.5])
    }

    @Test func topPKeepsTheSmallestNucleus() {
        var candidates = TokenCandidates()
        let logits: [Float] = [logf(0.5), logf(0.3), logf(0.15), logf(0.05)]
        logits.withUnsafeBufferPointer { candidates.load($0) }
        TopP(0.79).apply(to: &candidates, history: [])
        #expect(candidates.ids == [0, 1])
        logits.withUnsafeBufferPointer { candidates.load($0) }
        TopP(0.81).apply(to: &candidates, history: [])
        #expect(candidates.ids == [0, 1, 2])
    }

    @Test func minPDropsTokensFarBelowTheBest() {
        var candidates = TokenCandidates()
        let logits: [Float] = [logf(0.5), logf(0.3), logf(0.15), logf(0.05)]
        logits.withUnsafeBufferPointer { candidates.load($0) }
        MinP(0.2).apply(to: &candidates, history: [])  // keeps p >= 0.1
        #expect(candidates.ids == [0, 1, 2])
    }

    @Test func repetitionPenaltyPushesSeenTokensDown() {
        var candidates = TokenCandidates()
        Self.logits.withUnsafeBufferPointer { candidates.load($0) }
        RepetitionPenalty(penalty: 2, window: 2).apply(to: &candidates, history: [4, 3, 1])
        let byID = Dictionary(uniqueKeysWithValues: zip(candidates.ids.map(Int.init), candidates.logits))
        #expect(byID[1] == 1.5)    // positive: divided
        #expect(byID[3] == -2.0)   // negative: multiplied
        #expect(byID[4] == 3.0)    // outside the window of 2
        var greedy = Sampler(steps: [RepetitionPenalty(penalty: 2, window: 2)], greedy: true)
        #expect(sample(&greedy, Self.logits, history: [3, 1]) == 4)
    }

    @Test func temperatureScalesLogits() {
        var candidates = TokenCandidates()
        Self.logits.withUnsafeBufferPointer { candidates.load($0) }
        Temperature(0.5).apply(to: &candidates, history: [])
        #expect(candidates.logits.first == 2.0)
    }

    @Test func sameSeedSameTokensOtherSeedOtherTokens() {
        let parameters = SamplingParameters(temperature: 1.5, topK: 0, topP: 1)
        func run(seed: UInt64) -> [Int] {
            var p = parameters
            p.seed = seed
            var sampler = Sampler(p)
            return (0..<64).map { _ in sample(&sampler, Self.logits) }
        }
        #expect(run(seed: 1) == run(seed: 1))
        #expect(run(seed: 1) != run(seed: 2))
    }

    /// Draw frequencies follow softmax(logits / T) over the kept candidates.
    @Test func drawsFollowTheDistribution() {
        let logits: [Float] = [0, logf(2), logf(5), -.infinity]
        var sampler = Sampler(steps: [Temperature(1)], seed: 3)
        var counts = [0, 0, 0, 0]
        let n = 40_000
        for _ in 0..<n { counts[sample(&sampler, logits)] += 1 }
        let expected: [Double] = [0.125, 0.25, 0.625, 0]
        for i in 0..<4 { #expect(abs(Double(counts[i]) / Double(n) - expected[i]) < 0.01) }
    }

    @Test func chainOrderFromParameters() {
        let steps = SamplingParameters(temperature: 0.7, topK: 50, topP: 0.95, minP: 0.05, repetitionPenalty: 1.1).steps
        #expect(steps.map { String(describing: type(of: $0)) } == ["RepetitionPenalty", "Temperature", "TopK", "TopP", "MinP"])
        #expect(SamplingParameters.greedy.steps.isEmpty)
    }
}

@Suite struct LogitMixTests {
    @Test func endpointsAreExactAndTheMiddleIsLinear() {
        let reference: [Float] = [1.25, -3.5, 0.1, 7]
        let aligned: [Float] = [0.5, 2.0, -0.3, 7.5]
        #expect(LogitMix.mix(aligned: aligned, reference: reference, lambda: 0) == reference)
        #expect(LogitMix.mix(aligned: aligned, reference: reference, lambda: 1) == aligned)
        for lambda: Float in [0.5, 2, 1.0 / 6, 3] {
            let mixed = LogitMix.mix(aligned: aligned, reference: reference, lambda: lambda)
            for i in reference.indices {
                #expect(abs(mixed[i] - (lambda * aligned[i] + (1 - lambda) * reference[i])) < 1e-5)
            }
        }
        // lambda = 2 extrapolates: twice the aligned step away from the reference.
        let extrapolated = LogitMix.mix(aligned: aligned, reference: reference, lambda: 2)
        #expect(extrapolated[1] == 7.5)
    }
}
