import Control
import Factuality
import Foundation
import Realign
import Retrieval
import Tokenization

/// The summary of one document, as one line of `dera summarize`'s output: the text, how it was decoded, and its
/// check against the document.
public struct DocumentSummary: Sendable, Codable {
    /// The document's name (``InputDocument/name``): what resuming and merging outputs match on.
    public var id: String
    /// The absolute path (with `#key` for a JSONL row) the text was read from.
    public var source: String
    public var title: String
    public var summary: String
    /// The DeRa strength the summary was decoded with; nil for the model alone.
    public var lambda: Float?
    /// With `--lambda auto`: every candidate decoded, and which one was chosen by which rule.
    public var candidates: [Candidate]?
    public var chosen: Int?
    public var rule: String?
    /// The checker's score of the summary against the document (``Candidate/correctness(of:)``); nil unchecked.
    public var correctness: Double?
    /// Every claim of the summary scored against the document's passages, with evidence (passage ids are the
    /// passage numbers from 1, in document order).
    public var check: FactualityReport?
    public var naturalness: NaturalnessReport?
    public var words: Int
    /// Pieces the document was cut into to fit the context: 1 when it was summarized whole.
    public var chunks: Int
    /// Prompt tokens of every pass (pieces, combining pass, every candidate).
    public var promptTokens: Int
    /// Tokens generated in every pass.
    public var generatedTokens: Int
    /// The final pass stopped at the token limit, not at an end-of-generation token.
    public var truncated: Bool
    /// Wall time of the document: prompts, decoding and checking.
    public var seconds: Double
}

/// Summarizes one document with the prompt template (its `{{document}}` placeholder), decoded with DeRa at a fixed
/// lambda or auto (candidates in one batch, each checked against the document) or with the model alone.
///
/// A document whose prompt and summary do not fit ``contextTokens`` is cut at sentence boundaries into pieces
/// that fit (the passage chunker, at a character length from the document's own characters per token); every
/// piece is summarized (all pieces, and under auto all candidates, decode together in batches of
/// ``batchSize``), the partial summaries are joined in document order, and that text is summarized once more
/// (cut again, at most ``maximumDepth`` passes in all, if the partials themselves do not fit). Under auto each
/// candidate lambda summarizes the pieces and combines its own partial summaries.
public struct DocumentSummarizer: Sendable {
    public static let defaultTemplate = "prompts/summarize.txt"

    public var decoder: OutputDecoder
    public let template: PromptTemplate
    public var selfCheck: SelfCheck?
    /// Tokens a prompt and its summary may take together (capped by the model's context length).
    public var contextTokens = 2048
    /// More pieces than this at the first level: the document is reported as too long.
    public var maximumChunks = 32
    /// Sequences decoded in one batch.
    public var batchSize = 8
    /// How the document is cut into the passages the summary is checked against.
    public var passageChunker = Chunker(target: .characters(1000))
    public static let maximumDepth = 5

    public init(decoder: OutputDecoder, template: PromptTemplate, selfCheck: SelfCheck? = nil) {
        self.decoder = decoder
        self.template = template
        self.selfCheck = selfCheck
    }

    /// The user turn with no document: what fluency is measured after, and what naturalness compares against.
    public func instruction() throws -> String {
        try template.messages(["document": "", "title": ""]).last!.content
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The prompt's token ids for `text`.
    public func prompt(_ text: String, title: String) throws -> [Int] {
        try decoder.encode(template.messages(["document": text, "title": title]))
    }

    /// The budget a prompt may use: the context (at most the model's) less the summary's tokens.
    var promptBudget: Int { min(contextTokens, decoder.bundle.model.config.contextLength) - decoder.maxTokens }

    /// Summarizes `document`, naming it `id` in the result.
    /// - Throws: ``PipelineError/emptyDocument(id:)``, ``PipelineError/documentTooLong(id:pieces:limit:)``, or a
    ///   decoding or checking error.
    public func summarize(_ document: ExtractedDocument, id: String) throws -> DocumentSummary {
        let start = Date()
        let text = document.text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw PipelineError.emptyDocument(id: id) }
        guard selfCheck != nil || decoder.policies.count == 1 else { throw PipelineError.autoNeedsChecker }
        var tally = Tally()
        let policies = decoder.policies
        let outputs = try condense(Array(repeating: text, count: policies.count), policies: policies,
                                   title: document.title, id: id, depth: 0, tally: &tally)
        var result = DocumentSummary(
            id: id, source: document.source, title: document.title, summary: "", lambda: nil, words: 0,
            chunks: tally.chunks ?? 1, promptTokens: tally.promptTokens, generatedTokens: tally.generatedTokens,
            truncated: false, seconds: 0)
        var chosen = 0
        if let selfCheck {
            let passages = passageChunker.passages(of: text).enumerated().map { index, passage in
                Factuality.Passage(id: "\(index + 1)", text: passage.text)
            }
            let scored = try decoder.score(outputs, context: try instruction(), question: nil, passages: passages,
                                           check: selfCheck)
            let choice = decoder.choose(scored)
            chosen = choice.chosen
            result.candidates = choice.candidates
            result.chosen = choice.candidates == nil ? nil : chosen
            result.rule = choice.rule
            result.check = scored[chosen].report
            result.correctness = scored[chosen].candidate.correctness
            result.naturalness = scored[chosen].candidate.naturalness
        }
        result.summary = outputs[chosen].text.trimmingCharacters(in: .whitespacesAndNewlines)
        result.words = result.summary.split(whereSeparator: \.isWhitespace).count
        result.lambda = outputs[chosen].lambda
        result.truncated = outputs[chosen].truncated
        result.seconds = Date().timeIntervalSince(start)
        return result
    }

    /// Token counts over every pass of one document.
    struct Tally {
        var promptTokens = 0
        var generatedTokens = 0
        /// Pieces at the first level (nil until known).
        var chunks: Int?
    }

    /// Summarizes `texts[j]` with `policies[j]`, one output per policy: whole when the prompt fits, else piece by
    /// piece and then the joined partial summaries once more.
    func condense(_ texts: [String], policies: [LambdaPolicy], title: String, id: String, depth: Int,
                  tally: inout Tally) throws -> [DecodedOutput] {
        var jobs: [(prompt: [Int], policy: LambdaPolicy)] = []
        var ranges: [Range<Int>] = []  // the jobs of each text
        for (text, policy) in zip(texts, policies) {
            let pieces = try self.pieces(of: text, title: title, id: id)
            if depth == 0, tally.chunks == nil { tally.chunks = pieces.count }
            if depth == 0, pieces.count > maximumChunks {
                throw PipelineError.documentTooLong(id: id, pieces: pieces.count, limit: maximumChunks)
            }
            ranges.append(jobs.count..<(jobs.count + pieces.count))
            jobs += pieces.map { ($0, policy) }
        }
        var outputs: [DecodedOutput] = []
        for start in stride(from: 0, to: jobs.count, by: batchSize) {
            let batch = Array(jobs[start..<min(jobs.count, start + batchSize)])
            outputs += try decoder.decode(batch).outputs
        }
        tally.promptTokens += jobs.reduce(0) { $0 + $1.prompt.count }
        tally.generatedTokens += outputs.reduce(0) { $0 + $1.tokens.count }
        var result = ranges.map { outputs[$0.lowerBound] }
        let split = ranges.indices.filter { ranges[$0].count > 1 }
        guard !split.isEmpty else { return result }
        guard depth + 1 < Self.maximumDepth else {
            throw PipelineError.summariesDoNotFit(id: id, passes: Self.maximumDepth)
        }
        let joined = split.map { j in
            ranges[j].map { outputs[$0].text.trimmingCharacters(in: .whitespacesAndNewlines) }
                .filter { !$0.isEmpty }.joined(separator: "\n\n")
        }
        let combined = try condense(joined, policies: split.map { policies[$0] }, title: title, id: id,
                                    depth: depth + 1, tally: &tally)
        for (k, j) in split.enumerated() { result[j] = combined[k] }
        return result
    }

    /// The prompts `text` needs: one when it fits the budget, else one per piece cut to fit.
    func pieces(of text: String, title: String, id: String) throws -> [[Int]] {
        let budget = promptBudget
        let whole = try prompt(text, title: title)
        if whole.count <= budget { return [whole] }
        let overhead = try prompt("", title: title).count
        guard budget - overhead >= 16 else {
            throw PipelineError.documentTooLong(id: id, pieces: 0, limit: maximumChunks)
        }
        // Characters per piece from the text's own characters per token, with room to spare; smaller again when a
        // piece still does not fit (a dense stretch of numbers or a foreign script).
        var characters = max(64, Int(Double(budget - overhead) * Double(text.count) / Double(whole.count - overhead) * 0.85))
        for _ in 0..<4 {
            let prompts = try Chunker(target: .characters(characters)).passages(of: text)
                .map { try prompt($0.text, title: title) }
            if prompts.allSatisfy({ $0.count <= budget }) { return prompts }
            characters = max(32, characters * 2 / 3)
        }
        throw PipelineError.documentTooLong(id: id, pieces: 0, limit: maximumChunks)
    }
}
