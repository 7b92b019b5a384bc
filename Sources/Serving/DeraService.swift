import Control
import Factuality
import Foundation
import Inference
import Logging
import Pipelines
import Realign
import Retrieval
import Tokenization

/// The request handling of `dera serve` without HTTP: requests are checked and turned into engine jobs here.
public final class DeraService: Sendable {
    public let setup: ServingSetup
    public let engine: Engine
    let logger: Logger
    let created = Int(Date().timeIntervalSince1970)

    public init(setup: ServingSetup, logger: Logger = Logger(label: "dera.serve")) {
        self.setup = setup
        self.logger = logger
        var engineLogger = logger
        engineLogger[metadataKey: "component"] = "engine"
        engine = Engine(loop: setup.decodingLoop, limits: setup.engine, logger: engineLogger)
    }

    var limits: RequestLimits { setup.limits }
    var realigning: Bool { setup.pair != nil }

    // MARK: - Checking values

    func store(named name: String?, param: String) throws -> ServedStore {
        guard let name else {
            guard let first = setup.stores.first else {
                throw APIError.invalid("this server was started without a passage store (dera serve --db STORE)", param: param, code: "no_store")
            }
            return first
        }
        if let store = setup.stores.first(where: { $0.name == name || $0.path == name }) { return store }
        throw APIError.invalid("unknown store '\(name)'; this server has: \(setup.stores.map(\.name).joined(separator: ", "))",
                               param: param, code: "unknown_store")
    }

    func passages(_ k: Int?, param: String, default fallback: Int) throws -> Int {
        guard let k else { return fallback }
        guard (1...limits.maxPassages).contains(k) else {
            throw APIError.invalid("\(param) must be between 1 and \(limits.maxPassages), got \(k)", param: param)
        }
        return k
    }

    /// Passages a request gives itself, as search hits numbered in order (`document:1`, ...).
    func documents(_ texts: [String], param: String) throws -> [SearchHit] {
        guard (1...limits.maxPassages).contains(texts.count) else {
            throw APIError.invalid("\(param) must hold 1 to \(limits.maxPassages) passages, got \(texts.count)", param: param)
        }
        return try texts.enumerated().map { i, text in
            guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw APIError.invalid("\(param)[\(i)] is empty", param: "\(param)[\(i)]")
            }
            let passage = Retrieval.Passage(ordinal: i, text: text, span: 0..<text.unicodeScalars.count)
            return SearchHit(passage: passage, source: "document:\(i + 1)", title: "", metadata: [:], score: 0, snippet: "")
        }
    }

    func maxTokens(_ value: Int?) throws -> Int {
        guard let value else { return limits.defaultMaxTokens }
        guard (1...limits.maxTokens).contains(value) else {
            throw APIError.invalid("max_tokens must be between 1 and \(limits.maxTokens), got \(value)", param: "max_tokens")
        }
        return value
    }

    /// OpenAI's sampling fields as dera's sampler: no temperature means greedy (dera's answers were measured greedy).
    func sampling(temperature: Double?, topP: Double?, seed: Int64?) throws -> SamplingParameters {
        if let temperature, !(temperature == 0 || (Double(DecodingLimits.temperature.lowerBound)...2).contains(temperature)) {
            throw APIError.invalid("temperature must be 0 (greedy) or between \(DecodingLimits.temperature.lowerBound) and 2, got \(temperature)", param: "temperature")
        }
        if let topP, !(topP > 0 && topP <= 1) {
            throw APIError.invalid("top_p must be above 0 and at most 1, got \(topP)", param: "top_p")
        }
        let t = Float(temperature ?? 0)
        guard t > 0 else { return .greedy }
        return SamplingParameters(temperature: t, topK: 0, topP: Float(topP ?? 1), minP: 0, repetitionPenalty: 1,
                                  seed: UInt64(bitPattern: seed ?? Int64(Date().timeIntervalSince1970 * 1000)))
    }

    func lambda(_ value: Double, param: String) throws -> Float {
        let lambda = Float(value)
        guard value.isFinite, DecodingLimits.lambda.contains(lambda) else {
            throw APIError.invalid("\(param) must be a finite number between \(DecodingLimits.lambda.lowerBound) and \(DecodingLimits.lambda.upperBound) (0 = reference, 1 = aligned) or \"auto\", got \(value)", param: param)
        }
        if !realigning && lambda != 0 {
            throw APIError.invalid("\(param): this server decodes with the model alone (started without an adapter or aligned model), so lambda can only be 0", param: param, code: "no_aligned_side")
        }
        return lambda
    }

    /// The lambda setting of a grounded request.
    func setting(_ value: LambdaValue?, candidates: [Double]?, rule: String?, checks: Bool, param: String) throws -> LambdaSetting {
        var candidateLambdas: [Float]?
        if let candidates {
            guard !candidates.isEmpty, candidates.count <= limits.maxCandidates else {
                throw APIError.invalid("candidates must hold 1 to \(limits.maxCandidates) lambdas", param: "candidates")
            }
            candidateLambdas = try candidates.enumerated().map { try lambda($1, param: "candidates[\($0)]") }
        }
        var selection: SelectionRule?
        if let rule {
            guard let parsed = SelectionRule(rule) else {
                throw APIError.invalid("rule must be most-correct[:MARGIN], natural-at-least:TARGET or weighted:W with numbers in [0, 1], got '\(rule)'", param: "rule")
            }
            selection = parsed
        }
        let auto = LambdaSetting.auto(candidates: candidateLambdas ?? setup.autoCandidates, rule: selection ?? setup.autoRule)
        switch value {
        case let .value(number)?: return .fixed(try lambda(number, param: param))
        case .auto?:
            guard realigning else {
                throw APIError.invalid("\(param): auto needs an aligned side; this server decodes with the model alone", param: param, code: "no_aligned_side")
            }
            guard checks, setup.selfCheck != nil else {
                throw APIError.invalid("\(param): auto chooses among candidates with the checker; drop check: false", param: param)
            }
            return auto
        case nil:
            if case .auto = setup.groundedSetting {
                return checks && setup.selfCheck != nil && realigning ? auto : .fixed(realigning ? setup.chatLambda : 0)
            }
            return setup.groundedSetting
        }
    }

    // MARK: - Jobs

    /// The decode job of a grounded answer: retrieval, prompt and (after decoding) the check run on the engine's
    /// thread.
    func groundedWork(id: String, question: String, store: ServedStore, k: Int?, kParam: String, documents: [String]?,
                      documentsParam: String, setting: LambdaSetting, check: Bool, maxTokens: Int,
                      sampling: SamplingParameters, logprobs: Int?, stops: [String]) throws -> DecodeWork<GroundedAnswer> {
        guard !question.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw APIError.invalid("the question is empty", param: "question")
        }
        let given = try documents.map { try self.documents($0, param: documentsParam) }
        var answerer = store.answerer
        answerer.passageCount = try passages(k, param: kParam, default: answerer.passageCount)
        answerer.maxTokens = maxTokens
        answerer.sampling = sampling
        answerer.realignment = setup.pair.map { GroundedAnswerer.Realignment(pair: $0, setting: setting) }
        answerer.selfCheck = check ? setup.selfCheck : nil
        if case .auto = setting, answerer.selfCheck == nil {
            throw APIError.invalid("auto needs the checker; this server has none", param: "lambda")
        }
        let context = setup.bundle.model.config.contextLength
        let prepared = Locked<(GroundedAnswerer.PreparedQuestion, Date)?>(nil)
        let policies = setting.policies
        return DecodeWork(id: id, logprobs: logprobs, stops: stops, prepare: { [answerer] in
            let question = try given.map { try answerer.prepare(question, hits: $0) } ?? answerer.prepare(question)
            guard question.prompt.count + maxTokens <= context else {
                throw APIError.invalid("the prompt (\(question.prompt.count) tokens with its passages) and max_tokens (\(maxTokens)) exceed the model's context of \(context) tokens", param: "max_tokens", code: "context_length_exceeded")
            }
            prepared.set((question, Date()))
            return answerer.requests(prompt: question.prompt, policies: policies)
        }, finish: { [answerer] outputs in
            guard let (question, started) = prepared.get() else { throw APIError.server("\(id): finished before it was prepared") }
            let tokens = outputs.reduce(0) { $0 + $1.tokens.count }
            let seconds = Date().timeIntervalSince(started)
            do {
                return try answerer.finish(question, outputs: answerer.decodedOutputs(outputs),
                                           tokensPerSecond: seconds > 0 ? Double(tokens) / seconds : 0)
            } catch let error as PipelineError {
                throw APIError.invalid("\(error)")
            }
        })
    }

    /// The prompt of a plain chat completion, checked against the context.
    func chatPrompt(_ messages: [ChatMessageInput], maxTokens: Int) throws -> [Int] {
        guard !messages.isEmpty else { throw APIError.invalid("messages must hold at least one message", param: "messages") }
        guard messages.count <= limits.maxMessages else {
            throw APIError.invalid("messages holds \(messages.count) messages; the limit is \(limits.maxMessages)", param: "messages")
        }
        var chat: [ChatMessage] = []
        for (i, message) in messages.enumerated() {
            switch message.role {
            case "system", "developer": chat.append(.system(message.content))
            case "user": chat.append(.user(message.content))
            case "assistant": chat.append(.assistant(message.content))
            default:
                throw APIError.invalid("messages[\(i)].role must be system, developer, user or assistant, got '\(message.role)'", param: "messages[\(i)].role")
            }
        }
        guard let template = setup.bundle.chatTemplate else {
            throw APIError.server("the model \(setup.modelName) has no chat template")
        }
        let ids = template.encode(chat, tokenizer: setup.bundle.tokenizer, addGenerationPrompt: true)
        let context = setup.bundle.model.config.contextLength
        guard ids.count + maxTokens <= context else {
            throw APIError.invalid("the messages (\(ids.count) tokens) and max_tokens (\(maxTokens)) exceed the model's context of \(context) tokens", param: "messages", code: "context_length_exceeded")
        }
        return ids
    }

    /// A chat completion as checked settings and the engine job that produces it.
    struct ChatPlan: Sendable {
        var stream: Bool
        var includeUsage: Bool
        var logprobs: Int?
        var promptTokens: Int?
        var job: Job

        enum Job: Sendable {
            case plain(DecodeWork<RealignedOutput>, lambda: Float?)
            case grounded(DecodeWork<GroundedAnswer>)
        }
    }

    func plan(_ request: ChatCompletionRequest, id: String) throws -> ChatPlan {
        if let n = request.n, n != 1 { throw APIError.invalid("n must be 1 (dera decodes one choice per request)", param: "n") }
        for (field, value) in [("presence_penalty", request.presencePenalty), ("frequency_penalty", request.frequencyPenalty)] {
            if let value, value != 0 { throw APIError.invalid("\(field) is not supported (only 0)", param: field) }
        }
        if let model = request.model, !model.isEmpty, model != setup.modelName {
            logger.debug("request names another model; serving ours", metadata: ["requested": "\(model)"])
        }
        let maxTokens = try maxTokens(request.maxTokens)
        let sampling = try sampling(temperature: request.temperature, topP: request.topP, seed: request.seed)
        var logprobs: Int?
        if request.logprobs == true {
            let top = request.topLogprobs ?? 0
            guard (0...limits.maxTopLogprobs).contains(top) else {
                throw APIError.invalid("top_logprobs must be between 0 and \(limits.maxTopLogprobs), got \(top)", param: "top_logprobs")
            }
            logprobs = top
        } else if request.topLogprobs != nil {
            throw APIError.invalid("top_logprobs needs logprobs: true", param: "top_logprobs")
        }
        let stops = request.stop ?? []
        guard stops.count <= limits.maxStops, !stops.contains("") else {
            throw APIError.invalid("stop holds 1 to \(limits.maxStops) non-empty strings", param: "stop")
        }
        let stream = request.stream ?? false
        let includeUsage = request.includeUsage ?? false
        if let dera = request.dera, dera.retrieve != false {
            guard let question = request.messages.last(where: { $0.role == "user" })?.content else {
                throw APIError.invalid("a grounded completion (dera) answers the last user message; there is none", param: "messages")
            }
            let check = dera.check ?? true
            let setting = try setting(dera.lambda, candidates: dera.candidates, rule: dera.rule, checks: check, param: "dera.lambda")
            if dera.documents != nil && (dera.db != nil || dera.k != nil) {
                throw APIError.invalid("give dera.documents or dera.db / dera.k, not both", param: "dera.documents")
            }
            let work = try groundedWork(id: id, question: question, store: try store(named: dera.db, param: "dera.db"),
                                        k: dera.k, kParam: "dera.k", documents: dera.documents, documentsParam: "dera.documents",
                                        setting: setting, check: check, maxTokens: maxTokens,
                                        sampling: sampling, logprobs: logprobs, stops: stops)
            return ChatPlan(stream: stream, includeUsage: includeUsage, logprobs: logprobs, job: .grounded(work))
        }
        var lambda: Float = realigning ? setup.chatLambda : 0
        if let dera = request.dera {
            if dera.lambda == .auto { throw APIError.invalid("dera.lambda auto needs retrieval (drop retrieve: false)", param: "dera.lambda") }
            if case let .value(value)? = dera.lambda { lambda = try self.lambda(value, param: "dera.lambda") }
            for (name, present) in [("db", dera.db != nil), ("k", dera.k != nil), ("documents", dera.documents != nil),
                                    ("check", dera.check != nil),
                                    ("candidates", dera.candidates != nil), ("rule", dera.rule != nil)] where present {
                throw APIError.invalid("dera.\(name) needs retrieval (drop retrieve: false)", param: "dera.\(name)")
            }
        }
        let prompt = try chatPrompt(request.messages, maxTokens: maxTokens)
        let decodeRequest = RealignmentRequest(prompt: prompt, lambda: lambda, sampling: sampling, maxTokens: maxTokens)
        try decodeRequest.validate()
        let work = DecodeWork<RealignedOutput>(id: id, logprobs: logprobs, stops: stops, prepare: { [decodeRequest] in
            [decodeRequest]
        }, finish: { $0[0] })
        return ChatPlan(stream: stream, includeUsage: includeUsage, logprobs: logprobs, promptTokens: prompt.count,
                        job: .plain(work, lambda: realigning ? lambda : nil))
    }

    // MARK: - The other endpoints

    func ask(_ request: AskRequest, id: String) async throws -> GroundedAnswer {
        let check = request.check ?? true
        let setting = try setting(request.lambda, candidates: request.candidates, rule: request.rule, checks: check, param: "lambda")
        if request.documents != nil && (request.db != nil || request.k != nil) {
            throw APIError.invalid("give documents or db / k, not both", param: "documents")
        }
        let work = try groundedWork(id: id, question: request.question, store: try store(named: request.db, param: "db"),
                                    k: request.k, kParam: "k", documents: request.documents, documentsParam: "documents",
                                    setting: setting, check: check,
                                    maxTokens: try maxTokens(request.maxTokens),
                                    sampling: try sampling(temperature: request.temperature, topP: request.topP, seed: request.seed),
                                    logprobs: nil, stops: [])
        for try await event in try engine.submit(work) {
            if case let .finished(answer) = event { return answer }
        }
        throw APIError.server("the engine stopped before answering")
    }

    func check(_ request: CheckRequest, id: String) async throws -> FactualityReport {
        guard let check = setup.selfCheck else {
            throw APIError.invalid("this server was started without a checker", code: "no_checker")
        }
        if request.passages != nil && (request.db != nil || request.k != nil) {
            throw APIError.invalid("give passages or db (with question), not both", param: "passages")
        }
        let k = try passages(request.k, param: "k", default: 5)
        var given: [Factuality.Passage]?
        if let texts = request.passages {
            guard !texts.isEmpty else { throw APIError.invalid("passages is empty", param: "passages") }
            given = texts.enumerated().map { Factuality.Passage(id: "\($0 + 1)", text: $1) }
        } else if request.question == nil {
            throw APIError.invalid("give passages, or a question to search the store with", param: "question")
        }
        let store = given == nil ? try self.store(named: request.db, param: "db") : nil
        let (answer, question, fixed) = (request.answer, request.question, given)
        return try await engine.perform(id) {
            let passages = try fixed ?? store!.answerer.retriever.checkerPassages(for: question!, limit: k)
            return try check.checker.check(answer: answer, passages: passages, question: question)
        }
    }

    func search(_ request: SearchRequest, id: String) async throws -> [SearchHit] {
        let store = try store(named: request.db, param: "db")
        let k = try passages(request.k, param: "k", default: 5)
        guard !request.query.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw APIError.invalid("the query is empty", param: "query")
        }
        let query = request.query
        return try await engine.perform(id) {
            try store.answerer.retriever.search(query, options: SearchOptions(limit: k))
        }
    }

    /// Summaries of the request's documents on the engine's thread, between batches (a long document takes
    /// several decoding passes, so it is not one decode job), with the decoding, chunking and check of
    /// `dera summarize`.
    func summarize(_ request: SummarizeRequest, id: String) async throws -> SummarizeResponse {
        guard let template = setup.summaryTemplate else {
            throw APIError.invalid("this server was started without a summarization prompt", code: "no_summarizer")
        }
        guard (1...limits.maxDocuments).contains(request.documents.count) else {
            throw APIError.invalid("documents must hold 1 to \(limits.maxDocuments) documents, got \(request.documents.count)", param: "documents")
        }
        let checks = request.check ?? true
        if checks && setup.selfCheck == nil {
            throw APIError.invalid("this server was started without a checker; send check: false", param: "check", code: "no_checker")
        }
        let setting = try self.setting(request.lambda, candidates: request.candidates, rule: request.rule, checks: checks, param: "lambda")
        let decoder = OutputDecoder(bundle: setup.bundle, realignment: setup.pair.map { .init(pair: $0, setting: setting) },
                                    maxTokens: try maxTokens(request.maxTokens), sampling: .greedy)
        var summarizer = DocumentSummarizer(decoder: decoder, template: template)
        if checks { summarizer.selfCheck = setup.selfCheck }
        let documents = request.documents.enumerated().map { index, document in
            (document: ExtractedDocument(source: "request:\(index + 1)", title: document.title ?? "", text: document.text),
             id: document.id ?? "document:\(index + 1)")
        }
        let results = try await engine.perform(id) { [summarizer] in
            summarizer.summarize(documents)
        }
        var items: [SummarizeItem] = []
        for (document, result) in zip(documents, results) {
            switch result {
            case let .success(summary): items.append(.summary(summary))
            case let .failure(failure):
                items.append(.failure(SummaryOutput.Failure(id: document.id, source: document.document.source, error: "\(failure)")))
            }
        }
        return SummarizeResponse(data: items)
    }

    var health: Health {
        Health(status: engine.isAccepting ? "ok" : "shutting_down", model: setup.modelName, realigning: realigning,
               stores: setup.stores.map(\.name), queueLimit: setup.engine.queueLimit, maxBatch: setup.engine.maxBatch,
               engine: engine.snapshot)
    }

    var models: ModelList {
        ModelList(data: [.init(id: setup.modelName, created: created)])
    }
}

/// A value set on one thread and read on another.
final class Locked<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func set(_ newValue: Value) { lock.withLock { value = newValue } }
    func get() -> Value { lock.withLock { value } }
}
