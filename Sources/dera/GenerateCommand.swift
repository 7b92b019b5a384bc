import ArgumentParser
import Foundation
import Inference
import Pipelines
import Realign
import Tokenization

/// `dera generate`: stream a completion from one model, or from a reference and an aligned model mixed by DeRa.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text from a model, or realign it at decoding time (DeRa) with an aligned model or adapter.",
        discussion: """
            Without --chat the prompt is raw text in which special tokens such as <|im_start|> are recognised \
            (write the whole prompt yourself; never paste untrusted text into it). With --chat it is a user \
            message in the model's chat template and stays plain text: marker text in it (or in --system) is \
            never read as a control token. Prompt and generation speeds (tokens/s) go to stderr.

            With --aligned MODEL or --adapter DIR, each token is sampled from \
            softmax(lambda * aligned + (1 - lambda) * reference), the reference being --model (or --reference). \
            --lambdas 0,0.5,1,2 decodes a sweep in one batch, sharing the prompt, and prints each output. \
            --lambda-policy divergence or entropy chooses lambda per token within [--lambda-min, --lambda-max].

            Examples:
              dera generate --chat --prompt "What is DeRa?" --greedy
              dera generate --chat --prompt "Who wrote Hamlet?" --adapter models/adapters/smollm2-onpolicy-dpo-beta0.1 --lambda 0.5
              dera generate --chat --prompt "Who wrote Hamlet?" --adapter models/adapters/smollm2-onpolicy-dpo-beta0.1 --lambdas 0,0.5,1,2 --greedy
              dera generate --chat --prompt "Who wrote Hamlet?" --adapter models/adapters/smollm2-onpolicy-dpo-beta0.1 --lambda-policy divergence --lambda-min 0 --lambda-max 1
            """)

    @OptionGroup var model: ModelOptions<EngineModel>

    @OptionGroup(title: "Decoding-time realignment") var realignment: RealignmentOptions

    @Option(name: .long, help: "The prompt: raw model input in which special tokens are recognised, or with --chat a user message (plain text).")
    var prompt: String

    @Flag(name: .long, help: "Wrap the prompt in the model's chat template as a user message.")
    var chat = false

    @Option(name: .long, help: "A system message for --chat (the template's default when omitted).")
    var system: String?

    @Option(name: .long, help: "Most tokens to generate.")
    var maxTokens = 256

    @OptionGroup var sampling: SamplingOptions

    func validate() throws {
        try NumericFlags.checkTokens("--max-tokens", maxTokens)
    }

    /// The prompt's ids. With --chat the prompt and --system are message content: only the template's markers
    /// become control tokens. Without it the prompt is the user's raw model input, specials recognised on purpose
    /// (as llama.cpp's llama-cli reads a prompt), so it must not carry text the user did not write.
    func promptIDs(_ tokenizer: Tokenizer, _ template: ChatTemplate?) throws -> [Int] {
        guard chat else { return tokenizer.encode(prompt, addSpecial: true, parseSpecial: true) }
        guard let template else {
            throw CommandError("\(model.model) has no chat template; drop --chat and write the prompt in full")
        }
        var messages: [ChatMessage] = []
        if let system { messages.append(ChatMessage(role: "system", content: system)) }
        messages.append(ChatMessage(role: "user", content: prompt))
        return template.encode(messages, tokenizer: tokenizer, addGenerationPrompt: true)
    }

    func run() throws {
        if realignment.lambda == .auto {
            throw ValidationError("--lambda auto checks candidates against passages; use it with dera ask")
        }
        let bundle = try model.open()
        let policies = try realignment.policies(default: tunedLambda(model: model, adapter: realignment.adapterPath(model)))
        if realignment.isRealigning(model), policies != [.fixed(0)], let pair = try realignment.pair(reference: bundle, model) {
            return try runRealigned(pair, policies: policies)
        }
        let ids = try promptIDs(bundle.tokenizer, bundle.chatTemplate)
        let generator = TextGenerator(bundle: bundle)
        let output = FileHandle.standardOutput
        let (_, statistics) = try generator.generate(
            prompt: ids, maxTokens: maxTokens, sampling: sampling.parameters(defaultTemperature: 0.7)
        ) { _, piece in
            output.write(Data(piece.utf8))
            return true
        }
        output.write(Data("\n".utf8))
        let report = String(
            format: "prompt: %d tokens, %.1f tok/s | generation: %d tokens, %.1f tok/s | %d thread%@\n",
            statistics.promptTokens, statistics.promptTokensPerSecond, statistics.generatedTokens,
            statistics.generationTokensPerSecond, model.threads, model.threads == 1 ? "" : "s")
        FileHandle.standardError.write(Data(report.utf8))
    }

    func runRealigned(_ pair: RealignmentPair, policies: [LambdaPolicy]) throws {
        let ids = try promptIDs(pair.tokenizer, pair.chatTemplate)
        let requests = policies.map {
            RealignmentRequest(prompt: ids, policy: $0, sampling: sampling.parameters(defaultTemperature: 0.7), maxTokens: maxTokens)
        }
        let output = FileHandle.standardOutput
        let single = requests.count == 1
        let (outputs, statistics) = try Realigner(pair: pair).generate(requests, onPiece: { piece in
            if single { output.write(Data(piece.text.utf8)) }
            return true
        })
        if single {
            output.write(Data("\n".utf8))
        } else {
            for result in outputs {
                print("lambda \(result.policy): \(result.text.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
        }
        let report = String(
            format: "DeRa (%@, %@): %d sequence%@ | prompt: %d tokens, %.2f s | generation: %d tokens, %.1f tok/s | %d thread%@\n",
            pair.sharesBase ? "shared base + adapter" : "two models", pair.alignedPath, requests.count,
            requests.count == 1 ? "" : "s", statistics.promptTokens, statistics.promptSeconds,
            statistics.generatedTokens, statistics.generationTokensPerSecond, model.threads, model.threads == 1 ? "" : "s")
        FileHandle.standardError.write(Data(report.utf8))
        if single, outputs[0].policy.fixedLambda == nil {
            let lambdas = outputs[0].lambdas
            FileHandle.standardError.write(Data(String(
                format: "lambda %@: mean %.3f, min %.3f, max %.3f over %d tokens\n", outputs[0].policy.description,
                outputs[0].meanLambda, lambdas.min() ?? 0, lambdas.max() ?? 0, lambdas.count).utf8))
        }
    }
}

/// `dera tokenize`: print token ids as a JSON array, like llama.cpp's llama-tokenize.
struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the token ids of a text as a JSON array (special tokens recognised).")

    @Option(name: .long, help: "A .gguf file or a Hugging Face model folder.")
    var model: String = EngineModel.path

    @Flag(name: .long, help: "Do not add the BOS token even if the model asks for one.")
    var noBos = false

    @Argument(help: "The text to tokenize.")
    var text: String

    func run() throws {
        let tokenizer = try loadTokenizer(model)
        // Specials recognised on purpose: this prints what llama.cpp's llama-tokenize prints, to compare ids.
        let ids = tokenizer.encode(text, addSpecial: !noBos, parseSpecial: true)
        print("[" + ids.map(String.init).joined(separator: ", ") + "]")
    }
}
