import Foundation

/// Prompt-processing and generation speed of a model, measured the way llama-bench does: `pp` prefills a
/// batch of random tokens into an empty cache, `tg` decodes tokens one at a time from an empty cache.
public struct SpeedMeasurement: Sendable, Equatable {
    public var test: String
    public var workers: Int
    /// Tokens per second of each repetition.
    public var samples: [Double]

    public var mean: Double { samples.reduce(0, +) / Double(max(samples.count, 1)) }
    /// The middle sample (the mean of the two middle ones for an even count); 0 without samples.
    public var median: Double { Self.median(samples) }

    public static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted(), middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
    public var standardDeviation: Double {
        guard samples.count > 1 else { return 0 }
        let m = mean
        return (samples.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(samples.count - 1)).squareRoot()
    }
}

extension DecoderModel {
    /// Measures prefill of `promptTokens` tokens and decoding of `generatedTokens` tokens, `repetitions`
    /// times each after one warm-up (unless `warmUp` is false), with the current worker count.
    public func measureSpeed(promptTokens: Int = 128, generatedTokens: Int = 64,
                             repetitions: Int = 3, warmUp: Bool = true, seed: UInt64 = 1) throws -> [SpeedMeasurement] {
        var state = seed
        func randomToken() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33) % config.vocabularySize
        }
        var results: [SpeedMeasurement] = []
        if promptTokens > 0 {
            var samples: [Double] = []
            for repetition in (warmUp ? 0 : 1)...repetitions {
                let tokens = (0..<promptTokens).map { _ in randomToken() }
                let cache = makeCache(capacity: promptTokens)
                let start = Date()
                _ = try forward(DecoderBatch(prompt: tokens), caches: [cache])
                let seconds = Date().timeIntervalSince(start)
                if repetition > 0 { samples.append(Double(promptTokens) / seconds) }
            }
            results.append(SpeedMeasurement(test: "pp\(promptTokens)", workers: workers, samples: samples))
        }
        if generatedTokens > 0 {
            var samples: [Double] = []
            var logits = [Float](repeating: 0, count: config.vocabularySize)
            for repetition in (warmUp ? 0 : 1)...repetitions {
                let cache = makeCache(capacity: generatedTokens)
                let start = Date()
                var token = randomToken()
                for _ in 0..<generatedTokens {
                    var batch = DecoderBatch()
                    batch.append(token: token, sequence: 0, wantsLogits: true)
                    try logits.withUnsafeMutableBufferPointer {
                        try forward(batch, caches: [cache], logits: $0.baseAddress!)
                    }
                    token = randomToken()
                }
                let seconds = Date().timeIntervalSince(start)
                if repetition > 0 { samples.append(Double(generatedTokens) / seconds) }
            }
            results.append(SpeedMeasurement(test: "tg\(generatedTokens)", workers: workers, samples: samples))
        }
        return results
    }
}
