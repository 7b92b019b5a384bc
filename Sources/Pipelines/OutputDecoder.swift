import Control
import Factuality
import Foundation
import Inference
import Realign
import Tokenization

/// Decoding and self-checking shared by the pipelines that generate text from a prompt (grounded answers,
/// summaries): one batch of prompts and lambda policies decoded together, then each output checked against
/// passages and scored for naturalness.
public struct OutputDecoder: Sendable {
    public let bundle: ModelBundle
    /// The model pair and how lambda is decided; nil decodes with the bundle's model alone.
    public var realignment: GroundedAnswerer.Realignment?
    public var maxTokens: Int
    public var sampling: SamplingParameters
    /// Where outputs end before the token limit when the model runs on (``TextStop``); nil: only at an
    /// end-of-generation token.
    public var textStop: TextStop?

    public init(bundle: ModelBundle, realignment: GroundedAnswerer.Realignment?, maxTokens: Int,
                sampling: SamplingParameters, textStop: TextStop? = nil) {
        self.bundle = bundle
        self.realignment = realignment
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.textStop = textStop
    }

    /// The policies one prompt is decoded with: the setting's (lambda 0 first under auto), or the model alone.
    public var policies: [LambdaPolicy] { realignment?.setting.policies ?? [.fixed(0)] }

    /// Token ids of a chat with the generation prompt appended.
    public func encode(_ messages: [ChatMessage]) throws -> [Int] {
        guard let chat = bundle.chatTemplate else { throw PipelineError.noChatTemplate(model: bundle.path) }
        return chat.encode(messages, tokenizer: bundle.tokenizer, addGenerationPrompt: true)
    }

    /// The loop that decodes these settings' requests: DeRa over the pair, or the model alone.
    public var decodingLoop: DecodingLoop {
        DecodingLoop(pair: realignment?.pair, alone: bundle)
    }

    /// What the loop produced, as decoded outputs (lambda nil for the model alone).
    public func decodedOutputs(_ outputs: [RealignedOutput]) -> [DecodedOutput] {
        outputs.map {
            DecodedOutput(policy: $0.policy, lambda: realignment == nil ? nil : $0.meanLambda, tokens: $0.tokens,
                          text: $0.text, truncated: !$0.finished)
        }
    }

    /// Decodes `requests` in one batch; `onText` streams the text when there is a single sequence.
    public func run(_ requests: [RealignmentRequest], onText: (String) -> Void = { _ in })
        throws -> (outputs: [DecodedOutput], tokensPerSecond: Double) {
        let (outputs, statistics) = try decodingLoop.generate(requests, onPiece: { piece in
            if requests.count == 1 { onText(piece.text) }
            return true
        })
        return (decodedOutputs(outputs), statistics.generationTokensPerSecond)
    }

    /// Decodes every (prompt, policy) job in one batch (a prompt shared by several jobs is prefilled once), with
    /// these settings' sampler and token limit; with no realignment every policy is the model alone. `onText`
    /// streams the text of a single job.
    /// - Returns: one output per job, in order, and the generation speed.
    public func decode(_ jobs: [(prompt: [Int], policy: LambdaPolicy)], onText: (String) -> Void = { _ in })
        throws -> (outputs: [DecodedOutput], tokensPerSecond: Double) {
        try run(jobs.map {
            RealignmentRequest(prompt: $0.prompt, policy: realignment == nil ? .fixed(0) : $0.policy,
                               sampling: sampling, maxTokens: maxTokens, textStop: textStop)
        }, onText: onText)
    }

    /// Scores decoded outputs: the checker against `passages` (claims asked about `question`, or checked as
    /// statements when it is nil), naturalness with fluency measured after `context` alone (the question, or the
    /// instruction without its document).
    public func score(_ outputs: [DecodedOutput], context: String, question: String?, passages: [Factuality.Passage],
                      check: SelfCheck) throws -> [(candidate: Candidate, report: FactualityReport)] {
        let texts = outputs.map { $0.text.trimmingCharacters(in: .whitespacesAndNewlines) }
        var fluencies = [Double?](repeating: nil, count: outputs.count)
        if let grounding = check.fluency {
            let asked = try encode([.user(context)])
            let scores = try grounding.meanLogProbabilities(of: outputs.map(\.tokens), after: asked)
            for i in outputs.indices where !outputs[i].tokens.isEmpty { fluencies[i] = scores[i] }
        }
        let reports = try check.checker.check(answers: texts, passages: passages, question: question)
        return outputs.indices.map { i in
            let report = reports[i]
            let naturalness = check.naturalness.report(texts[i], question: context, fluency: fluencies[i],
                                                       truncated: outputs[i].truncated)
            return (Candidate(label: outputs[i].label, lambda: outputs[i].lambda ?? 0, text: texts[i], correctness: Candidate.correctness(of: report),
                              naturalness: naturalness, tokens: outputs[i].tokens.count), report)
        }
    }

    /// Which scored output to keep: under auto the one the rule picks (with every candidate and the rule's name to
    /// report), otherwise the first.
    public func choose(_ scored: [(candidate: Candidate, report: FactualityReport)])
        -> (chosen: Int, candidates: [Candidate]?, rule: String?) {
        guard case let .auto(_, rule)? = realignment?.setting else { return (0, nil, nil) }
        return (rule.choose(scored.map(\.candidate)) ?? 0, scored.map(\.candidate), rule.description)
    }
}

extension DecodingLoop {
    /// DeRa over `pair`, or `bundle`'s model alone when there is no pair.
    public init(pair: RealignmentPair?, alone bundle: ModelBundle) {
        self = pair.map { DecodingLoop(pair: $0) } ?? DecodingLoop(model: bundle.model, tokenizer: bundle.tokenizer)
    }
}
