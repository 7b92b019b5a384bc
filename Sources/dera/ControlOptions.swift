import ArgumentParser
import Control
import Factuality
import Foundation
import Inference
import Pipelines

/// How a generating command checks itself and how `--lambda auto` chooses.
struct ControlOptions: ParsableArguments {
    @Option(help: "Candidate lambdas --lambda auto decodes in one batch (comma-separated; 0 is always added).")
    var candidates: String?

    @Option(help: ArgumentHelp(
        "How auto chooses among candidates: most-correct[:MARGIN], natural-at-least:TARGET or weighted:W.",
        discussion: "most-correct (the default, margin 0.02) keeps the candidate the checker scores highest, the most natural of near ties; natural-at-least keeps the most natural candidate whose checker score reaches TARGET; weighted maximises W * correctness + (1 - W) * naturalness."))
    var rule: String?

    @Option(help: "The tuned-lambda file `dera tune` writes (used when --lambda is not given).")
    var tuned: String = TunedLambda.defaultPath

    @Flag(help: "Do not check the answer (only with a fixed lambda).")
    var noCheck = false

    @OptionGroup(title: "Checker") var checker: CheckerOptions

    @Flag(help: "Naturalness without the fluency pass (flags and length only).")
    var noFluency = false

    func validate() throws {
        if let rule, SelectionRule(rule) == nil {
            throw ValidationError("--rule must be most-correct[:MARGIN], natural-at-least:TARGET or weighted:W with numbers in [0, 1], got '\(rule)'")
        }
        _ = try candidateLambdas()
    }

    func candidateLambdas() throws -> [Float]? {
        guard let candidates else { return nil }
        return try NumericFlags.lambdas("--candidates", candidates)
    }

    /// The saved choice for this model and adapter, if the file holds one.
    func tunedChoice(model: String, adapter: String?) throws -> TunedLambda? {
        do { return try TunedLambda.load(tuned, model: model, adapter: adapter) }
        catch let error as ControlError { throw CommandError("\(error)") }
    }

    /// The lambda setting: --lambda when given, else the tuned file's choice, else auto (--candidates and --rule
    /// override auto's). Without a checker to choose with (`canChoose` false) auto becomes the tuned lambda, else 1.
    func setting(_ lambda: LambdaArgument?, model: String, adapter: String?, canChoose: Bool = true) throws -> LambdaSetting {
        let tuned = try tunedChoice(model: model, adapter: adapter)
        let (candidates, rule) = (try candidateLambdas(), self.rule.flatMap(SelectionRule.init))
        let setting: LambdaSetting
        switch lambda {
        case let .value(value)?: setting = .fixed(value)
        case .auto?: setting = .auto(tuned: tuned, candidates: candidates, rule: rule)
        case nil: setting = .tuned(tuned, candidates: candidates, rule: rule)
        }
        if !canChoose, case .auto = setting { return .fixed(tuned?.lambda ?? 1) }
        return setting
    }

    /// The DeRa side of a generating command: the aligned pair and the lambda setting (--lambda, else the tuned
    /// choice, else auto; an adaptive --lambda-policy replaces it), or nil for the model alone (no aligned side, or
    /// lambda 0, the reference).
    func realignment(_ options: RealignmentOptions, model: some ModelChoice, bundle: ModelBundle) throws
        -> GroundedAnswerer.Realignment? {
        guard options.isRealigning(model) else { return nil }
        var setting = try self.setting(options.lambda, model: model.model, adapter: options.adapterPath(model),
                                       canChoose: !noCheck)
        if options.policy.kind != .fixed { setting = .policy(options.policy.policy(fixed: 0)) }
        // Lambda 0 is the reference alone: no aligned rows to compute.
        guard setting != .fixed(0), let pair = try options.pair(reference: bundle, model) else { return nil }
        return .init(pair: pair, setting: setting)
    }

    /// The self-check for outputs of `bundle`'s model (`defaultProfile` when --profile is not given).
    func selfCheck(bundle: ModelBundle, calibration: CalibrationOptions,
                   defaultProfile: String = PipelineConfiguration.defaultAnswerProfile) throws -> SelfCheck {
        try Self.selfCheck(bundle: bundle, calibration: calibration, checker: checker, fluency: !noFluency,
                           defaultProfile: defaultProfile)
    }

    /// The self-check with `checker`'s scorer and naturalness with or without fluency.
    static func selfCheck(bundle: ModelBundle, calibration: CalibrationOptions, checker options: CheckerOptions,
                          fluency: Bool, defaultProfile: String = PipelineConfiguration.defaultAnswerProfile) throws -> SelfCheck {
        // Grounded answers are checked with the profile fitted on grounded answers, unless told otherwise.
        var calibration = calibration
        calibration.defaultProfile = defaultProfile
        let checker = try options.checker(profile: try calibration.load(), calibrationPath: calibration.calibration,
                                          answering: bundle, workers: bundle.model.workers)
        return SelfCheck(checker: checker, fluency: fluency ? ModelGrounding(bundle: bundle) : nil)
    }
}

/// The lambda `dera generate` uses when none is given: the tuned file's lambda for this model and adapter, else 1
/// (the aligned model).
func tunedLambda(model: some ModelChoice, adapter: String?, path: String = TunedLambda.defaultPath) throws -> Float {
    do { return try TunedLambda.load(path, model: model.model, adapter: adapter)?.lambda ?? 1 }
    catch let error as ControlError { throw CommandError("\(error)") }
}
