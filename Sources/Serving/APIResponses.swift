import Foundation
import Pipelines

/// `usage` of a completion.
public struct Usage: Sendable, Codable, Equatable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int

    public init(prompt: Int, completion: Int) {
        promptTokens = prompt
        completionTokens = completion
        totalTokens = prompt + completion
    }

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens"
    }
}

/// What the `dera` field of a response carries: the lambda decoded with, and for a grounded answer its citations,
/// check, scores and (with auto) the candidates (``GroundedAnswer`` without its text, which is the message).
public struct DeraResult: Sendable, Encodable {
    public var lambda: Float?
    public var grounded: GroundedAnswer?

    public func encode(to encoder: any Encoder) throws {
        if let grounded {
            try grounded.encode(to: encoder)
        } else {
            var container = encoder.container(keyedBy: AnyKey.self)
            try container.encode(lambda, forKey: AnyKey(stringValue: "lambda"))
        }
    }
}

/// A chat completion (`object: chat.completion`) or one chunk of a streamed one (`chat.completion.chunk`).
struct ChatCompletionResponse: Encodable {
    struct Message: Encodable {
        var role: String?
        var content: String?
    }
    struct Logprobs: Encodable {
        var content: [TokenLogprob]
    }
    struct Choice: Encodable {
        var index = 0
        var message: Message?
        var delta: Message?
        var logprobs: Logprobs?
        var finishReason: String?

        enum CodingKeys: String, CodingKey { case index, message, delta, logprobs, finishReason = "finish_reason" }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(index, forKey: .index)
            try c.encodeIfPresent(message, forKey: .message)
            try c.encodeIfPresent(delta, forKey: .delta)
            // OpenAI sends these as null rather than leaving them out.
            try c.encode(logprobs, forKey: .logprobs)
            try c.encode(finishReason, forKey: .finishReason)
        }
    }

    var id: String
    var object: String
    var created: Int
    var model: String
    var choices: [Choice]
    var usage: Usage?
    var dera: DeraResult?
}

/// `GET /v1/models`.
struct ModelList: Encodable {
    struct Model: Encodable {
        var id: String
        var object = "model"
        var created: Int
        var ownedBy = "dera"
        enum CodingKeys: String, CodingKey { case id, object, created, ownedBy = "owned_by" }
    }
    var object = "list"
    var data: [Model]
}

/// `GET /health`.
struct Health: Encodable {
    var status: String
    var model: String
    var realigning: Bool
    var stores: [String]
    var queueLimit: Int
    var maxBatch: Int
    var engine: EngineStatistics

    enum CodingKeys: String, CodingKey {
        case status, model, realigning, stores, engine, queueLimit = "queue_limit", maxBatch = "max_batch"
    }
}

/// One document of a `/v1/summarize` answer: its summary (the line `dera summarize` writes) or why it has none.
public enum SummarizeItem: Sendable, Encodable {
    case summary(DocumentSummary)
    case failure(SummaryOutput.Failure)

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case let .summary(summary): try summary.encode(to: encoder)
        case let .failure(failure): try failure.encode(to: encoder)
        }
    }
}

/// `POST /v1/summarize`'s answer: one item per document, in request order.
public struct SummarizeResponse: Sendable, Encodable {
    public var object = "list"
    public var data: [SummarizeItem]
}
