import Foundation
import Inference
import Tokenization

/// Timings of one decoding run: prompt rows processed (a prompt shared by several requests counts once) and
/// tokens generated over all sequences.
public struct DecodingStatistics: Sendable, Equatable {
    public var promptTokens = 0
    public var promptSeconds = 0.0
    public var generatedTokens = 0
    public var generationSeconds = 0.0
    /// Forward passes of the decoding loop (after the prompts).
    public var steps = 0
    /// Token rows the model ran, prompts included, a row per side for a pair: a side that a fixed lambda of 0 or 1
    /// never reads is not run (without an observer).
    public var rows = 0
    /// Of ``rows``, those of the prompts (each distinct prompt once, per side any of its requests reads).
    public var promptRows = 0

    public init() {}

    public var promptTokensPerSecond: Double { promptSeconds > 0 ? Double(promptTokens) / promptSeconds : 0 }
    public var generationTokensPerSecond: Double {
        generationSeconds > 0 ? Double(generatedTokens) / generationSeconds : 0
    }
    public var totalSeconds: Double { promptSeconds + generationSeconds }
}

public typealias RealignmentStatistics = DecodingStatistics
public typealias GenerationStatistics = DecodingStatistics

/// The one decoding loop of dera: plain generation from one model and decoding-time realignment of a
/// reference/aligned pair, for one request or a batch of them.
///
/// At every step, for each live sequence, the loop asks the request's ``LambdaPolicy`` for lambda (it sees
/// both next-token rows), mixes `lambda * aligned + (1 - lambda) * reference` into a buffer kept for the
/// whole run, samples, and tells the policy which token was chosen. A lone model is the degenerate case: no
/// aligned rows are computed, nothing is mixed, and lambda is 0 (only `.fixed(0)` requests are accepted).
///
/// All sequences decode together, one row per sequence and side in each forward pass (a fixed lambda of 0 or 1
/// reads one side, so the other is not run unless an observer wants it). Requests that share a
/// prompt share its prefill, and after it their rows for as long as they draw the same tokens: the first of them
/// runs, the others read its rows, and one that draws another token takes a copy of the KV caches and runs its
/// own rows from there on. A sweep over lambdas or policies whose answers begin alike (or auto's candidates,
/// which mostly agree) costs one sequence until they part. Every row is computed as it would be alone, so a
/// batch gives the tokens of separate runs.
public struct DecodingLoop: Sendable {
    public enum Models: Sendable {
        case single(DecoderModel)
        case pair(RealignmentPair)
    }

    public let models: Models
    public let tokenizer: Tokenizer

    /// Decoding-time realignment of `pair`.
    public init(pair: RealignmentPair) {
        models = .pair(pair)
        tokenizer = pair.tokenizer
    }

    /// Plain generation from one model.
    public init(model: DecoderModel, tokenizer: Tokenizer) {
        models = .single(model)
        self.tokenizer = tokenizer
    }

    var vocabularySize: Int {
        switch models {
        case let .single(model): model.config.vocabularySize
        case let .pair(pair): pair.vocabularySize
        }
    }

    /// Sees each sequence's logits at every step: reference, aligned and their mix (before sampling). With a
    /// lone model all three are its row.
    public typealias LogitObserver = (_ sequence: Int, _ reference: UnsafeBufferPointer<Float>,
                                      _ aligned: UnsafeBufferPointer<Float>, _ mixed: UnsafeBufferPointer<Float>) -> Void

    /// One sequence's KV caches: the reference side, and the aligned side for a pair.
    struct Caches {
        var reference: KVCache
        var aligned: KVCache?
        func copy() -> Caches { Caches(reference: reference.copy(), aligned: aligned?.copy()) }
    }

    func makeCaches(capacity: Int) -> Caches {
        switch models {
        case let .single(model): return Caches(reference: model.makeCache(capacity: capacity), aligned: nil)
        case let .pair(pair):
            let both = pair.makeCaches(capacity: capacity)
            return Caches(reference: both.reference, aligned: both.aligned)
        }
    }

    /// Appends each feed's tokens and writes the next-token rows of the feeds' last tokens: reference rows
    /// first (`feeds.count` rows), then, for a pair, the aligned rows.
    func forward(_ feeds: [(caches: Caches, tokens: [Int])], logits: UnsafeMutablePointer<Float>,
                 sides: [RealignmentPair.Sides]? = nil) throws {
        switch models {
        case let .single(model):
            if feeds.count == 1 {
                try model.forward(DecoderBatch(prompt: feeds[0].tokens), caches: [feeds[0].caches.reference], logits: logits)
                return
            }
            var batch = DecoderBatch()
            for (s, feed) in feeds.enumerated() {
                for (i, token) in feed.tokens.enumerated() {
                    batch.append(token: token, sequence: s, wantsLogits: i == feed.tokens.count - 1)
                }
            }
            try model.forward(batch, caches: feeds.map(\.caches.reference), logits: logits)
        case let .pair(pair):
            try pair.forward(feeds.map { (SequenceCaches(reference: $0.caches.reference, aligned: $0.caches.aligned!), $0.tokens) },
                             logits: logits, sides: sides)
        }
    }

    /// Decodes a batch of requests.
    /// - Parameters:
    ///   - requests: the sequences; each may have its own prompt, policy, sampling and token limit.
    ///   - observe: called with every step's logits of every sequence (for tests and analysis).
    ///   - onPiece: called with each generated piece; return false to stop that sequence. Bytes still held back
    ///     at the end arrive in one last piece with token -1.
    /// - Returns: one output per request, in request order, and timings.
    /// - Throws: ``RealignmentError/emptyPrompt(request:)``; ``RealignmentError/noAlignedSide(request:)`` when a
    ///   lone model is given a lambda other than 0.
    public func generate(_ requests: [RealignmentRequest], observe: LogitObserver? = nil,
                         onPiece: (RealignedPiece) throws -> Bool = { _ in true }) throws
        -> (outputs: [RealignedOutput], statistics: DecodingStatistics) {
        var statistics = DecodingStatistics()
        guard !requests.isEmpty else { return ([], statistics) }
        if let empty = requests.firstIndex(where: { $0.prompt.isEmpty }) { throw RealignmentError.emptyPrompt(request: empty) }
        for (i, request) in requests.enumerated() { try request.validate(request: requests.count > 1 ? i : nil) }
        let realigning: Bool
        switch models {
        case .single:
            if let bad = requests.firstIndex(where: { $0.policy != .fixed(0) }) { throw RealignmentError.noAlignedSide(request: bad) }
            realigning = false
        case .pair: realigning = true
        }
        let v = vocabularySize, k = requests.count, sides = realigning ? 2 : 1
        // A fixed lambda of 0 or 1 reads one side only; the other is not run (an observer sees both).
        let needs = requests.map { realigning && observe == nil ? RealignmentPair.Sides(policy: $0.policy) : .both }
        func rows(_ tokens: Int, _ need: RealignmentPair.Sides) -> Int { realigning && need == .both ? 2 * tokens : tokens }

        // Prefill each distinct prompt once. Requests with the same prompt read its first request's rows for as long
        // as their tokens stay the same as its (`leader`); one that draws another token gets a copy of the caches
        // then and runs its own rows from there. A sweep of lambdas whose answers begin alike, or auto's
        // candidates that agree, pay for one sequence until they part.
        var start = Date()
        var firstOfPrompt: [[Int]: Int] = [:]
        var groups: [[Int]] = []
        for (i, request) in requests.enumerated() {
            if let group = firstOfPrompt[request.prompt] { groups[group].append(i) } else {
                firstOfPrompt[request.prompt] = groups.count
                groups.append([i])
            }
        }
        var caches = [Caches?](repeating: nil, count: k)
        // leader[s]: the sequence whose rows s reads because their tokens are the same so far (s itself when it
        // runs its own). Only a sequence that is its own leader holds caches; every leader comes before the
        // sequences that read it, in request order.
        var leader = Array(0..<k)
        // The rows of the last forward pass: reference row r, aligned row rowCount + r, for the r-th leader fed;
        // rowOf[s] is the row sequence s reads. Mixed rows go to `mixed`, row s.
        var rowOf = [Int](repeating: 0, count: k), rowCount = groups.count
        var logits = [Float](repeating: 0, count: sides * k * v)
        var mixed = [Float](repeating: 0, count: realigning ? k * v : 0)
        var prefill = [Float](repeating: 0, count: groups.count == 1 ? 0 : sides * v)
        for (g, group) in groups.enumerated() {
            let capacity = group.map { requests[$0].prompt.count + requests[$0].maxTokens }.max()!
            let first = makeCaches(capacity: capacity)
            let need = RealignmentPair.Sides(union: group.map { needs[$0] })
            if groups.count == 1 {
                try logits.withUnsafeMutableBufferPointer {
                    try forward([(first, requests[group[0]].prompt)], logits: $0.baseAddress!, sides: [need])
                }
            } else {
                try prefill.withUnsafeMutableBufferPointer {
                    try forward([(first, requests[group[0]].prompt)], logits: $0.baseAddress!, sides: [need])
                }
                logits.replaceSubrange((g * v)..<((g + 1) * v), with: prefill[0..<v])
                if realigning {
                    let row = rowCount + g
                    logits.replaceSubrange((row * v)..<((row + 1) * v), with: prefill[v..<(2 * v)])
                }
            }
            caches[group[0]] = first
            for s in group {
                leader[s] = group[0]
                rowOf[s] = g
            }
            statistics.promptTokens += requests[group[0]].prompt.count
            statistics.promptRows += rows(requests[group[0]].prompt.count, need)
        }
        statistics.rows = statistics.promptRows
        statistics.promptSeconds = Date().timeIntervalSince(start)

        start = Date()
        var samplers = requests.map { Sampler($0.sampling) }
        var policies = requests.map { $0.policy.makeStepPolicy() }
        for s in 0..<k { policies[s].reset(prompt: requests[s].prompt) }
        var detokenizers = requests.map { _ in StreamingDetokenizer(tokenizer: tokenizer) }
        var histories = requests.map(\.prompt)
        var generated = requests.map { request -> [Int] in
            var tokens: [Int] = []
            tokens.reserveCapacity(request.maxTokens)
            return tokens
        }
        var lambdas = requests.map { request -> [Float] in
            var values: [Float] = []
            values.reserveCapacity(request.maxTokens)
            return values
        }
        var texts = [String](repeating: "", count: k)
        var stoppedAtEnd = [Bool](repeating: false, count: k)
        // With a text stop: where each token's piece began and how much text was passed on (Unicode scalars).
        var stoppedAtText = [Bool](repeating: false, count: k)
        var pieceStarts = [[Int]](repeating: [], count: k), released = [Int](repeating: 0, count: k)
        var active = Array(0..<k), stillActive: [Int] = []
        stillActive.reserveCapacity(k)
        var drawn = [Int](repeating: 0, count: k)
        var feeds: [(caches: Caches, tokens: [Int])] = []
        feeds.reserveCapacity(k)
        var feedSides: [RealignmentPair.Sides] = []
        feedSides.reserveCapacity(k)
        // Per step: the new leader of each (old leader, token) and its row in the next pass.
        var parted: [Int: [Int: Int]] = [:]
        let endOfGeneration = tokenizer.endOfGenerationIDs
        while !active.isEmpty {
            let rowsRun = rowCount
            feeds.removeAll(keepingCapacity: true)
            feedSides.removeAll(keepingCapacity: true)
            stillActive.removeAll(keepingCapacity: true)
            for s in active {
                let j = rowOf[s]
                var lambda: Float = 0
                let token = logits.withUnsafeMutableBufferPointer { all -> Int in
                    let reference = UnsafeMutableBufferPointer(start: all.baseAddress! + j * v, count: v)
                    guard realigning else {
                        observe?(s, UnsafeBufferPointer(reference), UnsafeBufferPointer(reference), UnsafeBufferPointer(reference))
                        // The sampler copies what it reads, so sequences sharing a row leave it as it was.
                        return samplers[s].sample(reference, history: histories[s])
                    }
                    let aligned = UnsafeBufferPointer(start: all.baseAddress! + (rowsRun + j) * v, count: v)
                    lambda = policies[s].lambda(reference: UnsafeBufferPointer(reference), aligned: aligned)
                    // A custom policy is outside the request checks: keep its answer inside DecodingLimits (NaN is
                    // the reference), so no step can mix in a non-finite or runaway lambda.
                    if !DecodingLimits.lambda.contains(lambda) {
                        lambda = lambda.isNaN ? 0 : min(max(lambda, DecodingLimits.lambda.lowerBound), DecodingLimits.lambda.upperBound)
                    }
                    return mixed.withUnsafeMutableBufferPointer { out -> Int in
                        let row = UnsafeMutableBufferPointer(rebasing: out[(s * v)..<((s + 1) * v)])
                        LogitMix.mix(aligned: aligned.baseAddress!, reference: reference.baseAddress!, lambda: lambda,
                                     count: v, into: row.baseAddress!)
                        observe?(s, UnsafeBufferPointer(reference), aligned, UnsafeBufferPointer(row))
                        return samplers[s].sample(row, history: histories[s])
                    }
                }
                if realigning { policies[s].accept(token) }
                if requests[s].stopAtEndOfGeneration, endOfGeneration.contains(token) {
                    stoppedAtEnd[s] = true
                    continue
                }
                generated[s].append(token)
                lambdas[s].append(lambda)
                histories[s].append(token)
                var piece = detokenizers[s].append(token)
                if let rule = requests[s].textStop {
                    pieceStarts[s].append(texts[s].unicodeScalars.count)
                    texts[s] += piece
                    let (stop, settled) = rule.scan(texts[s])
                    piece = Self.release(texts[s], from: &released[s], to: settled)
                    if let stop {
                        stoppedAtText[s] = true
                        Self.cut(&texts[s], at: stop, tokens: &generated[s], lambdas: &lambdas[s], starts: pieceStarts[s])
                    }
                } else {
                    texts[s] += piece
                }
                guard try onPiece(RealignedPiece(sequence: s, token: token, text: piece)), !stoppedAtText[s],
                      generated[s].count < requests[s].maxTokens else { continue }
                stillActive.append(s)
                drawn[s] = token
            }
            // Sequences that read one row and drew the same token still share a history: the first of them (the
            // old leader when it goes on) leads; one that parts from its leader's caches gets a copy of them.
            parted.removeAll(keepingCapacity: true)
            for s in stillActive {
                let old = leader[s]
                if let next = parted[old]?[drawn[s]] {
                    leader[s] = next
                    rowOf[s] = rowOf[next]
                    feedSides[rowOf[next]] = RealignmentPair.Sides(union: [feedSides[rowOf[next]], needs[s]])
                    continue
                }
                if old != s { caches[s] = caches[old]!.copy() }
                leader[s] = s
                rowOf[s] = feeds.count
                parted[old, default: [:]][drawn[s]] = s
                feeds.append((caches[s]!, [drawn[s]]))
                feedSides.append(needs[s])
            }
            // A leader that stopped lets go of its caches (the sequences that went on hold copies).
            for s in active where leader[s] == s && caches[s] != nil && !stillActive.contains(s) { caches[s] = nil }
            rowCount = feeds.count
            if !feeds.isEmpty {
                // The feeds, in order, refill the rows.
                try logits.withUnsafeMutableBufferPointer { try forward(feeds, logits: $0.baseAddress!, sides: feedSides) }
                statistics.steps += 1
                statistics.rows += feedSides.reduce(0) { $0 + rows(1, $1) }
            }
            swap(&active, &stillActive)
        }
        for s in 0..<k where !stoppedAtText[s] {
            var rest = detokenizers[s].finish()
            texts[s] += rest
            if requests[s].textStop != nil {
                // Text held back for a rule that can no longer fire goes out now.
                rest = Self.release(texts[s], from: &released[s], to: texts[s].unicodeScalars.count)
            }
            if !rest.isEmpty { _ = try onPiece(RealignedPiece(sequence: s, token: -1, text: rest)) }
        }
        statistics.generatedTokens = generated.reduce(0) { $0 + $1.count }
        statistics.generationSeconds = Date().timeIntervalSince(start)
        let outputs = (0..<k).map {
            RealignedOutput(policy: requests[$0].policy, tokens: generated[$0], text: texts[$0], lambdas: lambdas[$0],
                            stoppedAtEndOfGeneration: stoppedAtEnd[$0], stoppedAtText: stoppedAtText[$0])
        }
        return (outputs, statistics)
    }

    /// The text from scalar `released` to scalar `end` of `text` (empty when there is none), and `released`
    /// moved to `end`.
    static func release(_ text: String, from released: inout Int, to end: Int) -> String {
        guard end > released else { return "" }
        let scalars = text.unicodeScalars
        let from = scalars.index(scalars.startIndex, offsetBy: released), to = scalars.index(from, offsetBy: end - released)
        released = end
        return String(scalars[from..<to])
    }

    /// Cuts `text` at scalar `stop` (trailing whitespace dropped) and drops the tokens whose piece began there
    /// or later, with their lambdas.
    static func cut(_ text: inout String, at stop: Int, tokens: inout [Int], lambdas: inout [Float], starts: [Int]) {
        let scalars = text.unicodeScalars
        var kept = String(String.UnicodeScalarView(scalars.prefix(stop)))
        while let last = kept.unicodeScalars.last, last.properties.isWhitespace { kept.unicodeScalars.removeLast() }
        text = kept
        let keep = starts.firstIndex { $0 >= stop } ?? tokens.count
        tokens.removeLast(tokens.count - keep)
        lambdas.removeLast(lambdas.count - keep)
    }

    /// The pieces of a batch as an asynchronous sequence. Decoding runs on its own thread; cancelling the
    /// consuming task (or dropping the stream) stops it at the next token.
    public func stream(_ requests: [RealignmentRequest]) -> AsyncThrowingStream<RealignedPiece, Error> {
        AsyncThrowingStream { continuation in
            let cancelled = CancellationFlag()
            continuation.onTermination = { _ in cancelled.set() }
            let loop = self
            Thread.detachNewThread {
                do {
                    _ = try loop.generate(requests, onPiece: { piece in
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
