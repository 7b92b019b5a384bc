import ArgumentParser
import Control
import Foundation
import Inference
import Logging
import Pipelines
import Realign
import Retrieval
import Serving
import Tokenization

/// `dera serve`: an HTTP server with OpenAI's chat completions API and dera's grounded answers, checks and search.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve an OpenAI-compatible HTTP API with grounded, checked answers and DeRa lambdas per request.",
        discussion: """
            Endpoints: POST /v1/chat/completions (OpenAI's fields: messages, max_tokens, temperature, top_p, seed, \
            stop, stream, logprobs; no temperature decodes greedily; plus a `dera` object {lambda: number|"auto", db, k, check, retrieve} that answers \
            the last user message from retrieved passages with citations and the claim-level check), POST /v1/ask, \
            /v1/check, /v1/search, GET /v1/models, /health, and the web page at /.

            One engine owns the model: requests queue (--queue; 503 when full) and those waiting together decode \
            in one batch, whatever their lambdas. SIGTERM/SIGINT stop accepting, finish open requests, then exit. \
            The model, adapter, lambda and checker options are those of `dera ask`.
            """)

    @Option(help: "Address to listen on (127.0.0.1: this machine only).")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port, printed at start).")
    var port = 8080

    @Option(help: "A passage store made by `dera index` (repeatable; requests name one by file name or path, the first is the default).")
    var db: [String] = []

    @Option(help: "The prompt template of grounded answers.")
    var template: String = PipelineConfiguration.defaultTemplate

    @Option(help: "The prompt template of /v1/summarize (its {{document}} placeholder).")
    var summaryTemplate: String = DocumentSummarizer.defaultTemplate

    @Option(name: .customShort("k"), help: "Passages per grounded answer when a request gives no k.")
    var passages = 3

    @Option(help: "How passages are found: bm25, dense or hybrid.")
    var mode: SearchMode = PipelineConfiguration().searchMode

    @OptionGroup var embedding: EmbedderOptions
    @OptionGroup var model: ModelOptions<AnsweringModel>
    @OptionGroup(title: "Decoding-time realignment") var realignment: RealignmentOptions
    @OptionGroup(title: "Self-check and lambda control") var control: ControlOptions
    @OptionGroup(title: "Checker calibration") var calibration: CalibrationOptions

    @Option(help: "Requests that may wait while the engine is busy; more are refused with 503.")
    var queue = 64

    @Option(help: "Most sequences decoded in one batch (auto's candidates count each).")
    var maxBatch = 16

    @Option(help: "Milliseconds the engine waits for more requests to batch with the first.")
    var batchWindow = 20

    @Option(help: "Seconds a request may wait in the queue before it fails with 503.")
    var queueTimeout = 120

    @Option(help: "The largest max_tokens a request may ask for.")
    var maxTokensLimit = 1024

    @Option(help: "max_tokens when a request gives none.")
    var defaultMaxTokens = 256

    @Option(help: "The largest request body, in bytes (larger: 413).")
    var maxBodyBytes = 1 << 20

    @Option(help: "The folder of the web page served at / (default: web/ when present).")
    var web: String?

    @Option(help: "Log format: text or json (one object per line on standard error).")
    var logFormat = "text"

    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        try NumericFlags.check("--port", port, in: 0...65535)
        try NumericFlags.check("-k", passages, in: 1...20)
        try NumericFlags.check("--queue", queue, in: 0...100_000)
        try NumericFlags.check("--max-batch", maxBatch, in: 1...NumericFlags.maximumSweep * 4)
        try NumericFlags.check("--batch-window", batchWindow, in: 0...10_000)
        try NumericFlags.check("--queue-timeout", queueTimeout, in: 1...86_400)
        try NumericFlags.checkTokens("--max-tokens-limit", maxTokensLimit)
        try NumericFlags.check("--default-max-tokens", defaultMaxTokens, in: 1...maxTokensLimit)
        try NumericFlags.check("--max-body-bytes", maxBodyBytes, in: 1024...(1 << 30))
        guard ["text", "json"].contains(logFormat) else { throw ValidationError("--log-format must be text or json, got '\(logFormat)'") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be trace, debug, info, notice, warning, error or critical, got '\(logLevel)'") }
        if realignment.lambdas != nil { throw ValidationError("dera serve takes one default --lambda (requests choose their own); drop --lambdas") }
        if realignment.policy.kind != .fixed { throw ValidationError("dera serve decodes fixed lambdas or auto; drop --lambda-policy") }
        if control.noCheck, realignment.lambda == .auto { throw ValidationError("--lambda auto chooses with the checker; drop --no-check") }
    }

    func run() async throws {
        let stores = db.isEmpty ? [PipelineConfiguration.defaultStore] : db
        for path in stores where !FileManager.default.fileExists(atPath: path) {
            throw CommandError("no passage store at \(path); build one with `dera index PATH --db \(path)`")
        }
        var logger = Logger(label: "dera.serve") { label in
            logFormat == "json" ? JSONLogHandler(label: label) as any LogHandler : StreamLogHandler.standardError(label: label)
        }
        logger.logLevel = Logger.Level(rawValue: logLevel)!
        let bundle = try model.open()
        let adapter = realignment.adapterPath(model)
        let pair = realignment.isRealigning(model) ? try realignment.pair(reference: bundle, model) : nil
        let setting = pair == nil ? LambdaSetting.fixed(0)
            : try control.setting(realignment.lambda, model: model.model, adapter: adapter, canChoose: !control.noCheck)
        let selfCheck = control.noCheck ? nil : try control.selfCheck(bundle: bundle, calibration: calibration)
        let template = try PromptTemplate(contentsOf: self.template)
        var served: [ServedStore] = []
        for path in stores {
            var answerer = GroundedAnswerer(store: try PassageStore(readOnlyPath: path), bundle: bundle, template: template)
            answerer.retriever = try embedding.retriever(store: answerer.store, mode: mode)
            answerer.passageCount = passages
            answerer.selfCheck = selfCheck
            served.append(ServedStore(name: (path as NSString).lastPathComponent, path: path, answerer: answerer))
        }
        var chatLambda: Float = 0
        if pair != nil {
            if case let .value(value)? = realignment.lambda { chatLambda = value } else {
                chatLambda = try control.tunedChoice(model: model.model, adapter: adapter)?.lambda ?? 1
            }
        }
        var setup = ServingSetup(modelName: (model.model as NSString).lastPathComponent, bundle: bundle, pair: pair,
                                 stores: served, selfCheck: selfCheck, groundedSetting: setting, chatLambda: chatLambda)
        if case let .auto(candidates, rule) = try control.setting(.auto, model: model.model, adapter: adapter) {
            setup.autoCandidates = candidates
            setup.autoRule = rule
        }
        setup.limits.maxTokens = maxTokensLimit
        setup.limits.defaultMaxTokens = defaultMaxTokens
        setup.limits.maxBodyBytes = maxBodyBytes
        setup.engine.queueLimit = queue
        setup.engine.maxBatch = maxBatch
        setup.engine.batchWindow = Double(batchWindow) / 1000
        setup.engine.queueTimeout = Double(queueTimeout)
        setup.summaryTemplate = try Summarize.template(summaryTemplate)
        let webRoot = web ?? "web"
        if FileManager.default.fileExists(atPath: webRoot + "/index.html") { setup.webRoot = webRoot }
        else if web != nil { throw CommandError("no index.html in \(webRoot)") }
        logger.info("serving", metadata: [
            "model": "\(setup.modelName)", "adapter": "\(adapter ?? "none")", "lambda": "\(setting)",
            "checker": "\(selfCheck.map { $0.checker.scorerName } ?? "none")", "stores": "\(stores.joined(separator: ","))",
        ])
        let service = DeraService(setup: setup, logger: logger)
        try await DeraServer(service: service, host: host, port: port, logger: logger).run { port in
            // The bound port on standard output, for scripts that start the server with --port 0.
            FileHandle.standardOutput.write(Data("dera serve: listening on http://\(host):\(port)\n".utf8))
        }
    }
}
