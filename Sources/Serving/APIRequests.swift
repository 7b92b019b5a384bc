import Foundation

/// A DeRa strength in a request: a number, or `"auto"` (decode the candidate lambdas in one batch, check each,
/// keep the one the rule picks).
public enum LambdaValue: Sendable, Equatable, Decodable {
    case value(Double)
    case auto

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Double.self) {
            self = .value(number)
        } else if let text = try? container.decode(String.self), text == "auto" {
            self = .auto
        } else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "must be a number or \"auto\""))
        }
    }
}

/// One chat message: `content` is a string or OpenAI's array of `{"type": "text", "text": ...}` parts.
public struct ChatMessageInput: Sendable, Decodable {
    public var role: String
    public var content: String
    public var name: String?

    enum CodingKeys: String, CodingKey, CaseIterable { case role, content, name }

    struct Part: Decodable {
        var type: String
        var text: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case type, text }
        init(from decoder: any Decoder) throws {
            let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
            type = try container.decode(String.self, forKey: .type)
            text = try container.decodeIfPresent(String.self, forKey: .text)
            guard type == "text", text != nil else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                        debugDescription: "only text parts ({\"type\": \"text\", \"text\": ...}) are supported"))
            }
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        role = try container.decode(String.self, forKey: .role)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        if let text = try? container.decode(String.self, forKey: .content) {
            content = text
        } else {
            content = try container.decode([Part].self, forKey: .content).compactMap(\.text).joined()
        }
    }
}

/// The `dera` extension object of a chat completion: present, the last user message is answered from retrieved
/// passages with citations and (unless `check` is false) the claim-level check.
public struct DeraOptions: Sendable, Decodable {
    public var lambda: LambdaValue?
    /// A store the server was started with, by path or file name; nil: the first.
    public var db: String?
    public var k: Int?
    /// Passages given in the request: the answer is grounded in (and checked against) these instead of a store.
    public var documents: [String]?
    public var check: Bool?
    /// false: no retrieval, the chat is decoded as sent at `lambda` (no citations, no check).
    public var retrieve: Bool?
    /// auto's candidate lambdas (0 is always added) and its rule (`most-correct[:MARGIN]`, ...).
    public var candidates: [Double]?
    public var rule: String?

    enum CodingKeys: String, CodingKey, CaseIterable { case lambda, db, k, documents, check, retrieve, candidates, rule }

    public init(lambda: LambdaValue? = nil, db: String? = nil, k: Int? = nil, check: Bool? = nil) {
        self.lambda = lambda
        self.db = db
        self.k = k
        self.check = check
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        lambda = try c.decodeIfPresent(LambdaValue.self, forKey: .lambda)
        db = try c.decodeIfPresent(String.self, forKey: .db)
        k = try c.decodeIfPresent(Int.self, forKey: .k)
        documents = try c.decodeIfPresent([String].self, forKey: .documents)
        check = try c.decodeIfPresent(Bool.self, forKey: .check)
        retrieve = try c.decodeIfPresent(Bool.self, forKey: .retrieve)
        candidates = try c.decodeIfPresent([Double].self, forKey: .candidates)
        rule = try c.decodeIfPresent(String.self, forKey: .rule)
    }
}

/// `stop`: one string or an array of them.
public struct StopSequences: Sendable, Decodable {
    public var values: [String]
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let one = try? container.decode(String.self) { values = [one] } else { values = try container.decode([String].self) }
    }
}

/// `POST /v1/chat/completions`, the fields of OpenAI's request that dera serves, plus `dera`.
public struct ChatCompletionRequest: Sendable, Decodable {
    public var model: String?
    public var messages: [ChatMessageInput]
    public var maxTokens: Int?
    public var temperature: Double?
    public var topP: Double?
    public var seed: Int64?
    public var stream: Bool?
    public var includeUsage: Bool?
    public var logprobs: Bool?
    public var topLogprobs: Int?
    public var n: Int?
    public var stop: [String]?
    public var user: String?
    public var presencePenalty: Double?
    public var frequencyPenalty: Double?
    public var dera: DeraOptions?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, messages, temperature, seed, stream, logprobs, n, stop, user, dera
        case maxTokens = "max_tokens", maxCompletionTokens = "max_completion_tokens", topP = "top_p"
        case streamOptions = "stream_options", topLogprobs = "top_logprobs"
        case presencePenalty = "presence_penalty", frequencyPenalty = "frequency_penalty"
    }

    struct StreamOptions: Decodable {
        var includeUsage: Bool?
        enum CodingKeys: String, CodingKey, CaseIterable { case includeUsage = "include_usage" }
        init(from decoder: any Decoder) throws {
            includeUsage = try decoder.strictContainer(keyedBy: CodingKeys.self).decodeIfPresent(Bool.self, forKey: .includeUsage)
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        messages = try c.decode([ChatMessageInput].self, forKey: .messages)
        maxTokens = try c.decodeIfPresent(Int.self, forKey: .maxTokens)
            ?? c.decodeIfPresent(Int.self, forKey: .maxCompletionTokens)
        temperature = try c.decodeIfPresent(Double.self, forKey: .temperature)
        topP = try c.decodeIfPresent(Double.self, forKey: .topP)
        seed = try c.decodeIfPresent(Int64.self, forKey: .seed)
        stream = try c.decodeIfPresent(Bool.self, forKey: .stream)
        includeUsage = try c.decodeIfPresent(StreamOptions.self, forKey: .streamOptions)?.includeUsage
        logprobs = try c.decodeIfPresent(Bool.self, forKey: .logprobs)
        topLogprobs = try c.decodeIfPresent(Int.self, forKey: .topLogprobs)
        n = try c.decodeIfPresent(Int.self, forKey: .n)
        stop = try c.decodeIfPresent(StopSequences.self, forKey: .stop)?.values
        user = try c.decodeIfPresent(String.self, forKey: .user)
        presencePenalty = try c.decodeIfPresent(Double.self, forKey: .presencePenalty)
        frequencyPenalty = try c.decodeIfPresent(Double.self, forKey: .frequencyPenalty)
        dera = try c.decodeIfPresent(DeraOptions.self, forKey: .dera)
    }
}

/// The decoding settings `/v1/ask` shares with chat completions.
public struct AskRequest: Sendable, Decodable {
    public var question: String
    public var lambda: LambdaValue?
    public var db: String?
    public var k: Int?
    public var documents: [String]?
    public var check: Bool?
    public var candidates: [Double]?
    public var rule: String?
    public var maxTokens: Int?
    public var temperature: Double?
    public var topP: Double?
    public var seed: Int64?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case question, lambda, db, k, documents, check, candidates, rule, temperature, seed
        case maxTokens = "max_tokens", topP = "top_p"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        question = try c.decode(String.self, forKey: .question)
        lambda = try c.decodeIfPresent(LambdaValue.self, forKey: .lambda)
        db = try c.decodeIfPresent(String.self, forKey: .db)
        k = try c.decodeIfPresent(Int.self, forKey: .k)
        documents = try c.decodeIfPresent([String].self, forKey: .documents)
        check = try c.decodeIfPresent(Bool.self, forKey: .check)
        candidates = try c.decodeIfPresent([Double].self, forKey: .candidates)
        rule = try c.decodeIfPresent(String.self, forKey: .rule)
        maxTokens = try c.decodeIfPresent(Int.self, forKey: .maxTokens)
        temperature = try c.decodeIfPresent(Double.self, forKey: .temperature)
        topP = try c.decodeIfPresent(Double.self, forKey: .topP)
        seed = try c.decodeIfPresent(Int64.self, forKey: .seed)
    }
}

/// `POST /v1/check`: an answer checked against given passages, or against the passages a store returns for the
/// question.
public struct CheckRequest: Sendable, Decodable {
    public var answer: String
    public var question: String?
    public var passages: [String]?
    public var db: String?
    public var k: Int?

    enum CodingKeys: String, CodingKey, CaseIterable { case answer, question, passages, db, k }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        answer = try c.decode(String.self, forKey: .answer)
        question = try c.decodeIfPresent(String.self, forKey: .question)
        passages = try c.decodeIfPresent([String].self, forKey: .passages)
        db = try c.decodeIfPresent(String.self, forKey: .db)
        k = try c.decodeIfPresent(Int.self, forKey: .k)
    }
}

/// `POST /v1/search`: the best passages of a store for a query.
public struct SearchRequest: Sendable, Decodable {
    public var query: String
    public var db: String?
    public var k: Int?

    enum CodingKeys: String, CodingKey, CaseIterable { case query, db, k }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        query = try c.decode(String.self, forKey: .query)
        db = try c.decodeIfPresent(String.self, forKey: .db)
        k = try c.decodeIfPresent(Int.self, forKey: .k)
    }
}

/// `POST /v1/summarize`: documents given in the request, each summarized as `dera summarize` summarizes a file
/// (cut and combined when longer than the context, checked against its own text).
public struct SummarizeRequest: Sendable, Decodable {
    public struct Document: Sendable, Decodable {
        /// How the response names the document; default `document:N` (N from 1).
        public var id: String?
        public var title: String?
        public var text: String

        enum CodingKeys: String, CodingKey, CaseIterable { case id, title, text }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
            id = try c.decodeIfPresent(String.self, forKey: .id)
            title = try c.decodeIfPresent(String.self, forKey: .title)
            text = try c.decode(String.self, forKey: .text)
        }
    }

    public var documents: [Document]
    public var lambda: LambdaValue?
    public var candidates: [Double]?
    public var rule: String?
    public var maxTokens: Int?
    /// false: no check (and no auto).
    public var check: Bool?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case documents, lambda, candidates, rule, check
        case maxTokens = "max_tokens"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        documents = try c.decode([Document].self, forKey: .documents)
        lambda = try c.decodeIfPresent(LambdaValue.self, forKey: .lambda)
        candidates = try c.decodeIfPresent([Double].self, forKey: .candidates)
        rule = try c.decodeIfPresent(String.self, forKey: .rule)
        maxTokens = try c.decodeIfPresent(Int.self, forKey: .maxTokens)
        check = try c.decodeIfPresent(Bool.self, forKey: .check)
    }
}
