import ArgumentParser
import Foundation
import Inference
import Realign
import Tokenization

/// `dera generate`: stream a completion from one model.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text from a GGUF model or a Hugging Face folder, streaming tokens to stdout.",
        discussion: """
            Without --chat the prompt is raw text in which special tokens such as <|im_start|> are recognised. \
            With --chat it is wrapped as a user message in the model's chat template. Prompt and generation \
            speeds (tokens/s) go to stderr.
            """)

    @OptionGroup var model: ModelOptions

    @Option(name: .long, help: "The prompt text.")
    var prompt: String

    @Flag(name: .long, help: "Wrap the prompt in the model's chat template as a user message.")
    var chat = false

    @Option(name: .long, help: "A system message for --chat (the template's default when omitted).")
    var system: String?

    @Option(name: .long, help: "Most tokens to generate.")
    var maxTokens = 256

    @OptionGroup var sampling: SamplingOptions

    func run() throws {
        let bundle = try model.open()
        let text: String
        if chat {
            guard let template = bundle.chatTemplate else {
                throw CommandError("\(model.model) has no chat template; drop --chat and write the prompt in full")
            }
            var messages: [ChatMessage] = []
            if let system { messages.append(ChatMessage(role: "system", content: system)) }
            messages.append(ChatMessage(role: "user", content: prompt))
            text = template.render(messages, addGenerationPrompt: true)
        } else {
            text = prompt
        }
        let ids = bundle.tokenizer.encode(text, addSpecial: true, parseSpecial: true)
        let generator = TextGenerator(bundle: bundle)
        let output = FileHandle.standardOutput
        let (_, statistics) = try generator.generate(
            prompt: ids, maxTokens: maxTokens, sampling: sampling.parameters
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
}

/// `dera tokenize`: print token ids as a JSON array, like llama.cpp's llama-tokenize.
struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the token ids of a text as a JSON array (special tokens recognised).")

    @Option(name: .long, help: "A .gguf file or a Hugging Face model folder.")
    var model: String = ModelOptions.defaultModel

    @Flag(name: .long, help: "Do not add the BOS token even if the model asks for one.")
    var noBos = false

    @Argument(help: "The text to tokenize.")
    var text: String

    func run() throws {
        let tokenizer = try loadTokenizer(model)
        let ids = tokenizer.encode(text, addSpecial: !noBos, parseSpecial: true)
        print("[" + ids.map(String.init).joined(separator: ", ") + "]")
    }
}
