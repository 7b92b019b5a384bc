import Foundation
import Logging
import Realign
import Tokenization

/// A generated token's log-probability under the distribution it was drawn from (the DeRa mix at its lambda, or
/// the model alone), before temperature and truncation, with the most likely alternatives.
public struct TokenLogprob: Sendable, Codable, Equatable {
    public struct Alternative: Sendable, Codable, Equatable {
        public var token: String
        public var logprob: Double
        public var bytes: [UInt8]
    }
    public var token: String
    public var logprob: Double
    public var bytes: [UInt8]
    public var topLogprobs: [Alternative]

    enum CodingKeys: String, CodingKey { case token, logprob, bytes, topLogprobs = "top_logprobs" }
}

/// A piece of text one sequence of a job produced (text already cut at a stop sequence).
public struct EnginePiece: Sendable {
    /// The sequence within its job (0 for a job of one).
    public var sequence: Int
    public var text: String
    /// The token; -1 for text held back and released at the end.
    public var token: Int
    public var logprob: TokenLogprob?
}

/// What a job's stream carries: pieces as they are decoded, then the job's result.
public enum EngineEvent<Result: Sendable>: Sendable {
    case piece(EnginePiece)
    case finished(Result)
}

/// The work of one decode request.
public struct DecodeWork<Result: Sendable>: Sendable {
    /// How the job names itself in logs.
    public var id: String
    /// Runs on the engine's thread when the job's batch is assembled (retrieval and prompt building belong here:
    /// they use the engine's models): the sequences to decode, one per lambda.
    public var prepare: @Sendable () throws -> [RealignmentRequest]
    /// Log-probabilities of each token with this many alternatives (0: the token's own only); nil: none.
    public var logprobs: Int?
    /// Text at which a sequence stops (not included in its text).
    public var stops: [String] = []
    /// Runs on the engine's thread after the batch decoded: the job's result from its outputs (checking a grounded
    /// answer belongs here: it uses the engine's models).
    public var finish: @Sendable ([RealignedOutput]) throws -> Result

    public init(id: String, logprobs: Int? = nil, stops: [String] = [],
                prepare: @escaping @Sendable () throws -> [RealignmentRequest],
                finish: @escaping @Sendable ([RealignedOutput]) throws -> Result) {
        self.id = id
        self.prepare = prepare
        self.logprobs = logprobs
        self.stops = stops
        self.finish = finish
    }
}

/// Counters the health endpoint reports.
public struct EngineStatistics: Sendable, Codable, Equatable {
    public var waiting = 0
    public var running = 0
    public var batches = 0
    public var decodedSequences = 0
    /// The most sequences one forward pass decoded together.
    public var largestBatch = 0
    /// The most distinct lambdas one batch decoded together.
    public var mostLambdasInABatch = 0
    public var completed = 0
    public var failed = 0
    public var rejected = 0
    public var generatedTokens = 0

    enum CodingKeys: String, CodingKey {
        case waiting, running, batches, completed, failed, rejected
        case decodedSequences = "decoded_sequences", largestBatch = "largest_batch"
        case mostLambdasInABatch = "most_lambdas_in_a_batch", generatedTokens = "generated_tokens"
    }
}

/// The one owner of the model: a thread that takes queued jobs and decodes every decode job waiting together in
/// one ``DecodingLoop`` batch — different prompts, lambdas and sampling settings in the same forward passes, which
/// a server of a lone model with LoRA scales cannot do. Other work (checks, searches) runs alone between batches.
///
/// The queue is bounded: ``submit(_:)`` throws a 503 ``APIError`` when ``queueLimit`` jobs already wait behind a
/// busy engine. A job that waited longer than ``queueTimeout`` fails with a 503 instead of starting.
public final class Engine: @unchecked Sendable {
    public struct Limits: Sendable {
        /// Jobs that may wait while the engine is busy (0: only when idle).
        public var queueLimit = 64
        /// Most sequences decoded in one batch (a job's auto candidates count each).
        public var maxBatch = 16
        /// After waking for a job, how long to wait for others to batch with it.
        public var batchWindow = 0.02
        /// A job that has not started after this many seconds fails with 503.
        public var queueTimeout = 120.0
        /// A sequence still decoding after this many seconds is stopped (its finish reason is `length`).
        public var decodeTimeout = 300.0
        public init() {}
    }

    public let limits: Limits
    let loop: DecodingLoop
    let tokenizer: Tokenizer
    let logger: Logger

    private let condition = NSCondition()
    private var queue: [any QueuedJob] = []
    private var closed = false
    private var stopped = false
    private var statistics = EngineStatistics()
    private var thread: Thread?
    private var stopWaiters: [CheckedContinuation<Void, Never>] = []

    public init(loop: DecodingLoop, limits: Limits = Limits(), logger: Logger = Logger(label: "dera.engine")) {
        self.loop = loop
        self.tokenizer = loop.tokenizer
        self.limits = limits
        self.logger = logger
        // The thread keeps the engine alive until ``shutdown()`` lets it finish.
        let thread = Thread { self.run() }
        thread.name = "dera-engine"
        thread.stackSize = 8 << 20
        self.thread = thread
        thread.start()
    }

    public var snapshot: EngineStatistics {
        condition.lock()
        defer { condition.unlock() }
        var copy = statistics
        copy.waiting = queue.count
        return copy
    }

    public var isAccepting: Bool {
        condition.lock()
        defer { condition.unlock() }
        return !closed
    }

    /// Queues a decode job; its stream yields pieces, then the result. Cancelling the consumer (or dropping the
    /// stream) stops the job's sequences at their next token.
    public func submit<Result: Sendable>(_ work: DecodeWork<Result>) throws -> AsyncThrowingStream<EngineEvent<Result>, any Error> {
        let (stream, continuation) = AsyncThrowingStream<EngineEvent<Result>, any Error>.makeStream()
        let job = DecodeJob(work: work, continuation: continuation)
        continuation.onTermination = { _ in job.cancel() }
        try enqueue(job)
        return stream
    }

    /// Runs `body` on the engine's thread between batches (work that uses the engine's models) and returns its
    /// result; queued and bounded like decode jobs.
    public func perform<T: Sendable>(_ id: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        let (stream, continuation) = AsyncThrowingStream<T, any Error>.makeStream()
        let job = ExclusiveJob(id: id) {
            do { continuation.yield(try body()); continuation.finish() } catch { continuation.finish(throwing: error) }
        } fail: { continuation.finish(throwing: $0) }
        try enqueue(job)
        for try await value in stream { return value }
        throw APIError.server("the engine stopped before finishing \(id)")
    }

    private func enqueue(_ job: any QueuedJob) throws {
        condition.lock()
        defer { condition.unlock() }
        guard !closed else {
            statistics.rejected += 1
            throw APIError.overloaded("the server is shutting down")
        }
        let idle = statistics.running == 0 && queue.isEmpty
        if !idle && queue.count >= limits.queueLimit {
            statistics.rejected += 1
            throw APIError.overloaded("the queue is full (\(queue.count) waiting behind \(statistics.running) running, limit \(limits.queueLimit)); retry later")
        }
        queue.append(job)
        condition.signal()
    }

    /// Stops taking jobs; those queued still run. Returns when the engine's thread has finished them.
    public func shutdown() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            condition.lock()
            closed = true
            if stopped {
                condition.unlock()
                continuation.resume()
                return
            }
            stopWaiters.append(continuation)
            condition.broadcast()
            condition.unlock()
        }
    }

    // MARK: - The engine's thread

    private func run() {
        while let batch = nextBatch() {
            if let exclusive = batch.first as? ExclusiveJob {
                exclusive.body()
                finishBatch(completed: 1, failed: 0)
            } else {
                decode(batch.compactMap { $0 as? any DecodeJobProtocol })
            }
        }
        condition.lock()
        stopped = true
        let waiters = stopWaiters
        stopWaiters = []
        condition.unlock()
        for waiter in waiters { waiter.resume() }
    }

    /// Waits for work; takes an exclusive job alone, or decode jobs up to ``Limits/maxBatch`` sequences. Nil once
    /// closed and empty.
    private func nextBatch() -> [any QueuedJob]? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && !closed { condition.wait() }
        if queue.isEmpty { return nil }
        if queue[0] is ExclusiveJob {
            statistics.running = 1
            return [queue.removeFirst()]
        }
        // Give requests sent together a moment to arrive, so they share the batch.
        let deadline = Date().addingTimeInterval(limits.batchWindow)
        while !closed, sequencesAtFront() < limits.maxBatch, Date() < deadline {
            _ = condition.wait(until: deadline)
        }
        var taken: [any QueuedJob] = []
        var sequences = 0
        while let next = queue.first as? any DecodeJobProtocol,
              taken.isEmpty || sequences + next.expectedSequences <= limits.maxBatch {
            taken.append(queue.removeFirst())
            sequences += next.expectedSequences
        }
        statistics.running = taken.count
        return taken
    }

    private func sequencesAtFront() -> Int {
        var count = 0
        for job in queue {
            guard let job = job as? any DecodeJobProtocol else { break }
            count += job.expectedSequences
        }
        return count
    }

    private func finishBatch(completed: Int, failed: Int, sequences: Int = 0, lambdas: Int = 0, tokens: Int = 0) {
        condition.lock()
        statistics.running = 0
        statistics.completed += completed
        statistics.failed += failed
        if sequences > 0 {
            statistics.batches += 1
            statistics.decodedSequences += sequences
            statistics.largestBatch = max(statistics.largestBatch, sequences)
            statistics.mostLambdasInABatch = max(statistics.mostLambdasInABatch, lambdas)
            statistics.generatedTokens += tokens
        }
        condition.unlock()
    }

    private func decode(_ jobs: [any DecodeJobProtocol]) {
        var live: [any DecodeJobProtocol] = []
        var requests: [RealignmentRequest] = []
        var owners: [(job: Int, local: Int)] = []
        var failed = 0
        for job in jobs {
            if job.isCancelled { job.fail(CancellationError()); failed += 1; continue }
            let waited = Date().timeIntervalSince(job.enqueued)
            if waited > limits.queueTimeout {
                job.fail(APIError.overloaded(String(format: "the request waited %.0f s in the queue (limit %.0f s); retry later", waited, limits.queueTimeout)))
                failed += 1
                continue
            }
            do {
                let prepared = try job.prepare()
                guard !prepared.isEmpty else { throw APIError.server("\(job.id): nothing to decode") }
                for (i, request) in prepared.enumerated() {
                    try request.validate(request: prepared.count > 1 ? i : nil)
                    owners.append((live.count, i))
                }
                requests += prepared
                live.append(job)
            } catch {
                job.fail(error)
                failed += 1
            }
        }
        guard !requests.isEmpty else {
            finishBatch(completed: 0, failed: failed)
            return
        }
        let start = Date()
        let lambdas = Set(requests.map(\.policy.description)).count
        let v = tokenizer.vocabularySize
        let wantsRows = owners.map { live[$0.job].logprobs != nil }
        let rows = RowBuffer(count: wantsRows.contains(true) ? requests.count : 0)
        let observe: DecodingLoop.LogitObserver? = wantsRows.contains(true) ? { s, _, _, mixed in
            if wantsRows[s] { rows.store(s, mixed) }
        } : nil
        let deadline = start.addingTimeInterval(limits.decodeTimeout)
        do {
            let (outputs, statistics) = try loop.generate(requests, observe: observe, onPiece: { piece in
                let (j, local) = owners[piece.sequence]
                let job = live[j]
                if job.isCancelled { return false }
                var logprob: TokenLogprob?
                if piece.token >= 0, let alternatives = job.logprobs {
                    logprob = rows.logprob(piece.sequence, token: piece.token, alternatives: alternatives, vocabulary: v,
                                           tokenizer: tokenizer)
                }
                let more = job.deliver(EnginePiece(sequence: local, text: piece.text, token: piece.token, logprob: logprob))
                return more && Date() < deadline
            })
            var completed = 0
            for (j, job) in live.enumerated() {
                let mine = owners.indices.filter { owners[$0].job == j }.map { outputs[$0] }
                if job.complete(mine) { completed += 1 } else { failed += 1 }
            }
            logger.info("batch decoded", metadata: [
                "jobs": "\(live.count)", "sequences": "\(requests.count)", "lambdas": "\(lambdas)",
                "ids": "\(live.map(\.id).joined(separator: ","))",
                "tokens": "\(statistics.generatedTokens)", "steps": "\(statistics.steps)",
                "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(start)))",
            ])
            finishBatch(completed: completed, failed: failed, sequences: requests.count, lambdas: lambdas,
                        tokens: statistics.generatedTokens)
        } catch {
            logger.error("batch failed", metadata: ["jobs": "\(live.count)", "error": "\(error)"])
            for job in live { job.fail(error) }
            finishBatch(completed: 0, failed: failed + live.count)
        }
    }
}

// MARK: - Jobs

protocol QueuedJob: AnyObject, Sendable {
    var id: String { get }
    func fail(_ error: any Error)
}

/// A decode job seen without its result type.
protocol DecodeJobProtocol: QueuedJob {
    var enqueued: Date { get }
    var expectedSequences: Int { get }
    var logprobs: Int? { get }
    var isCancelled: Bool { get }
    func prepare() throws -> [RealignmentRequest]
    /// Passes a piece on (cut at a stop sequence); false stops the sequence.
    func deliver(_ piece: EnginePiece) -> Bool
    /// Finishes with the job's outputs; false when its `finish` failed.
    func complete(_ outputs: [RealignedOutput]) -> Bool
}

final class ExclusiveJob: QueuedJob, @unchecked Sendable {
    let id: String
    let body: @Sendable () -> Void
    let failure: @Sendable (any Error) -> Void
    init(id: String, body: @escaping @Sendable () -> Void, fail: @escaping @Sendable (any Error) -> Void) {
        self.id = id
        self.body = body
        self.failure = fail
    }
    func fail(_ error: any Error) { failure(error) }
}

final class DecodeJob<Result: Sendable>: DecodeJobProtocol, @unchecked Sendable {
    let work: DecodeWork<Result>
    let continuation: AsyncThrowingStream<EngineEvent<Result>, any Error>.Continuation
    let enqueued = Date()
    private let lock = NSLock()
    private var cancelled = false
    /// Per sequence: the text so far, how much of it was passed on, and whether a stop sequence ended it.
    private var texts: [String] = []
    private var sent: [String.Index] = []
    private var stopped: [Bool] = []
    private var sequences = 1

    init(work: DecodeWork<Result>, continuation: AsyncThrowingStream<EngineEvent<Result>, any Error>.Continuation) {
        self.work = work
        self.continuation = continuation
    }

    var id: String { work.id }
    var logprobs: Int? { work.logprobs }
    /// Until prepared, a job counts as one sequence; auto's candidates make it more.
    var expectedSequences: Int { lock.withLock { sequences } }
    var isCancelled: Bool { lock.withLock { cancelled } }
    func cancel() { lock.withLock { cancelled = true } }

    func prepare() throws -> [RealignmentRequest] {
        let requests = try work.prepare()
        lock.withLock {
            sequences = requests.count
            texts = Array(repeating: "", count: requests.count)
            sent = texts.map(\.startIndex)
            stopped = Array(repeating: false, count: requests.count)
        }
        return requests
    }

    func deliver(_ piece: EnginePiece) -> Bool {
        let s = piece.sequence
        guard !stopped[s] else { return false }
        guard !work.stops.isEmpty else {
            texts[s] += piece.text
            continuation.yield(.piece(piece))
            return true
        }
        texts[s] += piece.text
        let text = texts[s]
        if let hit = work.stops.compactMap({ text.range(of: $0, range: sent[s]..<text.endIndex)?.lowerBound }).min() {
            stopped[s] = true
            texts[s] = String(text[..<hit])
            emit(piece, upTo: hit)
            return false
        }
        // Hold back a tail that could still grow into a stop sequence.
        var release = text.endIndex
        for stop in work.stops {
            var length = min(stop.count - 1, text.distance(from: sent[s], to: text.endIndex))
            while length > 0 {
                let tail = text.index(text.endIndex, offsetBy: -length)
                if stop.hasPrefix(text[tail...]) { release = min(release, tail); break }
                length -= 1
            }
        }
        emit(piece, upTo: release)
        return true
    }

    private func emit(_ piece: EnginePiece, upTo end: String.Index) {
        let s = piece.sequence
        let text = texts[s]
        let end = min(end, text.endIndex)
        guard sent[s] < end || piece.logprob != nil else { return }
        var out = piece
        out.text = sent[s] < end ? String(text[sent[s]..<end]) : ""
        sent[s] = max(sent[s], end)
        continuation.yield(.piece(out))
    }

    func complete(_ outputs: [RealignedOutput]) -> Bool {
        var outputs = outputs
        for s in outputs.indices where !work.stops.isEmpty && s < texts.count {
            // Release a held-back tail; a sequence cut at a stop sequence keeps only the text before it.
            if sent[s] < texts[s].endIndex {
                continuation.yield(.piece(EnginePiece(sequence: s, text: String(texts[s][sent[s]...]), token: -1, logprob: nil)))
                sent[s] = texts[s].endIndex
            }
            if stopped[s] {
                outputs[s].text = texts[s]
                outputs[s].stoppedAtEndOfGeneration = true
            }
        }
        do {
            continuation.yield(.finished(try work.finish(outputs)))
            continuation.finish()
            return true
        } catch {
            continuation.finish(throwing: error)
            return false
        }
    }

    func fail(_ error: any Error) { continuation.finish(throwing: error) }
}

/// Copies of the rows tokens were drawn from, for their log-probabilities.
final class RowBuffer: @unchecked Sendable {
    private var rows: [[Float]]
    init(count: Int) { rows = Array(repeating: [], count: count) }

    func store(_ sequence: Int, _ row: UnsafeBufferPointer<Float>) {
        if rows[sequence].count != row.count { rows[sequence] = Array(row) } else {
            rows[sequence].withUnsafeMutableBufferPointer { _ = $0.initialize(from: row) }
        }
    }

    func logprob(_ sequence: Int, token: Int, alternatives: Int, vocabulary: Int, tokenizer: Tokenizer) -> TokenLogprob? {
        let row = rows[sequence]
        guard token < row.count else { return nil }
        var maximum = -Float.infinity
        for x in row where x > maximum { maximum = x }
        var sum = 0.0
        for x in row { sum += exp(Double(x - maximum)) }
        let logZ = Double(maximum) + log(sum)
        func entry(_ id: Int) -> TokenLogprob.Alternative {
            let bytes = tokenizer.pieceBytes(id)
            return .init(token: String(decoding: bytes, as: UTF8.self), logprob: Double(row[id]) - logZ, bytes: bytes)
        }
        var top: [Int] = []
        if alternatives > 0 {
            // Partial selection: keep the best `alternatives` indices in descending order.
            for id in row.indices {
                if top.count < alternatives || row[id] > row[top[top.count - 1]] {
                    let at = top.firstIndex { row[$0] < row[id] } ?? top.count
                    top.insert(id, at: at)
                    if top.count > alternatives { top.removeLast() }
                }
            }
        }
        let own = entry(token)
        return TokenLogprob(token: own.token, logprob: own.logprob, bytes: own.bytes, topLogprobs: top.map(entry))
    }
}
