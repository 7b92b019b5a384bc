import Tokenization
import Control
import Embedding
import Factuality
import Foundation
import Inference
import Realign
import Retrieval

/// Everything a grounded, checked answer needs, with the command line's defaults.
///
/// Paths are relative to the working directory unless absolute (``resolved(against:)`` roots them elsewhere).
public struct PipelineConfiguration: Sendable {
    /// The default answering model: Qwen2.5-Coder-1.5B-Instruct Q4_K_M (`scripts/setup --checker` fetches it; it is
    /// also the verdict model), the most accurate grounded answerer measured: 185 of the 200 out-of-distribution
    /// test questions right against 159 for the 0.5B, at about 2.3x the time per answer (docs/control.md).
    public static let defaultModel = "models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    /// The factuality checker's verdict model (``CheckerScorer/verdict``): Qwen2.5-Coder-1.5B-Instruct Q4_K_M, the
    /// model the committed calibration's verdict scorer was fitted with (docs/factuality.md says why not the 0.5B).
    /// The calibration profile grounded answers are checked with: the verdict combination refitted on dera's own
    /// answers to the dev questions (docs/factuality.md).
    public static let defaultAnswerProfile = "qa-answers"
    public static let defaultVerdictModel = "models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    /// The committed faithfulness adapters, by the file name of the model they were trained on. SmolLM2's is the
    /// on-policy one (its own samples, training/README.md): on the out-of-distribution test questions it lifts
    /// SmolLM2 from 0.43 to 0.69 right at lambda 0.5 (docs/realignment.md), where the HaluEval-pairs adapter
    /// (`smollm2-dpo-beta0.1`, still committed) made it less right at every lambda. The Qwen adapters do not help
    /// their models and are not defaults.
    public static let committedAdapters: [String: String] = [
        "SmolLM2-135M-Instruct.Q4_1.gguf": "models/adapters/smollm2-onpolicy-dpo-beta0.1",
    ]

    /// The committed adapter of `model` (matched by file name), if there is one.
    public static func committedAdapter(for model: String) -> String? {
        committedAdapters[(model as NSString).lastPathComponent]
    }
    public static let defaultStore = "data/wikipedia.sqlite"
    public static let defaultTemplate = "prompts/grounded-qa.txt"

    public var store = defaultStore
    public var model = defaultModel
    /// The aligned side as a LoRA adapter; nil decodes with the model alone.
    public var adapter: String? = committedAdapter(for: defaultModel)
    public var template = defaultTemplate
    public var calibration = CheckerCalibration.defaultPath
    public var profile = PipelineConfiguration.defaultAnswerProfile
    /// nil: the choice in ``tunedPath`` for this model and adapter, else auto.
    public var lambda: LambdaSetting?
    public var tunedPath: String? = TunedLambda.defaultPath
    public var passages = 3
    /// How passages are found; dense and hybrid need the store's vectors and ``embedder`` (hybrid falls back to
    /// BM25 without them).
    public var searchMode = SearchMode.hybrid
    /// The sentence embedder's folder (`scripts/setup --embedder`).
    public var embedder = SentenceEmbedder.defaultFolder
    public var maxTokens = 128
    public var sampling = SamplingParameters.greedy
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// How the checker scores claims: the instruct model's verdict (with ``verdictModel``), the reference
    /// model's PMI (with ``pmiModel``), or lexical signals only.
    public var checker = CheckerScorer.verdict
    /// The instruct model that gives verdicts (the calibration was fitted with it); the answering model is reused
    /// when it is the same file.
    public var verdictModel = PipelineConfiguration.defaultVerdictModel
    /// The model whose PMI the calibration was fitted with.
    public var pmiModel = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
    /// Naturalness includes the fluency pass.
    public var fluency = true

    public init() {}

    /// The same configuration with relative paths taken from `root` (the repository, for a library user
    /// elsewhere).
    public func resolved(against root: String) -> PipelineConfiguration {
        func rooted(_ path: String) -> String { path.hasPrefix("/") ? path : root + "/" + path }
        var copy = self
        copy.store = rooted(store)
        copy.model = rooted(model)
        copy.adapter = adapter.map(rooted)
        copy.template = rooted(template)
        copy.embedder = rooted(embedder)
        copy.calibration = rooted(calibration)
        copy.tunedPath = tunedPath.map(rooted)
        copy.verdictModel = rooted(verdictModel)
        copy.pmiModel = rooted(pmiModel)
        return copy
    }

    /// The lambda setting in force: the explicit one, else the tuned file's, else auto.
    public func lambdaSetting() throws -> LambdaSetting {
        if let lambda { return lambda }
        return .tuned(try tunedPath.flatMap { try TunedLambda.load($0, model: model, adapter: adapter) })
    }
}

/// The library entry point: a grounded answer, decoded with DeRa and checked against its passages, in a few lines.
///
/// ```swift
/// var configuration = PipelineConfiguration()          // the CLI's defaults
/// configuration.lambda = .fixed(0.5)                    // or leave nil: the tuned choice, else auto
/// let pipeline = try Pipeline(configuration.resolved(against: "/path/to/dera"))
/// let answer = try pipeline.ask("Who designed the Eiffel Tower?")
/// print(answer.answer, answer.correctness ?? 0, answer.citations.map(\.title))
/// ```
public struct Pipeline: Sendable {
    public let configuration: PipelineConfiguration
    public let answerer: GroundedAnswerer

    /// Opens the store, the model (and adapter), the template and the checker.
    public init(_ configuration: PipelineConfiguration) throws {
        self.configuration = configuration
        guard FileManager.default.fileExists(atPath: configuration.store) else {
            throw PipelineError.missingFile(path: configuration.store, hint: "build it with `dera index`")
        }
        guard FileManager.default.fileExists(atPath: configuration.model) else {
            throw PipelineError.missingFile(path: configuration.model, hint: "scripts/setup fetches the default model")
        }
        let bundle = try ModelBundle.open(configuration.model, workers: configuration.threads)
        var answerer = GroundedAnswerer(store: try PassageStore(readOnlyPath: configuration.store),
                                        bundle: bundle, template: try PromptTemplate(contentsOf: configuration.template))
        answerer.retriever = try Self.retriever(store: answerer.store, mode: configuration.searchMode,
                                                embedderFolder: configuration.embedder)
        answerer.passageCount = configuration.passages
        answerer.maxTokens = configuration.maxTokens
        answerer.sampling = configuration.sampling
        let setting = try configuration.lambdaSetting()
        if let adapter = configuration.adapter, setting != .fixed(0) {
            let pair = try RealignmentPair(reference: bundle, adapter: LoRAAdapter.open(adapter, for: bundle.model))
            answerer.realignment = .init(pair: pair, setting: setting)
        }
        let profile = try CheckerCalibration.load(configuration.calibration)
            .profile(configuration.profile, path: configuration.calibration)
        func open(_ path: String) throws -> ModelBundle {
            if (path as NSString).lastPathComponent == (configuration.model as NSString).lastPathComponent { return bundle }
            guard FileManager.default.fileExists(atPath: path) else {
                throw PipelineError.missingFile(path: path, hint: "the checker's model; scripts/setup fetches it")
            }
            return try ModelBundle.open(path, workers: configuration.threads)
        }
        var grounding: ModelGrounding?, verdict: ModelVerdict?
        switch configuration.checker {
        case .lexical: break
        case .pmi: grounding = ModelGrounding(bundle: try open(configuration.pmiModel))
        case .verdict:
            verdict = try ModelVerdict(bundle: try open(configuration.verdictModel), profile: profile)
        }
        let checker = try FactualityChecker(profile: profile, grounding: grounding, verdict: verdict,
                                            path: configuration.calibration)
        answerer.selfCheck = SelfCheck(checker: checker, fluency: configuration.fluency ? ModelGrounding(bundle: bundle) : nil)
        self.answerer = answerer
    }

    /// A retriever in `mode` over `store`: the embedder is opened only when the store holds vectors and the folder
    /// is there, so `hybrid` on a store without vectors costs nothing and searches with BM25.
    public static func retriever(store: PassageStore, mode: SearchMode, embedderFolder: String,
                                 threads: Int = 2) throws -> Retriever {
        guard mode != .bm25 else { return Retriever(store: store) }
        let usable = try store.vectorModel() != nil
            && (mode == .dense || FileManager.default.fileExists(atPath: embedderFolder + "/model.safetensors"))
        let embedder = usable ? try SentenceEmbedder(folder: embedderFolder, threads: threads) : nil
        return Retriever(store: store, mode: mode, embedder: embedder)
    }

    /// Retrieves, decodes (fixed lambda or auto), and checks the answer against the passages it was given.
    public func ask(_ question: String, onText: (String) -> Void = { _ in }) throws -> GroundedAnswer {
        try answerer.answer(question, onText: onText)
    }
}
