import Foundation
import Inference
import Realign
import Retrieval
import Tokenization

/// A grounded answer: the generated text and the passages it was given, numbered as the prompt numbered them.
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
}

/// Grounded question answering: retrieve passages, put them in the prompt template, generate.
///
/// With ``realignment`` set, the answer is decoded with DeRa (reference and aligned model mixed at lambda);
/// otherwise with the bundle's model alone.
public struct GroundedAnswerer: Sendable {
    /// Decoding-time realignment settings: the model pair and the mixing strength.
    public struct Realignment: Sendable {
        public var pair: RealignmentPair
        public var lambda: Float
        public init(pair: RealignmentPair, lambda: Float) {
            self.pair = pair
            self.lambda = lambda
        }
    }

    public let store: PassageStore
    public let bundle: ModelBundle
    public let template: PromptTemplate
    public var passageCount = 3
    /// Passage text is cut to this many characters so the prompt stays small for small models.
    public var passageCharacters = 600
    public var maxTokens = 128
    public var sampling = SamplingParameters.greedy
    public var realignment: Realignment?

    public init(store: PassageStore, bundle: ModelBundle, template: PromptTemplate) {
        self.store = store
        self.bundle = bundle
        self.template = template
    }

    /// The chat messages for `question` over `hits`, numbered from 1.
    public func messages(question: String, hits: [SearchHit]) throws -> [ChatMessage] {
        let passages: String = hits.enumerated().map { index, hit -> String in
            let text = hit.passage.text.count > passageCharacters
                ? String(hit.passage.text.prefix(passageCharacters)) + "…" : hit.passage.text
            return "[\(index + 1)] \(hit.title.isEmpty ? "" : hit.title + ": ")\(text)"
        }.joined(separator: "\n")
        return try template.messages(["passages": passages, "question": question])
    }

    /// Answers `question`, streaming text pieces to `onText` as they are generated.
    public func answer(_ question: String, onText: (String) -> Void = { _ in }) throws -> GroundedAnswer {
        guard let chat = bundle.chatTemplate else { throw PipelineError.noChatTemplate(model: bundle.path) }
        let hits = try store.search(question, options: SearchOptions(limit: passageCount))
        let ids = chat.encode(try messages(question: question, hits: hits), tokenizer: bundle.tokenizer,
                              addGenerationPrompt: true)
        var text = ""
        let generatedTokens: Int, tokensPerSecond: Double
        if let realignment {
            let (output, statistics) = try Realigner(pair: realignment.pair).generate(
                prompt: ids, lambda: realignment.lambda, maxTokens: maxTokens, sampling: sampling
            ) { piece in
                text += piece.text
                onText(piece.text)
                return true
            }
            (generatedTokens, tokensPerSecond) = (output.tokens.count, statistics.generationTokensPerSecond)
        } else {
            let (tokens, statistics) = try TextGenerator(bundle: bundle).generate(
                prompt: ids, maxTokens: maxTokens, sampling: sampling
            ) { _, piece in
                text += piece
                onText(piece)
                return true
            }
            (generatedTokens, tokensPerSecond) = (tokens.count, statistics.generationTokensPerSecond)
        }
        let citations = hits.enumerated().map { index, hit in
            GroundedAnswer.Citation(number: index + 1, source: hit.source, title: hit.title,
                                    passageID: hit.passage.id, text: hit.passage.text)
        }
        return GroundedAnswer(question: question, answer: text.trimmingCharacters(in: .whitespacesAndNewlines),
                              citations: citations, promptTokens: ids.count, generatedTokens: generatedTokens,
                              generationTokensPerSecond: tokensPerSecond, lambda: realignment?.lambda)
    }
}
