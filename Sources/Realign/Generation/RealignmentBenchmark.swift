import Foundation
import Inference
import Tokenization

/// Speed of decoding-time realignment beside the reference model alone: the figures `dera bench realign`
/// prints. Every run decodes greedily a fixed number of tokens (end-of-generation tokens do not stop it), so
/// the configurations do the same work.
public enum RealignmentBenchmark {
    /// Tokens per second of one configuration over repetitions (after a warm-up run).
    public struct Measurement: Sendable {
        public var name: String
        /// Generated tokens per second, decoding only (prompt excluded), per repetition.
        public var samples: [Double]
        public var mean: Double { samples.reduce(0, +) / Double(max(samples.count, 1)) }
        public var standardDeviation: Double {
            let m = mean
            return (samples.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(max(samples.count - 1, 1))).squareRoot()
        }
    }

    /// Generation speed of the reference model alone (``TextGenerator``).
    public static func referenceAlone(_ model: DecoderModel, tokenizer: Tokenizer, prompt: [Int], tokens: Int,
                                      repetitions: Int) throws -> Measurement {
        let generator = TextGenerator(model: model, tokenizer: tokenizer)
        var samples: [Double] = []
        for run in 0...repetitions {
            let (_, statistics) = try generator.generate(prompt: prompt, maxTokens: tokens, stopAtEndOfGeneration: false)
            if run > 0 { samples.append(statistics.generationTokensPerSecond) }
        }
        return Measurement(name: "reference alone", samples: samples)
    }

    /// Generation speed of DeRa on one sequence with `policy` (default: fixed lambda 0.5).
    public static func realigned(_ pair: RealignmentPair, prompt: [Int], tokens: Int, policy: LambdaPolicy = .fixed(0.5),
                                 repetitions: Int, name: String) throws -> Measurement {
        let realigner = Realigner(pair: pair)
        let request = RealignmentRequest(prompt: prompt, policy: policy, maxTokens: tokens, stopAtEndOfGeneration: false)
        var samples: [Double] = []
        for run in 0...repetitions {
            let (_, statistics) = try realigner.generate([request])
            if run > 0 { samples.append(statistics.generationTokensPerSecond) }
        }
        return Measurement(name: name, samples: samples)
    }

    /// Seconds one call of `policy` takes on a pair of rows of `vocabulary` logits (the minimum over `calls`
    /// calls, after a first call that grows any scratch): what an adaptive policy adds to each decoding step.
    public static func policyCost(_ policy: LambdaPolicy, vocabulary: Int, calls: Int = 200) -> Double {
        var random = SeededGenerator(seed: 3)
        let reference = (0..<vocabulary).map { _ in Float(random.next() >> 40) / Float(1 << 24) * 20 - 10 }
        let aligned = reference.map { $0 + Float(random.next() >> 40) / Float(1 << 24) - 0.5 }
        var state = policy.makeStepPolicy()
        state.reset(prompt: [0])
        var best = Double.infinity, sink: Float = 0
        reference.withUnsafeBufferPointer { r in
            aligned.withUnsafeBufferPointer { a in
                sink += state.lambda(reference: r, aligned: a)
                for _ in 0..<calls {
                    let start = DispatchTime.now().uptimeNanoseconds
                    sink += state.lambda(reference: r, aligned: a)
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                }
            }
        }
        return sink.isNaN ? .nan : best
    }

    /// A lambda sweep: all lambdas in one batch (prompt shared) against one run per lambda, timed end to end
    /// (prompt processing included, as a user waiting for the sweep sees it).
    public struct Sweep: Sendable {
        public var lambdas: Int
        public var generatedTokens: Int
        /// Wall-clock seconds per repetition.
        public var batchedSeconds: [Double]
        public var sequentialSeconds: [Double]
        /// Of the batched runs, the part spent decoding (after the prompt).
        public var batchedDecodeSeconds: [Double]
        public var sequentialDecodeSeconds: [Double]
        /// How many different outputs the lambdas gave, and the token rows the batch ran after the prompt (lambdas
        /// that agree share rows until they part; one row per side a lambda reads otherwise).
        public var distinctOutputs = 0
        public var batchedStepRows = 0
        public var sequentialStepRows = 0

        static func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(max(x.count, 1)) }
        public var batchedTokensPerSecond: Double { Double(generatedTokens) / Self.mean(batchedSeconds) }
        public var sequentialTokensPerSecond: Double { Double(generatedTokens) / Self.mean(sequentialSeconds) }
        public var speedup: Double { Self.mean(sequentialSeconds) / Self.mean(batchedSeconds) }
        public var decodeSpeedup: Double { Self.mean(sequentialDecodeSeconds) / Self.mean(batchedDecodeSeconds) }
    }

    public static func sweep(_ pair: RealignmentPair, prompt: [Int], tokens: Int, lambdas: [Float],
                             repetitions: Int) throws -> Sweep {
        let realigner = Realigner(pair: pair)
        let requests = lambdas.map {
            RealignmentRequest(prompt: prompt, lambda: $0, maxTokens: tokens, stopAtEndOfGeneration: false)
        }
        var result = Sweep(lambdas: lambdas.count, generatedTokens: lambdas.count * tokens, batchedSeconds: [],
                           sequentialSeconds: [], batchedDecodeSeconds: [], sequentialDecodeSeconds: [])
        for run in 0...repetitions {
            var start = Date()
            let (_, batched) = try realigner.generate(requests)
            let batchedSeconds = Date().timeIntervalSince(start)
            start = Date()
            var decode = 0.0, outputs: [[Int]] = [], rows = 0
            for request in requests {
                let (output, statistics) = try realigner.generate([request])
                decode += statistics.generationSeconds
                outputs.append(output[0].tokens)
                rows += statistics.rows - statistics.promptRows
            }
            let sequentialSeconds = Date().timeIntervalSince(start)
            result.distinctOutputs = Set(outputs).count
            result.sequentialStepRows = rows
            result.batchedStepRows = batched.rows - batched.promptRows
            guard run > 0 else { continue }
            result.batchedSeconds.append(batchedSeconds)
            result.batchedDecodeSeconds.append(batched.generationSeconds)
            result.sequentialSeconds.append(sequentialSeconds)
            result.sequentialDecodeSeconds.append(decode)
        }
        return result
    }
}
