import Foundation
import Inference
import Tokenization

/// Timings of one generation, for the tokens/s figures `dera generate` prints.
public struct GenerationStatistics: Sendable, Equatable {
    public var promptTokens = 0
    public var promptSeconds = 0.0
    public var generatedTokens = 0
    public var generationSeconds = 0.0
    public var stoppedAtEndOfGeneration = false

    public var promptTokensPerSecond: Double { promptSeconds > 0 ? Double(promptTokens) / promptSeconds : 0 }
    public var generationTokensPerSecond: Double {
        generationSeconds > 0 ? Double(generatedTokens) / generationSeconds : 0
    }
}

/// Generates text from one model: prefill the prompt, then sample token by token until an
/// end-of-generation token or the token limit, streaming complete UTF-8 text as it goes.
public struct TextGenerator: Sendable {
    public let model: DecoderModel
    public let tokenizer: Tokenizer

    public init(model: DecoderModel, tokenizer: Tokenizer) {
        self.model = model
        self.tokenizer = tokenizer
    }

    public init(bundle: ModelBundle) {
        self.init(model: bundle.model, tokenizer: bundle.tokenizer)
    }

    /// Runs a generation.
    /// - Parameters:
    ///   - prompt: token ids of the prompt (with BOS if the model wants one).
    ///   - maxTokens: most tokens to generate.
    ///   - sampling: how tokens are chosen.
    ///   - stopAtEndOfGeneration: false keeps going past end-of-generation tokens (for benchmarks that need a
    ///     fixed length).
    ///   - onToken: called with each token id and the text it completes (empty while a UTF-8 sequence is
    ///     incomplete); return false to stop. Bytes still held back at the end arrive in one last call with
    ///     token id -1.
    /// - Returns: the generated token ids and timings.
    /// - Throws: ``DecodingParameterError`` when `maxTokens` or `sampling` is outside ``DecodingLimits``.
    @discardableResult
    public func generate(prompt: [Int], maxTokens: Int, sampling: SamplingParameters = .greedy,
                         stopAtEndOfGeneration: Bool = true,
                         onToken: (Int, String) throws -> Bool = { _, _ in true }) throws
        -> (tokens: [Int], statistics: GenerationStatistics) {
        var statistics = GenerationStatistics()
        try DecodingLimits.check(maxTokens: maxTokens)
        try sampling.validate()
        guard !prompt.isEmpty else { return ([], statistics) }
        let cache = model.makeCache(capacity: prompt.count + maxTokens)
        var sampler = Sampler(sampling)
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        var logits = [Float](repeating: 0, count: model.config.vocabularySize)
        var generated: [Int] = []
        var history = prompt

        var start = Date()
        try logits.withUnsafeMutableBufferPointer { buffer in
            try model.forward(DecoderBatch(prompt: prompt), caches: [cache], logits: buffer.baseAddress!)
        }
        statistics.promptTokens = prompt.count
        statistics.promptSeconds = Date().timeIntervalSince(start)
        start = Date()
        while generated.count < maxTokens {
            let token = logits.withUnsafeMutableBufferPointer { sampler.sample($0, history: history) }
            if stopAtEndOfGeneration, tokenizer.endOfGenerationIDs.contains(token) {
                statistics.stoppedAtEndOfGeneration = true
                break
            }
            generated.append(token)
            history.append(token)
            guard try onToken(token, detokenizer.append(token)) else { break }
            if generated.count == maxTokens { break }
            var batch = DecoderBatch()
            batch.append(token: token, sequence: 0, wantsLogits: true)
            try logits.withUnsafeMutableBufferPointer { buffer in
                try model.forward(batch, caches: [cache], logits: buffer.baseAddress!)
            }
        }
        let rest = detokenizer.finish()
        if !rest.isEmpty { _ = try onToken(-1, rest) }
        statistics.generatedTokens = generated.count
        statistics.generationSeconds = Date().timeIntervalSince(start)
        return (generated, statistics)
    }
}
