import ArgumentParser
import Factuality
import Foundation
import Inference
import Pipelines
import Tokenization

extension CheckerScorer: ExpressibleByArgument {}
extension VerdictContext: ExpressibleByArgument {}

/// The checker's scorer and the models behind it.
struct CheckerOptions: ParsableArguments {
    @Option(name: .customLong("checker"), help: ArgumentHelp(
        "How claims are scored: verdict, pmi or lexical.",
        discussion: "verdict: an instruct model reads the passages and says whether they support each claim (the calibrated yes/no log-odds, with the lexical signals). pmi: how much the passages raise the reference model's likelihood of the claim. lexical: word overlap and hard facts only, no model (fastest)."))
    var scorer: CheckerScorer = .verdict

    @Option(help: "The instruct model that gives verdicts (default: the model the calibration was fitted with, \(CheckerModel.path)).")
    var verdictModel: String?

    @Option(help: "What the verdict model reads: evidence (the sentences that share the most words with each claim and with the question; the default unless the calibration says otherwise) or whole (the passages whole: slower).")
    var verdictContext: VerdictContext?

    @Option(help: "A verdict prompt file for claims that answer a question ([system]/[user] sections with {{passages}}, {{question}}, {{claim}}) instead of the calibrated one: for fitting a new calibration.")
    var verdictPrompt: String?

    @Option(help: "A verdict prompt file for claims checked without a question ({{passages}}, {{claim}}).")
    var verdictClaimPrompt: String?

    /// The verdict model: `reusing` when it is the same checkpoint file (no second copy in memory).
    func verdict(profile: CalibrationProfile?, reusing bundle: ModelBundle?, workers: Int) throws -> ModelVerdict {
        let path = verdictModel ?? CheckerModel.path
        let model: ModelBundle
        if let bundle, (bundle.path as NSString).lastPathComponent == (path as NSString).lastPathComponent {
            model = bundle
        } else {
            guard FileManager.default.fileExists(atPath: path) else {
                throw CommandError("verdict model not found: \(path)\(path == CheckerModel.path ? " (\(CheckerModel.fetch))" : ""); --checker lexical needs no model")
            }
            model = try ModelBundle.open(path, workers: workers)
        }
        do {
            var verdict = try ModelVerdict(bundle: model, profile: profile)
            if let verdictPrompt { verdict.prompt = try PromptTemplate(contentsOf: verdictPrompt) }
            if let verdictClaimPrompt { verdict.claimPrompt = try PromptTemplate(contentsOf: verdictClaimPrompt) }
            if let verdictContext { verdict.context = verdictContext }
            return verdict
        } catch let error as PromptTemplateError { throw CommandError("\(error)") }
        catch let error as VerdictError { throw CommandError("\(error)") }
    }

    /// The checker for `profile`: `scorer`'s models opened (reusing `answering` where it is the same checkpoint).
    func checker(profile: CalibrationProfile, calibrationPath: String, scorer: CheckerScorer? = nil,
                 answering: ModelBundle?, pmiModel: (() throws -> ModelBundle)? = nil, workers: Int) throws
        -> FactualityChecker {
        var grounding: ModelGrounding?
        var verdict: ModelVerdict?
        switch scorer ?? self.scorer {
        case .lexical: break
        case .pmi:
            // The PMI calibration was fitted on SmolLM2's PMI: score with that model whatever answers.
            let model = try pmiModel?() ?? ((answering.map { ($0.path as NSString).lastPathComponent } == (EngineModel.path as NSString).lastPathComponent)
                ? answering! : try ModelOptions<EngineModel>.openDefault(workers: workers))
            grounding = ModelGrounding(bundle: model)
        case .verdict:
            verdict = try self.verdict(profile: profile, reusing: answering, workers: workers)
        }
        do { return try FactualityChecker(profile: profile, grounding: grounding, verdict: verdict, path: calibrationPath) }
        catch let error as CalibrationError { throw CommandError("\(error)") }
    }
}
