import ArgumentParser
import Foundation
import Formats
import Inference
import Realign

/// `dera bench realign`: what decoding-time realignment costs beside the reference model alone.
struct BenchRealign: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "realign",
        abstract: "Measure DeRa's speed: reference alone, two models, shared base + adapter (fixed and adaptive lambda), batched lambda sweep.",
        discussion: """
            Build in release mode first (scripts/bench-realign does). Each configuration decodes greedily a fixed \
            number of tokens. The sweep decodes every --lambdas value for one prompt of --sweep-prompt tokens, once \
            in one batch (prompt shared) and once as one run per lambda, timed end to end.
            """)

    @Option(name: [.customLong("model"), .customLong("reference")], help: "The reference model (.gguf).")
    var model: String = EngineModel.path

    @Option(name: .long, help: "The aligned model for the two-model configuration (default: the reference file opened a second time, same size and speed as any second checkpoint of it).")
    var aligned: String?

    @Option(name: .long, help: "A LoRA adapter (PEFT folder or GGUF) for the shared-base configuration (default: models/adapters/smollm2-onpolicy-dpo-beta0.1, the SmolLM2 default of dera ask, when present, else a random rank-8 adapter on every projection).")
    var adapter: String?

    @Option(name: .long, help: "Worker threads.")
    var threads = 2

    @Option(name: .long, help: "Prompt tokens for the single-sequence configurations.")
    var prompt = 32

    @Option(name: .long, help: "Tokens generated per sequence.")
    var generate = 64

    @Option(name: .long, help: "Prompt tokens for the lambda sweep (a retrieval-augmented prompt is a few hundred).")
    var sweepPrompt = 256

    @Option(name: .long, help: "Comma-separated lambdas of the sweep.")
    var lambdas = "0,0.25,0.5,0.75,1,1.5,2,3"

    @Option(name: .long, help: "Repetitions of each measurement (after one warm-up).")
    var repetitions = 3

    @Option(name: .long, help: "Path to llama.cpp's llama-bench: its single-model generation speed is printed beside.")
    var peer: String?

    static let defaultAdapter = "models/adapters/smollm2-onpolicy-dpo-beta0.1"

    func validate() throws {
        try NumericFlags.check("--threads", threads, in: 1...NumericFlags.maximumThreads)
        try NumericFlags.checkTokens("--prompt", prompt)
        try NumericFlags.checkTokens("--generate", generate)
        try NumericFlags.checkTokens("--sweep-prompt", sweepPrompt)
        try NumericFlags.check("--repetitions", repetitions, in: 1...1000)
        _ = try NumericFlags.lambdas("--lambdas", lambdas)
    }

    func run() throws {
        guard FileManager.default.fileExists(atPath: model) else { throw CommandError("model not found: \(model)") }
        let sweepLambdas = try NumericFlags.lambdas("--lambdas", lambdas)
        let reference = try ModelBundle.open(model, workers: threads)
        let promptIDs = Self.tokens(reference, count: prompt)
        let sweepIDs = Self.tokens(reference, count: sweepPrompt, asking: true)

        FileHandle.standardError.write(Data("measuring: reference alone\n".utf8))
        let alone = try RealignmentBenchmark.referenceAlone(reference.model, tokenizer: reference.tokenizer,
                                                            prompt: promptIDs, tokens: generate, repetitions: repetitions)
        FileHandle.standardError.write(Data("measuring: DeRa with two models\n".utf8))
        let second = try ModelBundle.open(aligned ?? model, workers: threads)
        let twoModels = try RealignmentBenchmark.realigned(
            RealignmentPair(reference: try ModelBundle.open(model, workers: threads), aligned: second),
            prompt: promptIDs, tokens: generate, repetitions: repetitions, name: "DeRa, two models")

        let adapterBase = try ModelBundle.open(model, workers: threads)
        let (adapterValue, adapterName) = try loadAdapter(for: adapterBase.model)
        let shared = try RealignmentPair(reference: adapterBase, adapter: adapterValue)
        FileHandle.standardError.write(Data("measuring: DeRa with shared base + adapter (\(adapterName))\n".utf8))
        let sharedBase = try RealignmentBenchmark.realigned(shared, prompt: promptIDs, tokens: generate,
                                                            repetitions: repetitions, name: "DeRa, shared base + adapter")
        var adaptive: [(RealignmentBenchmark.Measurement, Double)] = []
        for (name, policy) in [("divergence", LambdaPolicy.divergence(DivergenceLambda())),
                               ("entropy", LambdaPolicy.entropy(EntropyLambda()))] {
            FileHandle.standardError.write(Data("measuring: DeRa with shared base + adapter, \(name) policy\n".utf8))
            let m = try RealignmentBenchmark.realigned(shared, prompt: promptIDs, tokens: generate, policy: policy,
                                                       repetitions: repetitions, name: "DeRa, shared base + adapter, \(name) policy")
            adaptive.append((m, RealignmentBenchmark.policyCost(policy, vocabulary: shared.vocabularySize)))
        }
        FileHandle.standardError.write(Data("measuring: \(sweepLambdas.count)-lambda sweep, batched and sequential\n".utf8))
        let sweep = try RealignmentBenchmark.sweep(shared, prompt: sweepIDs, tokens: generate, lambdas: sweepLambdas,
                                                   repetitions: repetitions)

        var peerGeneration: Double?
        if let peer {
            FileHandle.standardError.write(Data("measuring: llama.cpp (\(peer))\n".utf8))
            let speed = try BenchSpeed.parse(["--model", model, "--prompt", "\(prompt)", "--generate", "\(generate)",
                                              "--repetitions", "\(repetitions)"])
            peerGeneration = try speed.runPeer(peer, threads: threads, repetitions: repetitions).figures["tg\(generate)"]
        }

        print("model: \(model), \(threads) thread\(threads == 1 ? "" : "s"), \(generate) generated tokens per sequence")
        print("adapter: \(adapterName) (rank \(adapterValue.rank), \(adapterValue.parameterCount) parameters)")
        print("")
        print("| configuration | generation tok/s | vs reference alone |")
        print("|---|---|---|")
        for m in [alone, twoModels, sharedBase] {
            print(String(format: "| %@ (prompt %d) | %.1f ± %.1f | %.2fx |", m.name, prompt, m.mean,
                         m.standardDeviation, m.mean / alone.mean))
        }
        for (m, cost) in adaptive {
            print(String(format: "| %@ (prompt %d; the policy alone: %.3f ms a step) | %.1f ± %.1f | %.2fx |", m.name, prompt,
                         cost * 1000, m.mean, m.standardDeviation, m.mean / alone.mean))
        }
        if let peerGeneration {
            print(String(format: "| llama.cpp, one model (tg%d) | %.1f | %.2fx |", generate, peerGeneration,
                         peerGeneration / alone.mean))
        }
        print("")
        print("| \(sweep.lambdas)-lambda sweep, prompt \(sweepPrompt) | wall s | tok/s (prompt included) | decode-only s |")
        print("|---|---|---|---|")
        func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(max(x.count, 1)) }
        print(String(format: "| one batch, prompt shared | %.2f | %.1f | %.2f |", mean(sweep.batchedSeconds),
                     sweep.batchedTokensPerSecond, mean(sweep.batchedDecodeSeconds)))
        print(String(format: "| %d sequential runs | %.2f | %.1f | %.2f |", sweep.lambdas, mean(sweep.sequentialSeconds),
                     sweep.sequentialTokensPerSecond, mean(sweep.sequentialDecodeSeconds)))
        print(String(format: "| batch / sequential throughput | | %.2fx | %.2fx (decode only) |", sweep.speedup,
                     sweep.decodeSpeedup))
        print("")
        print("The sweep's lambdas gave \(sweep.distinctOutputs) different outputs; after the prompt the batch ran "
              + "\(sweep.batchedStepRows) token rows, the separate runs \(sweep.sequentialStepRows) (lambdas that draw the "
              + "same tokens share rows until they part, so the ratio depends on how alike the answers are).")
    }

    func loadAdapter(for model: DecoderModel) throws -> (LoRAAdapter, String) {
        if let adapter { return (try LoRAAdapter.open(adapter, for: model), adapter) }
        if FileManager.default.fileExists(atPath: Self.defaultAdapter) {
            return (try LoRAAdapter.open(Self.defaultAdapter, for: model), Self.defaultAdapter)
        }
        return (Self.randomAdapter(model.config, rank: 8), "random rank-8 adapter (no trained adapter found)")
    }

    /// A rank-`rank` adapter on every projection with small random weights: the same work as a trained one.
    static func randomAdapter(_ config: ModelConfig, rank: Int) -> LoRAAdapter {
        var random = SeededGenerator(seed: 1)
        func values(_ n: Int) -> [Float] { (0..<n).map { _ in Float(Int64(random.next() >> 40) - (1 << 23)) / Float(1 << 23) * 0.01 } }
        let c = config
        let shapes: [(TensorNames.LayerTensor, Int, Int)] = [
            (.query, c.queryWidth, c.embeddingLength), (.key, c.keyValueWidth, c.embeddingLength),
            (.value, c.keyValueWidth, c.embeddingLength), (.attentionOutput, c.embeddingLength, c.queryWidth),
            (.gate, c.feedForwardLength, c.embeddingLength), (.up, c.feedForwardLength, c.embeddingLength),
            (.down, c.embeddingLength, c.feedForwardLength),
        ]
        let layers = (0..<c.layerCount).map { _ in
            Dictionary(uniqueKeysWithValues: shapes.map { target, outputs, inputs in
                (target, LoRAAdapter.Delta(rank: rank, inputs: inputs, outputs: outputs, down: values(rank * inputs),
                                           up: values(outputs * rank)))
            })
        }
        return LoRAAdapter(path: "random", layers: layers)
    }

    /// `count` prompt tokens: a chat-formatted request over a passage, repeated or cut to length. `asking`: the
    /// passage is cut instead and the request ends with its question and the assistant's turn, as a grounded
    /// prompt does, so the model answers rather than goes on copying the passage (what the sweep measures: on a
    /// passage cut mid-sentence every lambda copies it alike and shares one sequence's rows).
    static func tokens(_ bundle: ModelBundle, count: Int, asking: Bool = false) -> [Int] {
        let passage = """
            The lighthouse at the harbour mouth was built of granite in 1852 and first lit the following spring. \
            Its lamp burned whale oil until 1879, then kerosene, and was electrified in 1931. The keeper's cottage \
            beside it now houses a small museum of charts, logbooks and the original lens.
            """
        let question = "Using the passage, answer: when was the lamp electrified?"
        let head = "<|im_start|>user\n" + (asking ? "" : question + "\n")
            + String(repeating: passage + "\n", count: max(1, count / 40 + 1))
        // The text is this constant, so its markers may be read as the control tokens they are.
        let ids = bundle.tokenizer.encode(head, addSpecial: true, parseSpecial: true)
        guard asking else { return Array(ids.prefix(max(1, count))) }
        let tail = bundle.tokenizer.encode("\n" + question + "<|im_end|>\n<|im_start|>assistant\n", addSpecial: false,
                                           parseSpecial: true)
        return Array((ids.prefix(max(0, count - tail.count)) + tail).suffix(max(1, count)))
    }
}
