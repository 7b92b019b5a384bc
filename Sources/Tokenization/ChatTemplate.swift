import Formats

/// Renders a conversation into the prompt text a chat model was trained on. dera recognises ChatML templates
/// (`<|im_start|>role\ncontent<|im_end|>\n`, as SmolLM2 and Qwen2.5 use) from their Jinja text, including the
/// default system message such a template inserts when the conversation has none, and Qwen2.5's wrapping of
/// `tool` messages in `<tool_response>` blocks. Assistant tool calls are not rendered.
///
/// ```swift
/// let template = try ChatTemplate(gguf: file)
/// let prompt = template.render([.user("Hi")], addGenerationPrompt: true)
/// // "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
/// // + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
/// ```
public struct ChatTemplate: Sendable, Equatable {
    /// The system message the template adds when the first message is not a system message.
    public let defaultSystemMessage: String?
    /// Whether the default is added inside the message loop (SmolLM2), so an empty conversation gets none.
    let defaultNeedsMessages: Bool
    /// Whether `tool` messages become `<tool_response>` blocks of one user turn (Qwen2.5).
    let wrapsToolResponses: Bool

    static let start = "<|im_start|>"
    static let end = "<|im_end|>"

    /// The template of a GGUF file's `tokenizer.chat_template`; plain ChatML when the file has none.
    public init(gguf file: GGUFFile) throws {
        try self.init(jinja: file.string("tokenizer.chat_template"))
    }

    /// Recognises a Jinja chat template. `nil` means plain ChatML without a default system message (what llama.cpp
    /// falls back to when a model has no template).
    /// - Throws: `TokenizerError.unsupportedChatTemplate` quoting the start of any template that is not ChatML.
    public init(jinja: String?) throws {
        guard let jinja else {
            defaultSystemMessage = nil
            defaultNeedsMessages = false
            wrapsToolResponses = false
            return
        }
        wrapsToolResponses = jinja.contains("<tool_response>") && jinja.contains(#"message.role == "tool""#)
        guard jinja.contains(Self.start), jinja.contains(Self.end) else {
            throw TokenizerError.unsupportedChatTemplate(start: String(jinja.prefix(80)))
        }
        let prefix = Self.start + "system\n"
        var found: String?
        var position: String.Index?
        for (literal, at) in Self.stringLiterals(in: jinja) where literal.hasPrefix(prefix) {
            let rest = literal.dropFirst(prefix.count)
            guard let close = rest.range(of: Self.end) else { continue }
            found = String(rest[..<close.lowerBound])
            position = at
            break
        }
        defaultSystemMessage = found
        if let position, let loop = jinja.range(of: "for message in messages") {
            defaultNeedsMessages = loop.lowerBound < position
        } else {
            defaultNeedsMessages = false
        }
    }

    /// The prompt text for `messages`, ending with the assistant header when `addGenerationPrompt`.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        var text = ""
        if let defaultSystemMessage, messages.first?.role != "system", !(messages.isEmpty && defaultNeedsMessages) {
            text += Self.start + "system\n" + defaultSystemMessage + Self.end + "\n"
        }
        for (index, message) in messages.enumerated() {
            if wrapsToolResponses && message.role == "tool" {
                if index == 0 || messages[index - 1].role != "tool" { text += Self.start + "user" }
                text += "\n<tool_response>\n" + message.content + "\n</tool_response>"
                if index == messages.count - 1 || messages[index + 1].role != "tool" { text += Self.end + "\n" }
            } else {
                text += Self.start + message.role + "\n" + message.content + Self.end + "\n"
            }
        }
        if addGenerationPrompt { text += Self.start + "assistant\n" }
        return text
    }

    /// Quoted strings inside the `{{ }}` and `{% %}` tags of a Jinja template, escapes resolved, with where each starts.
    static func stringLiterals(in jinja: String) -> [(String, String.Index)] {
        var literals: [(String, String.Index)] = []
        var searchFrom = jinja.startIndex
        while let open = jinja.range(of: "{", range: searchFrom..<jinja.endIndex) {
            guard open.upperBound < jinja.endIndex else { break }
            let kind = jinja[open.upperBound]
            guard kind == "{" || kind == "%" else { searchFrom = open.upperBound; continue }
            let closer = kind == "{" ? "}}" : "%}"
            let bodyStart = jinja.index(after: open.upperBound)
            let close = Self.tagEnd(in: jinja, from: bodyStart, closer: closer)
            literals += scanLiterals(in: jinja, bodyStart..<close.lowerBound)
            searchFrom = close.upperBound
        }
        return literals
    }

    /// The end of a tag, skipping closers that appear inside quoted strings.
    private static func tagEnd(in jinja: String, from start: String.Index, closer: String) -> Range<String.Index> {
        var index = start
        var quote: Character?
        while index < jinja.endIndex {
            let character = jinja[index]
            if let open = quote {
                if character == "\\" { index = jinja.index(after: index) } else if character == open { quote = nil }
            } else if character == "'" || character == "\"" {
                quote = character
            } else if jinja[index...].hasPrefix(closer) {
                return index..<jinja.index(index, offsetBy: closer.count)
            }
            if index < jinja.endIndex { index = jinja.index(after: index) }
        }
        return jinja.endIndex..<jinja.endIndex
    }

    private static func scanLiterals(in jinja: String, _ range: Range<String.Index>) -> [(String, String.Index)] {
        var literals: [(String, String.Index)] = []
        var index = range.lowerBound
        while index < range.upperBound {
            let character = jinja[index]
            guard character == "'" || character == "\"" else { index = jinja.index(after: index); continue }
            let start = index
            var value = ""
            index = jinja.index(after: index)
            while index < range.upperBound, jinja[index] != character {
                if jinja[index] == "\\", jinja.index(after: index) < range.upperBound {
                    index = jinja.index(after: index)
                    switch jinja[index] {
                    case "n": value.append("\n")
                    case "t": value.append("\t")
                    case "r": value.append("\r")
                    default: value.append(jinja[index])
                    }
                } else {
                    value.append(jinja[index])
                }
                index = jinja.index(after: index)
            }
            literals.append((value, start))
            if index < range.upperBound { index = jinja.index(after: index) }
        }
        return literals
    }
}
