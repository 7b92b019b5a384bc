import Foundation
import Inference
import Tokenization

/// One sequence to decode with realignment: a prompt, the mixing strength and how to sample.
public struct RealignmentRequest: Sendable, Equatable {
    public var prompt: [Int]
    /// 0 = the reference model, 1 = the aligned model, > 1 extrapolates past it.
    public var lambda: Float
    public var sampling: SamplingParameters
    public var maxTokens: Int
    /// False keeps decoding past end-of-generation tokens (benchmarks that need a fixed length).
    public var stopAtEndOfGeneration: Bool

    public init(prompt: [Int], lambda: Float, sampling: SamplingParameters = .greedy, maxTokens: Int = 256,
                stopAtEndOfGeneration: Bool = true) {
        self.prompt = prompt
        self.lambda = lambda
        self.sampling = sampling
        self.maxTokens = maxTokens
        self.stopAtEndOfGeneration = stopAtEndOfGeneration
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
    public var lambda: Float
    public var tokens: [Int]
    public var text: String
    public var stoppedAtEndOfGeneration: Bool
}

/// Timings of one batched realignment: prompt rows processed (a prompt shared by several requests counts
/// once per side) and tokens generated over all sequences.
public struct RealignmentStatistics: Sendable, Equatable {
    public var promptTokens = 0
    public var promptSeconds = 0.0
    public var generatedTokens = 0
    public var generationSeconds = 0.0
    /// Forward passes of the decoding loop.
    public var steps = 0

    public var generationTokensPerSecond: Double {
        generationSeconds > 0 ? Double(generatedTokens) / generationSeconds : 0
    }
    public var totalSeconds: Double { promptSeconds + generationSeconds }
}

/// Decoding-time realignment: decodes from `softmax(lambda * h_aligned + (1 - lambda) * h_reference)` token by
/// token, for one request or a batch of them.
///
/// A batch decodes all its sequences together, one row per sequence and side in each forward pass. Requests
/// that share a prompt share its prefill: the prompt is run once and the KV caches copied, which is what makes
/// a sweep over lambda cheap.
///
/// ```swift
/// let pair = try RealignmentPair.open(reference: "models/SmolLM2-135M-Instruct.Q4_1.gguf",
///                                     adapter: "models/adapters/smollm2-dpo-beta0.1")
/// let realigner = Realigner(pair: pair)
/// let sweep = [0, 0.5, 1, 2].map { RealignmentRequest(prompt: ids, lambda: $0) }
/// let (outputs, _) = try realigner.generate(sweep)
/// ```
public struct Realigner: Sendable {
    public let pair: RealignmentPair

    public init(pair: RealignmentPair) { self.pair = pair }

    /// Sees each sequence's logits at every step: reference, aligned and their mix (before sampling).
    public typealias LogitObserver = (_ sequence: Int, _ reference: UnsafeBufferPointer<Float>,
                                      _ aligned: UnsafeBufferPointer<Float>, _ mixed: UnsafeBufferPointer<Float>) -> Void

    /// Decodes a batch of requests.
    ///
    /// - Throws: ``DecodingParameterError`` before any work when a request's lambda, token limit or sampling is
    ///   outside ``DecodingLimits`` (a NaN or infinite lambda, `maxTokens` below 1, ...).
    /// - Parameters:
    ///   - requests: the sequences; each may have its own prompt, lambda, sampling and token limit.
    ///   - observe: called with every step's logits of every sequence (for tests and analysis).
    ///   - onPiece: called with each generated piece; return false to stop that sequence.
    /// - Returns: one output per request, in request order, and timings.
    public func generate(_ requests: [RealignmentRequest], observe: LogitObserver? = nil,
                         onPiece: (RealignedPiece) throws -> Bool = { _ in true }) throws
        -> (outputs: [RealignedOutput], statistics: RealignmentStatistics) {
        var statistics = RealignmentStatistics()
        guard !requests.isEmpty else { return ([], statistics) }
        if let empty = requests.firstIndex(where: { $0.prompt.isEmpty }) { throw RealignmentError.emptyPrompt(request: empty) }
        for (i, request) in requests.enumerated() { try request.validate(request: requests.count > 1 ? i : nil) }
        let v = pair.vocabularySize, k = requests.count

        // Prefill each distinct prompt once; requests with the same prompt start from copies of its caches.
        var start = Date()
        var firstOfPrompt: [[Int]: Int] = [:]
        var groups: [[Int]] = []
        for (i, request) in requests.enumerated() {
            if let group = firstOfPrompt[request.prompt] { groups[group].append(i) } else {
                firstOfPrompt[request.prompt] = groups.count
                groups.append([i])
            }
        }
        var caches = [SequenceCaches?](repeating: nil, count: k)
        // The j-th live sequence's reference logits are row j, its aligned logits row live + j (live = how many
        // sequences are still decoding): the layout RealignmentPair.forward writes, so steps write here directly.
        // After the prefill every sequence is live, in request order. Mixed logits go to `mixed`, row s.
        var logits = [Float](repeating: 0, count: 2 * k * v)
        var mixed = [Float](repeating: 0, count: k * v)
        for group in groups {
            let capacity = group.map { requests[$0].prompt.count + requests[$0].maxTokens }.max()!
            let first = pair.makeCaches(capacity: capacity)
            var prefill = [Float](repeating: 0, count: 2 * v)
            try prefill.withUnsafeMutableBufferPointer { buffer in
                try pair.forward([(first, requests[group[0]].prompt)], logits: buffer.baseAddress!)
            }
            statistics.promptTokens += requests[group[0]].prompt.count
            for (n, s) in group.enumerated() {
                caches[s] = n == 0 ? first : first.copy()
                logits.replaceSubrange((s * v)..<((s + 1) * v), with: prefill[0..<v])
                logits.replaceSubrange(((k + s) * v)..<((k + s + 1) * v), with: prefill[v..<(2 * v)])
            }
        }
        statistics.promptSeconds = Date().timeIntervalSince(start)

        start = Date()
        var samplers = requests.map { Sampler($0.sampling) }
        var detokenizers = requests.map { _ in StreamingDetokenizer(tokenizer: pair.tokenizer) }
        var histories = requests.map(\.prompt)
        var generated = [[Int]](repeating: [], count: k)
        var texts = [String](repeating: "", count: k)
        var stoppedAtEnd = [Bool](repeating: false, count: k)
        var active = Array(0..<k)
        while !active.isEmpty {
            let live = active.count
            var feeds: [(caches: SequenceCaches, tokens: [Int])] = []
            var stillActive: [Int] = []
            for (j, s) in active.enumerated() {
                let token = logits.withUnsafeMutableBufferPointer { all -> Int in
                    let reference = all.baseAddress! + j * v, aligned = all.baseAddress! + (live + j) * v
                    mixed.withUnsafeMutableBufferPointer { out in
                        LogitMix.mix(aligned: aligned, reference: reference, lambda: requests[s].lambda,
                                     count: v, into: out.baseAddress! + s * v)
                    }
                    if let observe {
                        mixed.withUnsafeBufferPointer { out in
                            observe(s, UnsafeBufferPointer(start: reference, count: v),
                                    UnsafeBufferPointer(start: aligned, count: v),
                                    UnsafeBufferPointer(rebasing: out[(s * v)..<((s + 1) * v)]))
                        }
                    }
                    return mixed.withUnsafeMutableBufferPointer { out in
                        samplers[s].sample(UnsafeMutableBufferPointer(rebasing: out[(s * v)..<((s + 1) * v)]),
                                           history: histories[s])
                    }
                }
                if requests[s].stopAtEndOfGeneration, pair.tokenizer.endOfGenerationIDs.contains(token) {
                    stoppedAtEnd[s] = true
                    continue
                }
                generated[s].append(token)
                histories[s].append(token)
                let piece = detokenizers[s].append(token)
                texts[s] += piece
                guard try onPiece(RealignedPiece(sequence: s, token: token, text: piece)),
                      generated[s].count < requests[s].maxTokens else { continue }
                stillActive.append(s)
                feeds.append((caches[s]!, [token]))
            }
            if !feeds.isEmpty {
                // Every live sequence was read above; the feeds, in stillActive order, refill the rows.
                try logits.withUnsafeMutableBufferPointer { try pair.forward(feeds, logits: $0.baseAddress!) }
                statistics.steps += 1
            }
            active = stillActive
        }
        for s in 0..<k {
            let rest = detokenizers[s].finish()
            if !rest.isEmpty {
                texts[s] += rest
                _ = try onPiece(RealignedPiece(sequence: s, token: -1, text: rest))
            }
        }
        statistics.generatedTokens = generated.reduce(0) { $0 + $1.count }
        statistics.generationSeconds = Date().timeIntervalSince(start)
        let outputs = (0..<k).map {
            RealignedOutput(lambda: requests[$0].lambda, tokens: generated[$0], text: texts[$0],
                            stoppedAtEndOfGeneration: stoppedAtEnd[$0])
        }
        return (outputs, statistics)
    }

    /// Decodes one prompt at one lambda.
    public func generate(prompt: [Int], lambda: Float, maxTokens: Int, sampling: SamplingParameters = .greedy,
                         onPiece: (RealignedPiece) throws -> Bool = { _ in true }) throws
        -> (output: RealignedOutput, statistics: RealignmentStatistics) {
        let (outputs, statistics) = try generate(
            [RealignmentRequest(prompt: prompt, lambda: lambda, sampling: sampling, maxTokens: maxTokens)],
            onPiece: onPiece)
        return (outputs[0], statistics)
    }

    /// The pieces of a batch as an asynchronous sequence. Decoding runs on its own thread; cancelling the
    /// consuming task (or dropping the stream) stops it at the next token.
    public func stream(_ requests: [RealignmentRequest]) -> AsyncThrowingStream<RealignedPiece, Error> {
        AsyncThrowingStream { continuation in
            let cancelled = CancellationFlag()
            continuation.onTermination = { _ in cancelled.set() }
            let realigner = self
            Thread.detachNewThread {
                do {
                    _ = try realigner.generate(requests, onPiece: { piece in
                        continuation.yield(piece)
                        return !cancelled.isSet
                    })
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
        }
    }
}

/// A flag set from one thread and read from another.
final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
