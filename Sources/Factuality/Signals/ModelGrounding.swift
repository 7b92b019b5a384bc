import Foundation
import Inference
import Tokenization

/// How much the passages raise the reference model's belief in one claim.
public struct GroundingScore: Sendable, Hashable, Codable {
    /// Mean per-token log-probability of the claim after the passages and the question.
    public var withPassages: Double
    /// Mean per-token log-probability of the claim after the question alone.
    public var withoutPassages: Double
    /// Claim tokens scored.
    public var tokens: Int

    /// Pointwise mutual information per token: `withPassages - withoutPassages`. Positive when the passages make
    /// the claim more likely.
    public var pmi: Double { withPassages - withoutPassages }

    public init(withPassages: Double, withoutPassages: Double, tokens: Int) {
        self.withPassages = withPassages
        self.withoutPassages = withoutPassages
        self.tokens = tokens
    }

    enum CodingKeys: String, CodingKey { case withPassages, withoutPassages, tokens, pmi }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(withPassages: try container.decode(Double.self, forKey: .withPassages),
                  withoutPassages: try container.decode(Double.self, forKey: .withoutPassages),
                  tokens: try container.decode(Int.self, forKey: .tokens))
    }

    /// Writes `pmi` too, so a JSON reader sees the signal itself.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(withPassages, forKey: .withPassages)
        try container.encode(withoutPassages, forKey: .withoutPassages)
        try container.encode(tokens, forKey: .tokens)
        try container.encode(pmi, forKey: .pmi)
    }
}

/// Model-based grounding: scores claims with the reference model, once after the passages and the question
/// and once after the question alone, and reports the per-token log-likelihood gain (PMI).
///
/// The passage prompt is run once and its KV cache copied for each claim, so an answer of many claims costs one
/// passage prefill plus the claims' own tokens, all claims in one batch.
public struct ModelGrounding: Sendable {
    public let model: DecoderModel
    public let tokenizer: Tokenizer
    /// Passage tokens beyond this are cut (the passages are joined in order first).
    public var maxPassageTokens = 1536
    /// Claim tokens beyond this are not scored.
    public var maxClaimTokens = 96
    /// Most rows one forward pass of claims holds; more claims run in several passes.
    public var rowsPerPass = 192

    public init(model: DecoderModel, tokenizer: Tokenizer) {
        self.model = model
        self.tokenizer = tokenizer
    }

    public init(bundle: ModelBundle) {
        self.init(model: bundle.model, tokenizer: bundle.tokenizer)
    }

    /// The two prompts a claim is scored after: with the passages and without them.
    func prompts(passages: [Passage], question: String?) -> (with: [Int], without: [Int]) {
        let tail = question.map { "Question: \($0)\nAnswer:" } ?? "Summary:"
        let context = passages.map(\.text).joined(separator: "\n\n")
        var with = tokenizer.encode("Passage:\n", addSpecial: true, parseSpecial: false)
        with += tokenizer.encode(context, addSpecial: false, parseSpecial: false).prefix(maxPassageTokens)
        with += tokenizer.encode("\n\n" + tail, addSpecial: false, parseSpecial: false)
        let without = tokenizer.encode(tail, addSpecial: true, parseSpecial: false)
        return (with, without)
    }

    /// Scores every claim against the passages; claims with no tokens score 0 on both sides.
    public func score(claims: [String], passages: [Passage], question: String?) throws -> [GroundingScore] {
        let (with, without) = prompts(passages: passages, question: question)
        let tokens = claims.map { claim -> [Int] in
            let text = claim.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty { return [] }
            return Array(tokenizer.encode(" " + text, addSpecial: false, parseSpecial: false).prefix(maxClaimTokens))
        }
        let conditional = try meanLogProbabilities(of: tokens, after: with)
        let unconditional = try meanLogProbabilities(of: tokens, after: without)
        return tokens.indices.map { i in
            GroundingScore(withPassages: conditional[i], withoutPassages: unconditional[i], tokens: tokens[i].count)
        }
    }

    /// Mean log-probability of each token sequence as a continuation of `prefix` (0 for an empty sequence).
    public func meanLogProbabilities(of sequences: [[Int]], after prefix: [Int]) throws -> [Double] {
        var result = [Double](repeating: 0, count: sequences.count)
        let scored = sequences.indices.filter { !sequences[$0].isEmpty }
        guard !scored.isEmpty, !prefix.isEmpty else { return result }
        let longest = scored.map { sequences[$0].count }.max()!
        let vocabulary = model.config.vocabularySize
        let cache = model.makeCache(capacity: prefix.count + longest)
        let last = try model.forward(DecoderBatch(prompt: prefix), caches: [cache])

        // Groups of claims that fit one pass; each claim continues its own copy of the prefix cache.
        var groups: [[Int]] = [[]]
        var rows = 0
        for i in scored {
            if rows + sequences[i].count > rowsPerPass, !groups[groups.count - 1].isEmpty {
                groups.append([])
                rows = 0
            }
            groups[groups.count - 1].append(i)
            rows += sequences[i].count
        }
        for group in groups {
            var batch = DecoderBatch()
            var caches: [KVCache] = []
            var firstRow: [Int] = []
            var logitRows = 0
            for (slot, i) in group.enumerated() {
                caches.append(cache.copy())
                firstRow.append(logitRows)
                let sequence = sequences[i]
                for (j, token) in sequence.enumerated() {
                    let wants = j < sequence.count - 1
                    batch.append(token: token, sequence: slot, wantsLogits: wants)
                    if wants { logitRows += 1 }
                }
            }
            let logits = try model.forward(batch, caches: caches)
            for (slot, i) in group.enumerated() {
                let sequence = sequences[i]
                var total = last.withUnsafeBufferPointer { logProbability(of: sequence[0], in: $0.baseAddress!, vocabulary) }
                logits.withUnsafeBufferPointer { buffer in
                    for j in 1..<max(1, sequence.count) where j < sequence.count {
                        let row = buffer.baseAddress! + (firstRow[slot] + j - 1) * vocabulary
                        total += logProbability(of: sequence[j], in: row, vocabulary)
                    }
                }
                result[i] = total / Double(sequence.count)
            }
        }
        return result
    }

    private func logProbability(of token: Int, in row: UnsafePointer<Float>, _ count: Int) -> Double {
        LogSoftmax(row, count).logProbability(of: [token])
    }
}

/// The log-softmax of one logits row, computed once: any token set's log-probability from it.
struct LogSoftmax {
    let row: UnsafePointer<Float>
    let maximum: Float
    /// `log(sum_k exp(row[k] - maximum))`.
    let logSum: Double

    init(_ row: UnsafePointer<Float>, _ count: Int) {
        var maximum = -Float.infinity
        for k in 0..<count { maximum = max(maximum, row[k]) }
        var sum: Double = 0
        for k in 0..<count { sum += Double(expf(row[k] - maximum)) }
        self.row = row
        self.maximum = maximum
        logSum = log(sum)
    }

    /// Log-probability that the next token is one of `ids` (one id: exactly its log-softmax value).
    func logProbability(of ids: [Int]) -> Double {
        if ids.count == 1 { return Double(row[ids[0]] - maximum) - logSum }
        let mass = ids.reduce(0.0) { $0 + Double(expf(row[$1] - maximum)) }
        return log(max(mass, Double.leastNormalMagnitude)) - logSum
    }
}
