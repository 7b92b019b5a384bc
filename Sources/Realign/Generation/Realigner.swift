import Foundation
import Inference
import Tokenization

/// One sequence to decode: a prompt, how lambda is chosen at each step, and how to sample.
public struct RealignmentRequest: Sendable, Equatable {
    public var prompt: [Int]
    /// How lambda is chosen at each step; ``LambdaPolicy/fixed(_:)`` is DeRa as the paper defines it
    /// (0 = the reference model, 1 = the aligned model, > 1 extrapolates past it).
    public var policy: LambdaPolicy
    public var sampling: SamplingParameters
    public var maxTokens: Int
    /// False keeps decoding past end-of-generation tokens (benchmarks that need a fixed length).
    public var stopAtEndOfGeneration: Bool
    /// Rules on the text that end the sequence early (``TextStop``); nil decodes to an end-of-generation token
    /// or the limit.
    public var textStop: TextStop?

    public init(prompt: [Int], policy: LambdaPolicy, sampling: SamplingParameters = .greedy, maxTokens: Int = 256,
                stopAtEndOfGeneration: Bool = true, textStop: TextStop? = nil) {
        self.prompt = prompt
        self.policy = policy
        self.sampling = sampling
        self.maxTokens = maxTokens
        self.stopAtEndOfGeneration = stopAtEndOfGeneration
        self.textStop = textStop
    }

    /// A request at one fixed lambda (`policy: .fixed(lambda)`).
    public init(prompt: [Int], lambda: Float, sampling: SamplingParameters = .greedy, maxTokens: Int = 256,
                stopAtEndOfGeneration: Bool = true, textStop: TextStop? = nil) {
        self.init(prompt: prompt, policy: .fixed(lambda), sampling: sampling, maxTokens: maxTokens,
                  stopAtEndOfGeneration: stopAtEndOfGeneration, textStop: textStop)
    }
}

/// A piece of streamed output: the token a sequence produced and the text it completes (empty while a UTF-8
/// sequence is incomplete). A last piece with token -1 flushes bytes held back at the end.
public struct RealignedPiece: Sendable, Equatable {
    /// Index of the request in the batch.
    public var sequence: Int
    public var token: Int
    public var text: String
}

/// What one request produced.
public struct RealignedOutput: Sendable, Equatable {
    public var policy: LambdaPolicy
    public var tokens: [Int]
    public var text: String
    /// The lambda each token was chosen with (`lambdas[i]` for `tokens[i]`); 0 throughout for a lone model.
    public var lambdas: [Float]
    public var stoppedAtEndOfGeneration: Bool
    /// The request's ``TextStop`` ended it (its text is cut where the rule fired; tokens from there on are
    /// dropped).
    public var stoppedAtText = false

    /// Ended by the model or a stop rule, not by the token limit.
    public var finished: Bool { stoppedAtEndOfGeneration || stoppedAtText }

    /// The mean of ``lambdas`` (the policy's fixed lambda when nothing was generated).
    public var meanLambda: Float {
        guard !lambdas.isEmpty else { return policy.fixedLambda ?? 0 }
        return Float(lambdas.reduce(0.0) { $0 + Double($1) } / Double(lambdas.count))
    }
}

/// Decoding-time realignment: decodes from `softmax(lambda * h_aligned + (1 - lambda) * h_reference)` token by
/// token, for one request or a batch of them, with lambda chosen per step by each request's ``LambdaPolicy``.
/// The pair's face of the ``DecodingLoop``.
///
/// ```swift
/// let pair = try RealignmentPair.open(reference: "models/SmolLM2-135M-Instruct.Q4_1.gguf",
///                                     adapter: "models/adapters/smollm2-dpo-beta0.1")
/// let realigner = Realigner(pair: pair)
/// var sweep = [0, 0.5, 1, 2].map { RealignmentRequest(prompt: ids, lambda: $0) }
/// sweep.append(RealignmentRequest(prompt: ids, policy: .divergence(DivergenceLambda())))
/// let (outputs, _) = try realigner.generate(sweep)     // outputs[4].lambdas: the lambda of every token
/// ```
public struct Realigner: Sendable {
    public let pair: RealignmentPair
    public let loop: DecodingLoop

    public init(pair: RealignmentPair) {
        self.pair = pair
        loop = DecodingLoop(pair: pair)
    }

    public typealias LogitObserver = DecodingLoop.LogitObserver

    /// Decodes a batch of requests (``DecodingLoop/generate(_:observe:onPiece:)``).
    ///
    /// - Throws: ``DecodingParameterError`` before any work when a request's lambda (or policy bounds), token
    ///   limit or sampling is outside ``DecodingLimits`` (a NaN or infinite lambda, `maxTokens` below 1, ...).
    /// - Parameters:
    ///   - requests: the sequences; each may have its own prompt, policy, sampling and token limit.
    ///   - observe: called with every step's logits of every sequence (for tests and analysis).
    ///   - onPiece: called with each generated piece; return false to stop that sequence.
    /// - Returns: one output per request, in request order, and timings.
    public func generate(_ requests: [RealignmentRequest], observe: LogitObserver? = nil,
                         onPiece: (RealignedPiece) throws -> Bool = { _ in true }) throws
        -> (outputs: [RealignedOutput], statistics: RealignmentStatistics) {
        try loop.generate(requests, observe: observe, onPiece: onPiece)
    }

    /// Decodes one prompt at one lambda.
    public func generate(prompt: [Int], lambda: Float, maxTokens: Int, sampling: SamplingParameters = .greedy,
                         onPiece: (RealignedPiece) throws -> Bool = { _ in true }) throws
        -> (output: RealignedOutput, statistics: RealignmentStatistics) {
        try generate(prompt: prompt, policy: .fixed(lambda), maxTokens: maxTokens, sampling: sampling, onPiece: onPiece)
    }

    /// Decodes one prompt with one policy.
    public func generate(prompt: [Int], policy: LambdaPolicy, maxTokens: Int, sampling: SamplingParameters = .greedy,
                         onPiece: (RealignedPiece) throws -> Bool = { _ in true }) throws
        -> (output: RealignedOutput, statistics: RealignmentStatistics) {
        let (outputs, statistics) = try generate(
            [RealignmentRequest(prompt: prompt, policy: policy, sampling: sampling, maxTokens: maxTokens)],
            onPiece: onPiece)
        return (outputs[0], statistics)
    }

    /// The pieces of a batch as an asynchronous sequence. Decoding runs on its own thread; cancelling the
    /// consuming task (or dropping the stream) stops it at the next token.
    public func stream(_ requests: [RealignmentRequest]) -> AsyncThrowingStream<RealignedPiece, Error> {
        loop.stream(requests)
    }
}
