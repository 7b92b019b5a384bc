import Foundation
import Inference
import Tokenization

/// Generates text from one model: prefill the prompt, then sample token by token until an
/// end-of-generation token or the token limit, streaming complete UTF-8 text as it goes. A convenience over
/// ``DecodingLoop`` with a lone model.
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
        try DecodingLimits.check(maxTokens: maxTokens)
        try sampling.validate()
        guard !prompt.isEmpty, maxTokens > 0 else { return ([], GenerationStatistics()) }
        let request = RealignmentRequest(prompt: prompt, lambda: 0, sampling: sampling, maxTokens: maxTokens,
                                         stopAtEndOfGeneration: stopAtEndOfGeneration)
        let (outputs, statistics) = try DecodingLoop(model: model, tokenizer: tokenizer).generate(
            [request], onPiece: { try onToken($0.token, $0.text) })
        return (outputs[0].tokens, statistics)
    }
}
