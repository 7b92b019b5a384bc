import Foundation
import Testing
@testable import Inference
@testable import Realign

/// The measures the adaptive policies read, against a direct double-precision computation.
struct DistributionMeasuresTests {
    static func softmax(_ x: [Float]) -> [Double] {
        let top = Double(x.max()!)
        let e = x.map { $0 == -.infinity ? 0 : exp(Double($0) - top) }
        let z = e.reduce(0, +)
        return e.map { $0 / z }
    }

    static func entropy(_ p: [Double]) -> Double { -p.reduce(0) { $0 + ($1 > 0 ? $1 * log($1) : 0) } }

    static func jensenShannon(_ a: [Float], _ b: [Float]) -> Double {
        let p = softmax(a), q = softmax(b)
        let m = zip(p, q).map { ($0 + $1) / 2 }
        return entropy(m) - (entropy(p) + entropy(q)) / 2
    }

    static func randomRow(_ n: Int, seed: UInt64, spread: Float) -> [Float] {
        var random = SeededGenerator(seed: seed)
        return (0..<n).map { _ in (Float(random.next() >> 40) / Float(1 << 24) * 2 - 1) * spread }
    }

    @Test(arguments: [(UInt64(1), Float(1)), (2, 8), (3, 30)])
    func matchDoublePrecision(seed: UInt64, spread: Float) {
        let n = 49152
        let a = Self.randomRow(n, seed: seed, spread: spread), b = Self.randomRow(n, seed: seed + 100, spread: spread)
        let c = DistributionMeasures.compare(a, b)
        #expect(abs(c.firstEntropy - Self.entropy(Self.softmax(a))) < 1e-5 * max(1, c.firstEntropy))
        #expect(abs(c.secondEntropy - Self.entropy(Self.softmax(b))) < 1e-5 * max(1, c.secondEntropy))
        #expect(abs(DistributionMeasures.entropy(a) - Self.entropy(Self.softmax(a))) < 1e-5 * max(1, c.firstEntropy))
        let expected = Self.jensenShannon(a, b)
        #expect(abs(c.jensenShannon - expected) < 2e-6 + 1e-4 * expected, "JSD \(c.jensenShannon) against \(expected)")
        #expect(expected > 1e-4, "the rows should differ")
    }

    @Test func extremes() {
        let n = 1000
        let row = Self.randomRow(n, seed: 5, spread: 6)
        // Identical rows: JSD 0 (up to float rounding), whatever the shift of the logits.
        #expect(DistributionMeasures.compare(row, row).jensenShannon < 1e-6)
        #expect(DistributionMeasures.compare(row, row.map { $0 + 7 }).jensenShannon < 1e-6)
        // Disjoint peaks: JSD near ln 2.
        var a = [Float](repeating: 0, count: n), b = a
        a[3] = 40
        b[700] = 40
        #expect(abs(DistributionMeasures.compare(a, b).jensenShannon - log(2)) < 1e-6)
        // Uniform: entropy ln n; one token certain: 0; a masked token (-inf) counts as probability 0.
        #expect(abs(DistributionMeasures.entropy([Float](repeating: 1.5, count: n)) - log(Double(n))) < 1e-6)
        #expect(DistributionMeasures.entropy(a) < 1e-6)
        var masked = [Float](repeating: 0, count: 4)
        masked[2] = -.infinity
        #expect(abs(DistributionMeasures.entropy(masked) - log(3)) < 1e-6)
        #expect(abs(DistributionMeasures.compare(masked, masked).firstEntropy - log(3)) < 1e-6)
        // Masked entries and a length that is not a multiple of eight (the vector loop and its scalar tail).
        var p = Self.randomRow(1003, seed: 6, spread: 9), q = Self.randomRow(1003, seed: 7, spread: 9)
        for i in stride(from: 0, to: 1003, by: 5) { p[i] = -.infinity }
        for i in stride(from: 1, to: 1003, by: 7) { q[i] = -.infinity }
        let c = DistributionMeasures.compare(p, q)
        #expect(abs(c.jensenShannon - Self.jensenShannon(p, q)) < 1e-6)
        #expect(abs(c.firstEntropy - Self.entropy(Self.softmax(p))) < 1e-5)
        #expect(abs(c.secondEntropy - Self.entropy(Self.softmax(q))) < 1e-5)
        // Rising values force the online maximum to move at every entry.
        let rising = (0..<n).map { Float($0) * 0.01 }
        #expect(abs(DistributionMeasures.entropy(rising) - Self.entropy(Self.softmax(rising))) < 1e-6)
    }
}

/// The adaptive policies: in bounds, and moving the right way on constructed rows.
struct AdaptivePolicyTests {
    func lambda(_ policy: LambdaPolicy, _ reference: [Float], _ aligned: [Float]) -> Float {
        var state = policy.makeStepPolicy()
        state.reset(prompt: [1])
        return reference.withUnsafeBufferPointer { r in aligned.withUnsafeBufferPointer { state.lambda(reference: r, aligned: $0) } }
    }

    @Test func divergenceMovesWithDisagreement() {
        let n = 500
        let same = DistributionMeasuresTests.randomRow(n, seed: 9, spread: 3)
        var peakA = [Float](repeating: 0, count: n), peakB = peakA
        peakA[1] = 30
        peakB[2] = 30
        var slightly = same
        slightly[0] += 1.5
        let toward = DivergenceLambda(minimum: 0.2, maximum: 1.5)
        var away = toward
        away.direction = .towardReference
        #expect(lambda(.divergence(toward), same, same) == 0.2)
        #expect(lambda(.divergence(toward), peakA, peakB) == 1.5)
        #expect(lambda(.divergence(away), same, same) == 1.5)
        #expect(lambda(.divergence(away), peakA, peakB) == 0.2)
        let middle = lambda(.divergence(toward), same, slightly)
        #expect(middle > 0.2 && middle < 1.5, "a small disagreement gives a lambda strictly inside the bounds, got \(middle)")
        let expected = 0.2 + 1.3 * Float(DistributionMeasuresTests.jensenShannon(same, slightly) / 0.1)
        #expect(abs(middle - expected) < 1e-3)
    }

    @Test func entropyTrustsAConfidentReference() {
        let n = 500
        var confident = [Float](repeating: 0, count: n)
        confident[4] = 30
        let flat = [Float](repeating: 0, count: n)
        let policy = LambdaPolicy.entropy(EntropyLambda(minimum: 0.25, maximum: 2, scale: 2))
        #expect(lambda(policy, confident, flat) == 0.25)
        #expect(lambda(policy, flat, confident) == 2)
        var twoWay = [Float](repeating: -50, count: n)
        twoWay[0] = 0
        twoWay[1] = 0
        #expect(abs(lambda(policy, twoWay, flat) - (0.25 + 1.75 * Float(log(2.0)) / 2)) < 1e-4)
    }

    @Test func policiesAreValues() {
        #expect(LambdaPolicy.fixed(0.5) == .fixed(0.5) && LambdaPolicy.fixed(0.5) != .fixed(1))
        #expect(LambdaPolicy.divergence(DivergenceLambda()) == .divergence(DivergenceLambda()))
        #expect(LambdaPolicy.divergence(DivergenceLambda()) != .divergence(DivergenceLambda(direction: .towardReference)))
        #expect(LambdaPolicy.custom(CustomLambdaPolicy(Alternating(first: 0, second: 1)))
                == .custom(CustomLambdaPolicy(Alternating(first: 0, second: 1))))
        #expect(LambdaPolicy.custom(CustomLambdaPolicy(Alternating(first: 0, second: 1)))
                != .custom(CustomLambdaPolicy(Alternating(first: 0, second: 2))))
        #expect(RealignmentRequest(prompt: [1], lambda: 0.5) == RealignmentRequest(prompt: [1], policy: .fixed(0.5)))
    }
}

/// A custom policy: lambda alternates between two values, step by step.
struct Alternating: LambdaStepPolicy, Equatable {
    var first: Float
    var second: Float
    var step = 0
    mutating func reset(prompt: [Int]) { step = 0 }
    mutating func lambda(reference: UnsafeBufferPointer<Float>, aligned: UnsafeBufferPointer<Float>) -> Float {
        step += 1
        return step % 2 == 1 ? first : second
    }
}

/// Everything a policy was told, kept outside the policy (which the loop copies).
final class PolicyLog: @unchecked Sendable {
    let lock = NSLock()
    var prompts: [[Int]] = []
    var rows: [(reference: [Float], aligned: [Float])] = []
    var accepted: [Int] = []
    func record(_ body: (PolicyLog) -> Void) { lock.withLock { body(self) } }
}

/// A custom policy that records what it sees and answers lambda 1.5 where the reference's top token is below
/// the aligned model's top logit, else 0.
struct Recording: LambdaStepPolicy, Equatable {
    let log: PolicyLog
    static func == (a: Self, b: Self) -> Bool { a.log === b.log }
    mutating func reset(prompt: [Int]) { log.record { $0.prompts.append(prompt) } }
    mutating func lambda(reference: UnsafeBufferPointer<Float>, aligned: UnsafeBufferPointer<Float>) -> Float {
        log.record { $0.rows.append((Array(reference), Array(aligned))) }
        return Self.choose(reference: Array(reference), aligned: Array(aligned))
    }
    mutating func accept(_ token: Int) { log.record { $0.accepted.append(token) } }
    static func choose(reference: [Float], aligned: [Float]) -> Float { reference.max()! < aligned.max()! ? 1.5 : 0 }
}

/// The policy hook inside the loop, on the real model and the committed beta-0.1 adapter.
@Suite(.enabled(if: Support.smolLM2Available, "needs models/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/setup)"))
struct DecodingLoopPolicyTests {
    static let adapter = Support.root + "/models/adapters/smollm2-dpo-beta0.1"

    func pair() throws -> RealignmentPair {
        let bundle = try Support.bundle()
        return try RealignmentPair(reference: bundle, adapter: LoRAAdapter.open(Self.adapter, for: bundle.model))
    }

    @Test func adaptiveLambdasStayInBoundsAndFollowTheRows() throws {
        let pair = try pair()
        let prompt = try Support.chatPrompt(try Support.bundle(), "Who wrote the novel Moby-Dick, and when?")
        let policies: [LambdaPolicy] = [
            .divergence(DivergenceLambda(minimum: 0.25, maximum: 1.5)),
            .divergence(DivergenceLambda(minimum: 0.25, maximum: 1.5, scale: 0.02, direction: .towardReference)),
            .entropy(EntropyLambda(minimum: 0.25, maximum: 1.5, scale: 1)),
        ]
        var seen = [[(lambda: Float, mixed: [Float], reference: [Float], aligned: [Float])]](repeating: [], count: 3)
        let (outputs, _) = try Realigner(pair: pair).generate(
            policies.map { RealignmentRequest(prompt: prompt, policy: $0, maxTokens: 24) },
            observe: { s, r, a, m in
                // The lambda the mix used: solve m = l*a + (1-l)*r at the entry where a and r differ most.
                var best = 0
                for i in 0..<r.count where abs(a[i] - r[i]) > abs(a[best] - r[best]) { best = i }
                let l = (m[best] - r[best]) / (a[best] - r[best])
                seen[s].append((l, Array(m), Array(r), Array(a)))
            })
        for (s, output) in outputs.enumerated() {
            let (alone, _) = try Realigner(pair: pair).generate([RealignmentRequest(prompt: prompt, policy: policies[s], maxTokens: 24)])
            #expect(alone[0] == output, "policy \(s): a batch decodes each sequence as alone, lambdas included")
            #expect(output.lambdas.count == output.tokens.count)
            #expect(output.lambdas.allSatisfy { $0 >= 0.25 && $0 <= 1.5 }, "policy \(s): \(output.lambdas)")
            #expect(Set(output.lambdas).count > 1, "policy \(s) should not be constant on a real answer")
            #expect(output.meanLambda > 0.25 && output.meanLambda < 1.5)
            var state = policies[s].makeStepPolicy()
            for (step, lambda) in output.lambdas.enumerated() {
                let rows = seen[s][step]
                let expected = rows.reference.withUnsafeBufferPointer { r in
                    rows.aligned.withUnsafeBufferPointer { state.lambda(reference: r, aligned: $0) }
                }
                #expect(lambda == expected, "policy \(s) step \(step)")
                #expect(abs(rows.lambda - lambda) < 1e-3, "policy \(s) step \(step): the mix used \(rows.lambda), not \(lambda)")
            }
        }
    }

    @Test func aCustomPolicySeesBothRowsAndHearsTheAcceptedTokens() throws {
        let pair = try pair()
        let prompt = try Support.chatPrompt(try Support.bundle(), "Write one sentence about the sea.")
        let log = PolicyLog()
        var observed: [(reference: [Float], aligned: [Float], mixed: [Float])] = []
        let request = RealignmentRequest(prompt: prompt, policy: .custom(CustomLambdaPolicy(Recording(log: log))), maxTokens: 20)
        let (outputs, _) = try Realigner(pair: pair).generate([request], observe: { _, r, a, m in
            observed.append((Array(r), Array(a), Array(m)))
        })
        let output = outputs[0]
        #expect(log.prompts == [prompt])
        #expect(log.rows.count == observed.count)
        let stop = output.stoppedAtEndOfGeneration ? 1 : 0
        #expect(log.accepted.count == output.tokens.count + stop)
        #expect(Array(log.accepted.prefix(output.tokens.count)) == output.tokens)
        if stop == 1 { #expect(pair.tokenizer.endOfGenerationIDs.contains(log.accepted.last!)) }
        for (step, rows) in log.rows.enumerated() {
            #expect(rows.reference == observed[step].reference && rows.aligned == observed[step].aligned, "step \(step)")
            let lambda = Recording.choose(reference: rows.reference, aligned: rows.aligned)
            if step < output.lambdas.count { #expect(output.lambdas[step] == lambda) }
            let mixed = LogitMix.mix(aligned: rows.aligned, reference: rows.reference, lambda: lambda)
            #expect(mixed == observed[step].mixed, "step \(step): the mix is at the policy's lambda")
        }
        #expect(Set(output.lambdas).count == 2, "the constructed rule should pick both values on a real answer")
    }

    @Test func aLoneModelIsTheDegenerateCase() throws {
        let bundle = try Support.bundle()
        let prompts = try ["What is the capital of France?", "Name three primary colours."].map { try Support.chatPrompt(bundle, $0) }
        let loop = DecodingLoop(model: bundle.model, tokenizer: bundle.tokenizer)
        var rows = 0
        let (together, statistics) = try loop.generate(prompts.map { RealignmentRequest(prompt: $0, lambda: 0, maxTokens: 16) },
                                                       observe: { _, r, a, m in
            rows += 1
            #expect(r.baseAddress == a.baseAddress && r.baseAddress == m.baseAddress, "one row, nothing mixed")
        })
        #expect(rows > 0 && statistics.promptTokens == prompts.map(\.count).reduce(0, +))
        for (prompt, output) in zip(prompts, together) {
            let (alone, _) = try TextGenerator(bundle: bundle).generate(prompt: prompt, maxTokens: 16)
            #expect(output.tokens == alone, "a batch of lone sequences decodes each as alone")
            #expect(output.lambdas == [Float](repeating: 0, count: alone.count))
            let stop = bundle.tokenizer.endOfGenerationIDs
            #expect(alone == (try greedyDecode(bundle.model, prompt: prompt, adapter: nil, limit: 16, stop: stop).tokens))
        }
        #expect(throws: RealignmentError.noAlignedSide(request: 1)) {
            try loop.generate([RealignmentRequest(prompt: prompts[0], lambda: 0), RealignmentRequest(prompt: prompts[0], lambda: 0.5)])
        }
    }
}
