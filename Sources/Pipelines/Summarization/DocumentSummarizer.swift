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
/// piece is summarized (all pieces, under auto all candidates, and several documents given at once, decode
/// together in batches of ``batchSize``), the partial summaries are joined in document order, and that text is summarized once more
/// (cut again, at most ``maximumDepth`` passes in all, if the partials themselves do not fit). Under auto each
/// candidate lambda summarizes the pieces and combines its own partial summaries.
public struct DocumentSummarizer: Sendable {
    public static let defaultTemplate = "prompts/summarize.txt"

    public var decoder: OutputDecoder
    public let template: PromptTemplate
    /// The checker of each summary against its document; its naturalness is scored with the summary length range
    /// (``ExpectedLength/summary``) whatever the check was built with.
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
        try summarize([(document, id)])[0].get()
    }

    /// Summarizes several documents, their pieces and candidates decoding together in batches of ``batchSize``
    /// sequences (each sequence decodes as it would alone, so the summaries are those of one document at a time).
    /// A document that fails (empty, too long) fails alone. `seconds` of each summary is its share of the batch's
    /// decoding time plus its own check.
    /// - Returns: one result per document, in order.
    public func summarize(_ documents: [(document: ExtractedDocument, id: String)]) -> [Result<DocumentSummary, any Error>] {
        let start = Date()
        guard selfCheck != nil || decoder.policies.count == 1 else {
            return documents.map { _ in .failure(PipelineError.autoNeedsChecker) }
        }
        var failures: [Int: any Error] = [:]
        var tallies = [Tally](repeating: Tally(), count: documents.count)
        let texts = documents.map { $0.document.text.trimmingCharacters(in: .whitespacesAndNewlines) }
        let policies = decoder.policies
        var items: [Item] = []
        for (owner, text) in texts.enumerated() {
            guard !text.isEmpty else { failures[owner] = PipelineError.emptyDocument(id: documents[owner].id); continue }
            items += policies.map { Item(text: text, policy: $0, title: documents[owner].document.title, owner: owner) }
        }
        let outputs = condense(items, ids: documents.map(\.id), depth: 0, tallies: &tallies, failures: &failures)
        let decoded = Set(items.map(\.owner)).subtracting(failures.keys)
        let decodeShare = Date().timeIntervalSince(start) / Double(max(1, decoded.count))
        return documents.indices.map { owner in
            if let failure = failures[owner] { return .failure(failure) }
            let own = items.indices.filter { items[$0].owner == owner }.map { outputs[$0]! }
            return Result {
                try finish(documents[owner].document, id: documents[owner].id, text: texts[owner], outputs: own,
                           tally: tallies[owner], decodeSeconds: decodeShare)
            }
        }
    }

    /// The summary of one document from its decoded candidates: checked, chosen, counted.
    func finish(_ document: ExtractedDocument, id: String, text: String, outputs: [DecodedOutput], tally: Tally,
                decodeSeconds: Double) throws -> DocumentSummary {
        let start = Date()
        var result = DocumentSummary(
            id: id, source: document.source, title: document.title, summary: "", lambda: nil, words: 0,
            chunks: tally.chunks ?? 1, promptTokens: tally.promptTokens, generatedTokens: tally.generatedTokens,
            truncated: false, seconds: 0)
        var chosen = 0
        if var selfCheck {
            selfCheck.naturalness = NaturalnessScorer(expected: .summary)
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
        result.seconds = decodeSeconds + Date().timeIntervalSince(start)
        return result
    }

    /// Token counts over every pass of one document.
    struct Tally {
        var promptTokens = 0
        var generatedTokens = 0
        /// Pieces at the first level (nil until known).
        var chunks: Int?
    }

    /// One text to summarize at one policy, for document `owner`.
    struct Item {
        var text: String
        var policy: LambdaPolicy
        var title: String
        var owner: Int
    }

    /// Summarizes each item's text with its policy, one output per item (nil when its document failed): whole
    /// when the prompt fits, else piece by piece and then the joined partial summaries once more. Every item's
    /// pieces decode together; a failure (too long, a decoding error) is recorded for the documents it concerns.
    func condense(_ items: [Item], ids: [String], depth: Int, tallies: inout [Tally], failures: inout [Int: any Error])
        -> [DecodedOutput?] {
        var jobs: [(prompt: [Int], policy: LambdaPolicy)] = []
        var owners: [Int] = []  // the document of each job
        var ranges = [Range<Int>?](repeating: nil, count: items.count)  // the jobs of each item
        var piecesOfText: [String: [[Int]]] = [:]  // the candidates of one document share its pieces
        for (i, item) in items.enumerated() where failures[item.owner] == nil {
            do {
                let key = "\(item.owner)\u{1F}\(item.text)"
                let pieces = try piecesOfText[key] ?? self.pieces(of: item.text, title: item.title, id: ids[item.owner])
                piecesOfText[key] = pieces
                if depth == 0 {
                    if tallies[item.owner].chunks == nil { tallies[item.owner].chunks = pieces.count }
                    if pieces.count > maximumChunks {
                        throw PipelineError.documentTooLong(id: ids[item.owner], pieces: pieces.count, limit: maximumChunks)
                    }
                }
                ranges[i] = jobs.count..<(jobs.count + pieces.count)
                jobs += pieces.map { ($0, item.policy) }
                owners += Array(repeating: item.owner, count: pieces.count)
            } catch {
                failures[item.owner] = error
            }
        }
        var outputs = [DecodedOutput?](repeating: nil, count: jobs.count)
        for start in stride(from: 0, to: jobs.count, by: batchSize) {
            let range = start..<min(jobs.count, start + batchSize)
            // Jobs of documents that failed meanwhile are not decoded.
            let live = range.filter { failures[owners[$0]] == nil }
            guard !live.isEmpty else { continue }
            do {
                let decoded = try decoder.decode(live.map { jobs[$0] }).outputs
                for (k, j) in live.enumerated() {
                    outputs[j] = decoded[k]
                    tallies[owners[j]].promptTokens += jobs[j].prompt.count
                    tallies[owners[j]].generatedTokens += decoded[k].tokens.count
                }
            } catch {
                for j in live { failures[owners[j]] = error }
            }
        }
        var result: [DecodedOutput?] = items.indices.map { i in
            guard let range = ranges[i], failures[items[i].owner] == nil else { return nil }
            return outputs[range.lowerBound]
        }
        let split = items.indices.filter { (ranges[$0]?.count ?? 0) > 1 && failures[items[$0].owner] == nil }
        guard !split.isEmpty else { return result }
        var next: [Item] = []
        for i in split {
            guard depth + 1 < Self.maximumDepth else {
                failures[items[i].owner] = PipelineError.summariesDoNotFit(id: ids[items[i].owner], passes: Self.maximumDepth)
                continue
            }
            let joined = ranges[i]!.compactMap { outputs[$0]?.text.trimmingCharacters(in: .whitespacesAndNewlines) }
                .filter { !$0.isEmpty }.joined(separator: "\n\n")
            next.append(Item(text: joined, policy: items[i].policy, title: items[i].title, owner: items[i].owner))
        }
        let combined = condense(next, ids: ids, depth: depth + 1, tallies: &tallies, failures: &failures)
        var k = 0
        for i in split where depth + 1 < Self.maximumDepth {
            result[i] = failures[items[i].owner] == nil ? combined[k] : nil
            k += 1
        }
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
