import Foundation
import Inference
import Tokenization

/// An instruct model's verdict on one claim: how much more it puts on "yes" than on "no" as the first token of
/// its reply to "do these passages support this claim?".
public struct VerdictScore: Sendable, Hashable, Codable {
    /// Log-probability of the first reply token being a form of "yes" ("Yes", "yes", " yes", ...).
    public var yes: Double
    /// The same for "no".
    public var no: Double

    public init(yes: Double, no: Double) {
        self.yes = yes
        self.no = no
    }

    /// `yes - no`: positive when the model leans towards "supported".
    public var logOdds: Double { yes - no }

    enum CodingKeys: String, CodingKey { case yes, no, logOdds }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(yes: try container.decode(Double.self, forKey: .yes), no: try container.decode(Double.self, forKey: .no))
    }

    /// Writes `logOdds` too, so a JSON reader sees the signal itself.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(yes, forKey: .yes)
        try container.encode(no, forKey: .no)
        try container.encode(logOdds, forKey: .logOdds)
    }
}

/// Model-based entailment: an instruct model reads the passages, the question and one claim, and is asked whether
/// the passages support the claim; the score is the log-odds of its first reply token being "yes" against "no".
///
/// Unlike word overlap, the model can tell "completed in 1889" (the passage says "built from 1887 to 1889") from
/// "completed in 1987", and "Hobart is the capital of Australia" from the passage's "Hobart, the capital of
/// Tasmania". All claims of all answers checked in one call share the prompt up to where they differ (the
/// passages, the question): that part is run once and its KV cache copied for each claim, and the claims' own
/// tokens run as one batch.
public struct ModelVerdict: Sendable {
    public let model: DecoderModel
    public let tokenizer: Tokenizer
    public let chat: ChatTemplate
    /// The chat prompt for a claim that answers a question: `{{passages}}`, `{{question}}`, `{{claim}}`. It asks
    /// whether the claim is a correct answer according to the passages, so a true sentence that answers another
    /// question ("Hobart is the capital of Tasmania" to "What is the capital of Australia?") is not supported.
    public var prompt: PromptTemplate
    /// The chat prompt for a claim on its own (a summary's): `{{passages}}`, `{{claim}}`.
    public var claimPrompt: PromptTemplate
    /// What the model reads: the passages whole, or cut to the claims' evidence windows
    /// (``EvidenceIndex/focused(on:)``, a few sentences: several times faster).
    public var context = VerdictContext.evidence
    /// Passage text beyond this many characters is cut (the passages are joined in order first).
    public var maxPassageCharacters = 4_000
    /// Claim text beyond this many characters is cut.
    public var maxClaimCharacters = 600
    /// Most claim tokens one batched pass holds; more run in several passes.
    public var rowsPerPass = 256
    let yesTokens: [Int]
    let noTokens: [Int]

    /// How both prompts begin: the same tokens up to the end of the passages, so one prefill serves both.
    static let promptHead = """
        [system]
        You are a helpful assistant.
        [user]
        Read the text below, then answer the question that follows it.

        Text:
        {{passages}}


        """

    /// The question prompt the calibration was fitted with (``CalibrationProfile/verdictPrompt`` records it).
    public static let defaultPrompt = promptHead + """
        Question: {{question}}
        Proposed answer: {{claim}}

        Is the proposed answer correct according to the text? Answer "yes" or "no".
        """

    /// The claim prompt the calibration was fitted with (``CalibrationProfile/verdictClaimPrompt``).
    public static let defaultClaimPrompt = promptHead + """
        Statement: {{claim}}

        Is the statement true according to the text? Answer "yes" or "no".
        """

    /// - Throws: ``VerdictError`` when the checkpoint has no chat template or its vocabulary spells neither
    ///   "yes" nor "no" as one token.
    public init(bundle: ModelBundle, prompt: PromptTemplate, claimPrompt: PromptTemplate) throws {
        guard let chat = bundle.chatTemplate else { throw VerdictError.noChatTemplate(model: bundle.path) }
        self.model = bundle.model
        self.tokenizer = bundle.tokenizer
        self.chat = chat
        self.prompt = prompt
        self.claimPrompt = claimPrompt
        func singleTokens(_ words: [String]) -> [Int] {
            var ids = Set<Int>()
            for word in words {
                let encoded = bundle.tokenizer.encode(word, addSpecial: false, parseSpecial: false)
                if encoded.count == 1 { ids.insert(encoded[0]) }
            }
            return ids.sorted()
        }
        yesTokens = singleTokens(["Yes", "yes", " Yes", " yes", "YES"])
        noTokens = singleTokens(["No", "no", " No", " no", "NO"])
        guard !yesTokens.isEmpty, !noTokens.isEmpty else { throw VerdictError.noYesNoTokens(model: bundle.path) }
    }

    /// The verdict as `profile` was fitted: its prompts and context (the defaults where it records none).
    /// - Throws: ``PromptTemplateError`` for a recorded prompt that does not parse, or ``VerdictError``.
    public init(bundle: ModelBundle, profile: CalibrationProfile?) throws {
        try self.init(bundle: bundle,
                      prompt: PromptTemplate(text: profile?.verdictPrompt ?? Self.defaultPrompt, path: "the calibration's verdictPrompt"),
                      claimPrompt: PromptTemplate(text: profile?.verdictClaimPrompt ?? Self.defaultClaimPrompt,
                                                  path: "the calibration's verdictClaimPrompt"))
        context = profile?.verdictContext ?? .evidence
    }

    /// The prompt's messages for one claim.
    func messages(claim: String, passages: [Passage], question: String?) throws -> [ChatMessage] {
        var context = passages.enumerated().map { "[\($0.offset + 1)] \($0.element.text)" }.joined(separator: "\n")
        if context.count > maxPassageCharacters { context = String(context.prefix(maxPassageCharacters)) + "…" }
        var claimText = claim.trimmingCharacters(in: .whitespacesAndNewlines)
        if claimText.count > maxClaimCharacters { claimText = String(claimText.prefix(maxClaimCharacters)) + "…" }
        var values = ["passages": context, "claim": claimText]
        if let question { values["question"] = question.trimmingCharacters(in: .whitespacesAndNewlines) }
        return try (question == nil ? claimPrompt : prompt).messages(values)
    }

    /// The prompt's tokens for one claim.
    public func promptTokens(claim: String, passages: [Passage], question: String?) throws -> [Int] {
        chat.encode(try messages(claim: claim, passages: passages, question: question), tokenizer: tokenizer,
                    addGenerationPrompt: true)
    }

    /// What the model reads for claims whose evidence windows are `evidence`: the passages whole, or (the
    /// default ``VerdictContext/evidence``) those windows and the question's best window, merged per passage.
    public func passages(in index: EvidenceIndex, evidence: [Evidence], question: String?) -> [Passage] {
        guard context == .evidence else { return index.passages }
        let asked = question.flatMap { LexicalSignals(claim: $0, index: index).evidence }.map { [$0] } ?? []
        let focused = index.focused(on: evidence + asked)
        return focused.isEmpty ? index.passages : focused
    }

    /// The verdicts on the claims of several outputs (answers, summaries) in one call, one list per output. The
    /// first claim of an output is its answer to `question` and is asked about as one; later claims (details,
    /// reasons) are asked about as statements, so a true detail is not judged "not an answer".
    public func score(outputs: [[String]], passages: [Passage], question: String?) throws -> [[VerdictScore]] {
        let asked = outputs.flatMap { claims in
            claims.enumerated().map { (claim: $0.element, question: $0.offset == 0 ? question : nil) }
        }
        let scores = try score(claims: asked, passages: passages)
        var start = 0
        return outputs.map { claims in
            defer { start += claims.count }
            return Array(scores[start..<(start + claims.count)])
        }
    }

    /// The verdict on each claim (claims may repeat; each is scored once). With a question, each claim is asked
    /// about as an answer to it.
    public func score(claims: [String], passages: [Passage], question: String?) throws -> [VerdictScore] {
        try score(claims: claims.map { ($0, question) }, passages: passages)
    }

    /// The verdict on each claim, asked about as an answer to its question when it has one, else as a statement.
    /// Both prompts begin alike, so the passages are read once for all of them.
    public func score(claims: [(claim: String, question: String?)], passages: [Passage]) throws -> [VerdictScore] {
        guard !claims.isEmpty else { return [] }
        let prompts = try claims.map { try promptTokens(claim: $0.claim, passages: passages, question: $0.question) }
        var unique: [[Int]] = []
        var slot: [[Int]: Int] = [:]
        let slots = prompts.map { tokens -> Int in
            if let s = slot[tokens] { return s }
            slot[tokens] = unique.count
            unique.append(tokens)
            return unique.count - 1
        }
        let scores = try score(prompts: unique)
        return slots.map { scores[$0] }
    }

    /// Runs the longest prefix the prompts share once, then the rest of every prompt in batched passes, and reads
    /// the yes/no probabilities at each prompt's last token.
    func score(prompts: [[Int]]) throws -> [VerdictScore] {
        var shared = prompts[0].count - 1
        for tokens in prompts.dropFirst() {
            shared = min(shared, tokens.count - 1)
            var i = 0
            while i < shared, tokens[i] == prompts[0][i] { i += 1 }
            shared = i
        }
        let longest = prompts.map(\.count).max()!
        let vocabulary = model.config.vocabularySize
        let cache = model.makeCache(capacity: longest)
        if shared > 0 { _ = try model.forward(DecoderBatch(prompt: Array(prompts[0][..<shared])), caches: [cache]) }

        var groups: [[Int]] = [[]]
        var rows = 0
        for (i, tokens) in prompts.enumerated() {
            let count = tokens.count - shared
            if rows + count > rowsPerPass, !groups[groups.count - 1].isEmpty {
                groups.append([])
                rows = 0
            }
            groups[groups.count - 1].append(i)
            rows += count
        }
        var result = [VerdictScore](repeating: VerdictScore(yes: 0, no: 0), count: prompts.count)
        for group in groups {
            var batch = DecoderBatch()
            var caches: [KVCache] = []
            for (slot, i) in group.enumerated() {
                caches.append(groups.count == 1 && group.count == 1 ? cache : cache.copy())
                let suffix = prompts[i][shared...]
                for (j, token) in suffix.enumerated() {
                    batch.append(token: token, sequence: slot, wantsLogits: j == suffix.count - 1)
                }
            }
            let logits = try model.forward(batch, caches: caches)
            logits.withUnsafeBufferPointer { buffer in
                for (slot, i) in group.enumerated() {
                    result[i] = verdict(buffer.baseAddress! + slot * vocabulary, vocabulary)
                }
            }
        }
        return result
    }

    /// The log-probabilities of the yes and no token sets in one logits row.
    private func verdict(_ row: UnsafePointer<Float>, _ count: Int) -> VerdictScore {
        let softmax = LogSoftmax(row, count)
        return VerdictScore(yes: softmax.logProbability(of: yesTokens), no: softmax.logProbability(of: noTokens))
    }
}

/// What the verdict model reads of the passages.
public enum VerdictContext: String, Sendable, Hashable, Codable, CaseIterable {
    /// The passages whole (up to ``ModelVerdict/maxPassageCharacters``).
    case whole
    /// The sentence windows that share the most words with the claims, merged per passage.
    case evidence
}

/// Why a model cannot give verdicts.
public enum VerdictError: Error, Equatable, CustomStringConvertible {
    case noChatTemplate(model: String)
    case noYesNoTokens(model: String)

    public var description: String {
        switch self {
        case let .noChatTemplate(model):
            "\(model) has no chat template; the model verdict asks an instruct model a question"
        case let .noYesNoTokens(model): "\(model): its vocabulary has no single token for \"yes\" or \"no\""
        }
    }
}
