import Control
import Factuality
import Foundation
import Inference
import Realign
import Retrieval
import Tokenization

/// A grounded answer: the generated text, the passages it was given (numbered as the prompt numbered them), and,
/// when the answerer checks itself, the checker's report, naturalness and the candidates it chose from.
public struct GroundedAnswer: Sendable, Codable {
    public struct Citation: Sendable, Codable, Equatable {
        public var number: Int
        public var source: String
        public var title: String
        public var passageID: Int64?
        public var text: String
    }

    public var question: String
    public var answer: String
    public var citations: [Citation]
    public var promptTokens: Int
    public var generatedTokens: Int
    public var generationTokensPerSecond: Double
    /// The DeRa strength the answer was decoded with; nil for the model alone.
    public var lambda: Float?
    /// Decoding ended at the token limit, not at an end-of-generation token.
    public var truncated: Bool = false
    /// The check of the answer against the passages it was generated from (nil when not checked).
    public var check: FactualityReport?
    /// The checker's score of the answer (``Candidate/correctness(of:)``).
    public var correctness: Double?
    public var naturalness: NaturalnessReport?
    /// With `--lambda auto`: every candidate decoded, and which one was chosen by which rule.
    public var candidates: [Candidate]?
    public var chosen: Int?
    public var rule: String?
    /// Wall time of the whole answer: retrieval, prompt, decoding and checking.
    public var seconds: Double = 0
}

/// How the lambda of an answer is decided.
public enum LambdaSetting: Sendable, Equatable, CustomStringConvertible {
    /// Decode at this lambda.
    case fixed(Float)
    /// Decode with a per-token policy (``LambdaPolicy``: divergence- or entropy-driven lambda).
    case policy(LambdaPolicy)
    /// Decode every candidate lambda in one batch (the prompt prefilled once), check each, keep the one `rule`
    /// picks. Lambda 0 (the reference alone) is always among the candidates.
    case auto(candidates: [Float], rule: SelectionRule)

    /// The candidates `auto` decodes when not told otherwise: the reference, halfway, the aligned model.
    public static let defaultCandidates: [Float] = [0, 0.5, 1]

    /// The setting when none is given: the tuned choice (`fixed` at its lambda, or `auto`), else auto. `candidates`
    /// and `rule`, when given, replace the tuned (or default) ones of an `auto` setting.
    public static func tuned(_ tuned: TunedLambda?, candidates: [Float]? = nil, rule: SelectionRule? = nil) -> LambdaSetting {
        if let tuned, tuned.setting == .fixed { return .fixed(tuned.lambda) }
        return auto(tuned: tuned, candidates: candidates, rule: rule)
    }

    /// `auto` over `candidates` with `rule`, each taken from the tuned choice, else the defaults, when not given.
    public static func auto(tuned: TunedLambda?, candidates: [Float]? = nil, rule: SelectionRule? = nil) -> LambdaSetting {
        .auto(candidates: candidates ?? tuned?.candidates ?? defaultCandidates, rule: rule ?? tuned?.rule ?? .default)
    }

    /// The policies to decode, lambda 0 first for auto.
    public var policies: [LambdaPolicy] {
        switch self {
        case let .fixed(lambda): [.fixed(lambda)]
        case let .policy(policy): [policy]
        case let .auto(candidates, _): (candidates.contains(0) ? candidates : [0] + candidates).map { .fixed($0) }
        }
    }

    /// How a candidate decoded with `policy` is named in reports: "lambda 0.5", or the adaptive policy's description.
    public static func label(_ policy: LambdaPolicy) -> String {
        policy.fixedLambda.map { "lambda \(formatLambda($0))" } ?? policy.description
    }

    public var description: String {
        switch self {
        case let .fixed(lambda): formatLambda(lambda)
        case let .policy(policy): policy.description
        case let .auto(candidates, rule): "auto(\(candidates.map(formatLambda).joined(separator: ",")); \(rule))"
        }
    }
}

/// How an answerer checks what it generated.
public struct SelfCheck: Sendable {
    public var checker: FactualityChecker
    public var naturalness: NaturalnessScorer
    /// The reference model that measures fluency (log-likelihood of the answer after the question alone); nil
    /// keeps naturalness lexical (flags and length only).
    public var fluency: ModelGrounding?

    public init(checker: FactualityChecker, naturalness: NaturalnessScorer = NaturalnessScorer(),
                fluency: ModelGrounding? = nil) {
        self.checker = checker
        self.naturalness = naturalness
        self.fluency = fluency
    }
}

/// One decoded output before scoring.
public struct DecodedOutput: Sendable {
    /// The policy it was decoded with (`.fixed(0)` for the model alone).
    public var policy: LambdaPolicy
    /// The fixed lambda, or the mean lambda of an adaptive policy; nil for the model alone.
    public var lambda: Float?
    public var tokens: [Int]
    public var text: String
    public var truncated: Bool

    /// How reports name it: "lambda 0.5" or the adaptive policy's description (``LambdaSetting/label(_:)``).
    public var label: String { LambdaSetting.label(policy) }
}

/// Grounded question answering: retrieve passages, put them in the prompt template, generate, and (with
/// ``selfCheck``) check the answer against those very passages.
///
/// With ``realignment`` set, the answer is decoded with DeRa at a fixed lambda or, with `.auto`, at several
/// candidate lambdas in one batch from which the checker and the naturalness measure choose; otherwise with the
/// bundle's model alone.
public struct GroundedAnswerer: Sendable {
    /// Decoding-time realignment settings: the model pair and how lambda is decided.
    public struct Realignment: Sendable {
        public var pair: RealignmentPair
        public var setting: LambdaSetting
        public init(pair: RealignmentPair, setting: LambdaSetting) {
            self.pair = pair
            self.setting = setting
        }
        public init(pair: RealignmentPair, lambda: Float) {
            self.init(pair: pair, setting: .fixed(lambda))
        }
    }

    public let store: PassageStore
    /// How passages are found: BM25 over `store` unless set to a dense or hybrid ``Retriever``.
    public var retriever: Retriever
    public let bundle: ModelBundle
    public let template: PromptTemplate
    public var passageCount = 3
    /// Passage text is cut to this many characters so the prompt stays small for small models.
    public var passageCharacters = 600
    public var maxTokens = 128
    public var sampling = SamplingParameters.greedy
    /// Answers end at a new paragraph or a repeated sentence (``TextStop/answer``): the prompt asks for one
    /// sentence, and what small models add after it is copied passages and loops. nil decodes to the model's end.
    public var textStop: TextStop? = .answer
    public var realignment: Realignment?
    public var selfCheck: SelfCheck?

    public init(store: PassageStore, bundle: ModelBundle, template: PromptTemplate) {
        self.store = store
        self.retriever = Retriever(store: store)
        self.bundle = bundle
        self.template = template
    }

    /// The passages for `question`.
    public func retrieve(_ question: String) throws -> [SearchHit] {
        try retriever.search(question, options: SearchOptions(limit: passageCount))
    }

    /// The passage text as the prompt shows it (cut to ``passageCharacters``).
    public func promptText(_ hit: SearchHit) -> String { Self.promptText(hit, characters: passageCharacters) }

    /// A hit's text cut to `characters`, with an ellipsis when cut.
    public static func promptText(_ hit: SearchHit, characters: Int) -> String {
        hit.passage.text.count > characters ? String(hit.passage.text.prefix(characters)) + "…" : hit.passage.text
    }

    /// The passages the answer is checked against, numbered from 1 as the prompt numbers them.
    public static func checkerPassages(_ hits: [SearchHit], characters: Int) -> [Factuality.Passage] {
        hits.enumerated().map { index, hit in
            Factuality.Passage(id: "\(index + 1)", text: promptText(hit, characters: characters))
        }
    }

    /// The chat messages for `question` over `hits`, numbered from 1.
    public func messages(question: String, hits: [SearchHit]) throws -> [ChatMessage] {
        let passages: String = hits.enumerated().map { index, hit -> String in
            "[\(index + 1)] \(hit.title.isEmpty ? "" : hit.title + ": ")\(promptText(hit))"
        }.joined(separator: "\n")
        return try template.messages(["passages": passages, "question": question])
    }

    /// The prompt's token ids.
    public func prompt(question: String, hits: [SearchHit]) throws -> [Int] {
        try encode(try messages(question: question, hits: hits))
    }

    /// Token ids of a chat with the generation prompt appended.
    func encode(_ messages: [ChatMessage]) throws -> [Int] { try decoder.encode(messages) }

    /// The decoding and self-checking this answerer's settings describe.
    public var decoder: OutputDecoder {
        OutputDecoder(bundle: bundle, realignment: realignment, maxTokens: maxTokens, sampling: sampling,
                      textStop: textStop)
    }

    /// The passages the checker compares an answer with: exactly the text the prompt showed, identified by their
    /// citation numbers ("1", "2", ...), so evidence points at a citation.
    public func checkerPassages(_ hits: [SearchHit]) -> [Factuality.Passage] {
        Self.checkerPassages(hits, characters: passageCharacters)
    }

    /// The decoding requests for `policies` over one prompt: with no realignment, one request for the model alone
    /// (`policies` ignored). A server batches the requests of several questions into one ``DecodingLoop`` run.
    public func requests(prompt ids: [Int], policies: [LambdaPolicy], samples: Int = 1) -> [RealignmentRequest] {
        (realignment == nil ? [.fixed(0)] : policies).flatMap { policy in
            (0..<max(1, samples)).map { s -> RealignmentRequest in
                var draw = sampling
                draw.seed = sampling.seed &+ UInt64(s)
                return RealignmentRequest(prompt: ids, policy: policy, sampling: draw, maxTokens: maxTokens,
                                          textStop: textStop)
            }
        }
    }

    /// What the loop produced for ``requests(prompt:policies:samples:)``, as decoded outputs (lambda nil for the
    /// model alone).
    public func decodedOutputs(_ outputs: [RealignedOutput]) -> [DecodedOutput] { decoder.decodedOutputs(outputs) }

    /// Decodes `policies` for one prompt in one batch (the prompt prefilled once); with no realignment, the model
    /// alone (`policies` ignored). With `samples` > 1 each policy is decoded that many times, draw `s` seeded
    /// with `sampling.seed + s` (outputs policy by policy, draws in order). `onText` streams the text of a single
    /// sequence.
    public func decode(prompt ids: [Int], policies: [LambdaPolicy], samples: Int = 1, onText: (String) -> Void = { _ in })
        throws -> (outputs: [DecodedOutput], tokensPerSecond: Double) {
        try decoder.run(requests(prompt: ids, policies: policies, samples: samples), onText: onText)
    }

    /// Scores decoded outputs: the checker against `passages`, naturalness with fluency after the question alone.
    public func score(_ outputs: [DecodedOutput], question: String, passages: [Factuality.Passage], check: SelfCheck)
        throws -> [(candidate: Candidate, report: FactualityReport)] {
        try decoder.score(outputs, context: question, question: question, passages: passages, check: check)
    }

    /// `count` sampled answers to `question` at the fixed lambda (or from the model alone), decoded in one batch
    /// over one prefill of the prompt, answer `s` drawn with seed `sampling.seed + s`. Nothing is checked: this is
    /// how on-policy training data is drawn (training/build_onpolicy.py).
    public func sample(_ question: String, count: Int) throws
        -> (citations: [GroundedAnswer.Citation], promptTokens: Int, outputs: [DecodedOutput], seconds: Double) {
        let start = Date()
        let hits = try retrieve(question)
        let ids = try prompt(question: question, hits: hits)
        let policies = realignment?.setting.policies ?? []
        if policies.count > 1 { throw PipelineError.samplesNeedOneLambda }
        let (outputs, _) = try decode(prompt: ids, policies: policies, samples: count)
        return (Self.citations(hits), ids.count, outputs, Date().timeIntervalSince(start))
    }

    /// The citations of `hits`, numbered from 1 as the prompt numbers them.
    static func citations(_ hits: [SearchHit]) -> [GroundedAnswer.Citation] {
        hits.enumerated().map { index, hit in
            GroundedAnswer.Citation(number: index + 1, source: hit.source, title: hit.title,
                                    passageID: hit.passage.id, text: hit.passage.text)
        }
    }

    /// A question made ready to decode: the passages found for it and the prompt built from them.
    public struct PreparedQuestion: Sendable {
        public var question: String
        public var hits: [SearchHit]
        public var prompt: [Int]
        /// When preparation began: the answer's ``GroundedAnswer/seconds`` count from here.
        public var start: Date
    }

    /// Retrieves the passages for `question` and builds its prompt.
    public func prepare(_ question: String) throws -> PreparedQuestion {
        let start = Date()
        return try prepare(question, hits: try retrieve(question), start: start)
    }

    /// Builds the prompt of `question` over passages found elsewhere (or given by the caller).
    public func prepare(_ question: String, hits: [SearchHit], start: Date = Date()) throws -> PreparedQuestion {
        PreparedQuestion(question: question, hits: hits, prompt: try prompt(question: question, hits: hits), start: start)
    }

    /// Answers `question`, streaming text pieces to `onText` as they are generated (a fixed lambda or the model
    /// alone; `auto` decodes its candidates together and streams nothing).
    public func answer(_ question: String, onText: (String) -> Void = { _ in }) throws -> GroundedAnswer {
        let prepared = try prepare(question)
        let (outputs, tokensPerSecond) = try decode(prompt: prepared.prompt, policies: realignment?.setting.policies ?? [],
                                                    onText: onText)
        return try finish(prepared, outputs: outputs, tokensPerSecond: tokensPerSecond)
    }

    /// The answer from the outputs decoded for a prepared question: citations, and with ``selfCheck`` the check of
    /// each output, auto's choice among them and the chosen one's scores.
    public func finish(_ prepared: PreparedQuestion, outputs: [DecodedOutput], tokensPerSecond: Double) throws -> GroundedAnswer {
        let (question, hits) = (prepared.question, prepared.hits)
        let citations = Self.citations(hits)
        var chosen = 0
        var result = GroundedAnswer(
            question: question, answer: "", citations: citations, promptTokens: prepared.prompt.count,
            generatedTokens: outputs.reduce(0) { $0 + $1.tokens.count }, generationTokensPerSecond: tokensPerSecond,
            lambda: nil)
        if let selfCheck {
            let scored = try score(outputs, question: question, passages: checkerPassages(hits), check: selfCheck)
            let choice = decoder.choose(scored)
            chosen = choice.chosen
            if let candidates = choice.candidates {
                result.candidates = candidates
                result.chosen = chosen
                result.rule = choice.rule
            }
            result.check = scored[chosen].report
            result.correctness = scored[chosen].candidate.correctness
            result.naturalness = scored[chosen].candidate.naturalness
        } else if outputs.count > 1 {
            throw PipelineError.autoNeedsChecker
        }
        result.answer = outputs[chosen].text.trimmingCharacters(in: .whitespacesAndNewlines)
        result.lambda = outputs[chosen].lambda
        result.truncated = outputs[chosen].truncated
        result.seconds = Date().timeIntervalSince(prepared.start)
        return result
    }
}
