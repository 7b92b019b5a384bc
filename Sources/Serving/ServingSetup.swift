import Control
import Foundation
import Inference
import Pipelines
import Realign
import Tokenization

/// A passage store the server answers from: requests name it by ``name`` (or its path).
public struct ServedStore: Sendable {
    public var name: String
    public var path: String
    /// The answerer over this store with the server's defaults (passages, template, retriever, self-check).
    public var answerer: GroundedAnswerer

    public init(name: String, path: String, answerer: GroundedAnswerer) {
        self.name = name
        self.path = path
        self.answerer = answerer
    }
}

/// Bounds on what one request may ask for.
public struct RequestLimits: Sendable {
    /// Larger bodies are refused with 413 before they are read whole.
    public var maxBodyBytes = 1 << 20
    /// `max_tokens` above this is refused.
    public var maxTokens = 1024
    /// `max_tokens` when the request gives none.
    public var defaultMaxTokens = 256
    public var maxMessages = 256
    /// `k` of retrieval.
    public var maxPassages = 20
    public var maxStops = 4
    public var maxTopLogprobs = 20
    /// auto's candidate lambdas.
    public var maxCandidates = 8
    /// Documents one `/v1/summarize` request may give.
    public var maxDocuments = 16
    public init() {}
}

/// Everything `dera serve` opened: the model (and its aligned side), the stores, the checker and the defaults.
public struct ServingSetup: Sendable {
    /// The model id `/v1/models` lists and responses name.
    public var modelName: String
    public var bundle: ModelBundle
    /// The reference/aligned pair every request decodes with; nil: the model alone (lambda must be 0).
    public var pair: RealignmentPair?
    /// The stores, the first being the default.
    public var stores: [ServedStore]
    /// The checker of grounded answers and of `/v1/check`; nil: no checking (auto is refused).
    public var selfCheck: SelfCheck?
    /// The lambda of a grounded answer whose request gives none (the tuned choice, else auto).
    public var groundedSetting: LambdaSetting
    /// The lambda of a plain chat completion whose request gives none.
    public var chatLambda: Float
    /// auto's candidates and rule when the request does not give them.
    public var autoCandidates: [Float] = LambdaSetting.defaultCandidates
    public var autoRule: SelectionRule = .default
    public var limits = RequestLimits()
    public var engine = Engine.Limits()
    /// The folder of the web page served at `/` (index.html and its files); nil serves none.
    public var webRoot: String?
    /// The prompt of `/v1/summarize` (its `{{document}}` placeholder); nil: the endpoint answers 400.
    public var summaryTemplate: PromptTemplate?

    public init(modelName: String, bundle: ModelBundle, pair: RealignmentPair?, stores: [ServedStore],
                selfCheck: SelfCheck?, groundedSetting: LambdaSetting, chatLambda: Float) {
        self.modelName = modelName
        self.bundle = bundle
        self.pair = pair
        self.stores = stores
        self.selfCheck = selfCheck
        self.groundedSetting = groundedSetting
        self.chatLambda = chatLambda
    }

    /// The decoding loop every batch runs: over the pair, or the model alone.
    var decodingLoop: DecodingLoop {
        DecodingLoop(pair: pair, alone: bundle)
    }
}
