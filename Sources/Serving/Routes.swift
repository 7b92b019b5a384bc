import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Pipelines
import Realign

/// The endpoints: OpenAI's chat completions and model list, dera's ask, check, search and summarize, and the health
/// check.
struct Routes: Sendable {
    let service: DeraService
    let logger: Logger

    func add(to router: Router<BasicRequestContext>) {
        router.get("/health") { _, _ in Self.json(service.health) }
        router.get("/v1/models") { _, _ in Self.json(service.models) }
        router.post("/v1/chat/completions") { request, _ in await chatCompletion(request) }
        router.post("/v1/ask") { request, _ in
            await handle(request, path: "ask", prefix: "ask") { body, id in
                Self.json(try await service.ask(try APIRequestDecoding.decode(AskRequest.self, from: body), id: id))
            }
        }
        router.post("/v1/check") { request, _ in
            await handle(request, path: "check", prefix: "check") { body, id in
                Self.json(try await service.check(try APIRequestDecoding.decode(CheckRequest.self, from: body), id: id))
            }
        }
        router.post("/v1/search") { request, _ in
            await handle(request, path: "search", prefix: "search") { body, id in
                Self.json(["data": try await service.search(try APIRequestDecoding.decode(SearchRequest.self, from: body), id: id)])
            }
        }
        router.post("/v1/summarize") { request, _ in
            await handle(request, path: "summarize", prefix: "summ") { body, id in
                Self.json(try await service.summarize(try APIRequestDecoding.decode(SummarizeRequest.self, from: body), id: id))
            }
        }
        if let root = service.setup.webRoot {
            let page = WebPage(root: root)
            router.get("/") { _, _ in page.response(for: "index.html") }
            router.get("/web/:file") { _, context in page.response(for: context.parameters.get("file") ?? "") }
        }
    }

    // MARK: - Plumbing

    static func newID(_ prefix: String) -> String {
        prefix + "-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24)
    }

    static func json(_ value: some Encodable, status: Int = 200) -> Response {
        do {
            let data = try JSONEncoder.api.encode(value)
            return Response(status: .init(code: status), headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(bytes: data)))
        } catch {
            return response(APIError.server("the response could not be encoded: \(error)"))
        }
    }

    static func response(_ error: APIError) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if error.status == 503 { headers[.retryAfter] = "1" }
        return Response(status: .init(code: error.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: error.json)))
    }

    /// Any error as the API error it answers with.
    static func apiError(_ error: any Error) -> APIError {
        switch error {
        case let error as APIError: error
        case let error as DecodingParameterError:
            .invalid(error.description, param: error.parameter)
        case is CancellationError: APIError(status: 499, message: "the request was cancelled", type: "invalid_request_error")
        default: .server("\(error)")
        }
    }

    /// The body, refused with 413 past the limit.
    func body(_ request: Request) async throws -> Data {
        let limit = service.limits.maxBodyBytes
        let tooLarge = APIError(status: 413, message: "the request body is larger than \(limit) bytes", type: "invalid_request_error",
                                code: "request_too_large")
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit { throw tooLarge }
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return Data(buffer.readableBytesView)
        } catch {
            throw tooLarge
        }
    }

    /// Reads the body, runs `body` and answers with its response or the error as JSON; logs the outcome.
    func handle(_ request: Request, path: String, prefix: String, _ body: (Data, String) async throws -> Response) async -> Response {
        let id = Self.newID(prefix)
        let start = Date()
        let response: Response
        do {
            response = try await body(try self.body(request), id)
        } catch {
            response = Self.response(Self.apiError(error))
        }
        log(id: id, path: path, status: Int(response.status.code), start: start)
        return response
    }

    func log(id: String, path: String, status: Int, start: Date, _ extra: Logger.Metadata = [:]) {
        var metadata: Logger.Metadata = ["id": "\(id)", "path": "\(path)", "status": "\(status)",
                                         "seconds": "\(String(format: "%.3f", Date().timeIntervalSince(start)))"]
        metadata.merge(extra) { $1 }
        switch status {
        case 503: logger.warning("request", metadata: metadata)
        case 500...: logger.error("request", metadata: metadata)
        default: logger.info("request", metadata: metadata)
        }
    }

    // MARK: - Chat completions

    /// How a finished job reads as a completion.
    struct Outcome {
        var text: String
        var finishReason: String
        var usage: Usage
        var dera: DeraResult?
        /// The sequence whose text is the answer (auto's chosen candidate).
        var chosen: Int
    }

    func chatCompletion(_ request: Request) async -> Response {
        let id = Self.newID("chatcmpl")
        let start = Date()
        do {
            let parsed = try APIRequestDecoding.decode(ChatCompletionRequest.self, from: try await body(request))
            let plan = try service.plan(parsed, id: id)
            switch plan.job {
            case let .plain(work, lambda):
                let promptTokens = plan.promptTokens ?? 0
                return try await complete(try service.engine.submit(work), plan: plan, id: id, start: start, streamsPieces: true) { output in
                    Outcome(text: output.text, finishReason: output.finished ? "stop" : "length",
                            usage: Usage(prompt: promptTokens, completion: output.tokens.count),
                            dera: lambda.map { DeraResult(lambda: $0) }, chosen: 0)
                }
            case let .grounded(work):
                let single = (parsed.dera?.lambda).map { $0 != .auto } ?? !isAuto(service.setup.groundedSetting)
                return try await complete(try service.engine.submit(work), plan: plan, id: id, start: start, streamsPieces: single) { answer in
                    let chosen = answer.chosen ?? 0
                    let tokens = answer.candidates.map { $0[chosen].tokens } ?? answer.generatedTokens
                    return Outcome(text: answer.answer, finishReason: answer.truncated ? "length" : "stop",
                                   usage: Usage(prompt: answer.promptTokens, completion: tokens),
                                   dera: DeraResult(lambda: answer.lambda, grounded: answer), chosen: chosen)
                }
            }
        } catch {
            let failure = Self.apiError(error)
            log(id: id, path: "chat", status: failure.status, start: start, ["error": "\(failure.message)"])
            return Self.response(failure)
        }
    }

    func isAuto(_ setting: LambdaSetting) -> Bool {
        if case .auto = setting { return true }
        return false
    }

    /// The completion from a job's events: one JSON body, or server-sent events once the job has started (an error
    /// before its first event is still an ordinary JSON error).
    func complete<R: Sendable>(_ stream: AsyncThrowingStream<EngineEvent<R>, any Error>, plan: DeraService.ChatPlan,
                               id: String, start: Date, streamsPieces: Bool,
                               outcome: @escaping @Sendable (R) -> Outcome) async throws -> Response {
        let model = service.setup.modelName
        let created = Int(start.timeIntervalSince1970)
        let events = EventIterator(stream)
        guard plan.stream else {
            var logprobs: [Int: [TokenLogprob]] = [:]
            while let event = try await events.next() {
                switch event {
                case let .piece(piece):
                    if let logprob = piece.logprob { logprobs[piece.sequence, default: []].append(logprob) }
                case let .finished(result):
                    let done = outcome(result)
                    let body = ChatCompletionResponse(
                        id: id, object: "chat.completion", created: created, model: model,
                        choices: [.init(message: .init(role: "assistant", content: done.text),
                                        logprobs: plan.logprobs == nil ? nil : .init(content: logprobs[done.chosen] ?? []),
                                        finishReason: done.finishReason)],
                        usage: done.usage, dera: done.dera)
                    log(id: id, path: "chat", status: 200, start: start, ["tokens": "\(done.usage.completionTokens)",
                                                                        "lambda": "\(done.dera?.lambda.map { "\($0)" } ?? "none")"])
                    return Self.json(body)
                }
            }
            throw APIError.server("the engine stopped before finishing")
        }
        let first = try await events.next()
        let logger = self.logger
        let routes = self
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                        body: ResponseBody { writer in
            func send(_ value: some Encodable) async throws {
                let data = try JSONEncoder.api.encode(value)
                var buffer = ByteBuffer(string: "data: ")
                buffer.writeBytes(data)
                buffer.writeString("\n\n")
                try await writer.write(buffer)
            }
            func chunk(_ delta: ChatCompletionResponse.Message, logprobs: [TokenLogprob]? = nil, finish: String? = nil,
                       dera: DeraResult? = nil) -> ChatCompletionResponse {
                ChatCompletionResponse(id: id, object: "chat.completion.chunk", created: created, model: model,
                                       choices: [.init(delta: delta, logprobs: logprobs.map { .init(content: $0) }, finishReason: finish)],
                                       dera: dera)
            }
            try await send(chunk(.init(role: "assistant", content: "")))
            var event = first
            var held: [Int: [TokenLogprob]] = [:]
            var status = 200
            do {
                while let current = event {
                    switch current {
                    case let .piece(piece):
                        if streamsPieces && piece.sequence == 0 {
                            if !piece.text.isEmpty || piece.logprob != nil {
                                try await send(chunk(.init(content: piece.text), logprobs: plan.logprobs == nil ? nil : piece.logprob.map { [$0] } ?? []))
                            }
                        } else if let logprob = piece.logprob {
                            held[piece.sequence, default: []].append(logprob)
                        }
                    case let .finished(result):
                        let done = outcome(result)
                        if !streamsPieces {
                            try await send(chunk(.init(content: done.text), logprobs: plan.logprobs == nil ? nil : held[done.chosen] ?? []))
                        }
                        try await send(chunk(.init(), finish: done.finishReason, dera: done.dera))
                        if plan.includeUsage {
                            try await send(ChatCompletionResponse(id: id, object: "chat.completion.chunk", created: created,
                                                                  model: model, choices: [], usage: done.usage))
                        }
                    }
                    event = try await events.next()
                }
            } catch {
                let failure = Routes.apiError(error)
                status = failure.status
                logger.error("stream failed", metadata: ["id": "\(id)", "error": "\(failure.message)"])
                var buffer = ByteBuffer(string: "data: ")
                buffer.writeBytes(failure.json)
                buffer.writeString("\n\n")
                try? await writer.write(buffer)
            }
            try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
            try await writer.finish(nil)
            routes.log(id: id, path: "chat", status: status, start: start, ["stream": "true"])
        })
    }
}

/// An iterator handed from the handler to the response body's writer.
final class EventIterator<R: Sendable>: @unchecked Sendable {
    private var iterator: AsyncThrowingStream<EngineEvent<R>, any Error>.AsyncIterator
    init(_ stream: AsyncThrowingStream<EngineEvent<R>, any Error>) { iterator = stream.makeAsyncIterator() }
    func next() async throws -> EngineEvent<R>? { try await iterator.next() }
}
