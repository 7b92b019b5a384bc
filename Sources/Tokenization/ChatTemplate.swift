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
/// let ids = template.encode([.user(question)], tokenizer: tokenizer, addGenerationPrompt: true)
/// // only the template's markers are control tokens; the question's text never is
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

    /// One piece of a rendered prompt: a marker the template writes (`<|im_start|>`, `<|im_end|>`), or text, which
    /// holds the roles and the messages' content and never becomes a control token.
    enum Piece: Equatable {
        case marker(String)
        case text(String)
    }

    /// The prompt as markers and text, in order.
    func pieces(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> [Piece] {
        var pieces: [Piece] = []
        func turn(_ role: String, _ content: String) {
            pieces += [.marker(Self.start), .text(role + "\n" + content), .marker(Self.end), .text("\n")]
        }
        if let defaultSystemMessage, messages.first?.role != "system", !(messages.isEmpty && defaultNeedsMessages) {
            turn("system", defaultSystemMessage)
        }
        for (index, message) in messages.enumerated() {
            if wrapsToolResponses && message.role == "tool" {
                if index == 0 || messages[index - 1].role != "tool" { pieces += [.marker(Self.start), .text("user")] }
                pieces.append(.text("\n<tool_response>\n" + message.content + "\n</tool_response>"))
                if index == messages.count - 1 || messages[index + 1].role != "tool" {
                    pieces += [.marker(Self.end), .text("\n")]
                }
            } else {
                turn(message.role, message.content)
            }
        }
        if addGenerationPrompt { pieces += [.marker(Self.start), .text("assistant\n")] }
        return pieces
    }

    /// The prompt text for `messages`, ending with the assistant header when `addGenerationPrompt`.
    ///
    /// This text is for reading and for comparing with other renderers. To run a model on it use
    /// ``encode(_:tokenizer:addGenerationPrompt:)``: tokenizing this string with special tokens recognised would
    /// turn marker text written inside a message (a passage containing `<|im_end|>`) into real markers.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        pieces(messages, addGenerationPrompt: addGenerationPrompt).reduce(into: "") { text, piece in
            switch piece {
            case let .marker(marker): text += marker
            case let .text(chunk): text += chunk
            }
        }
    }

    /// The token ids of the prompt for `messages`: the one place dera turns a conversation into model input.
    ///
    /// Only the template's own markers become control tokens. Roles and every message's content (passages,
    /// questions, answers: text that may come from anyone) are tokenized with `parseSpecial: false`, so
    /// `<|im_end|>` written in a document stays the characters `<`, `|`, `im`, ... and cannot close the turn or
    /// open another. Without marker text in the messages the ids equal those of
    /// `tokenizer.encode(render(...), addSpecial: true, parseSpecial: true)` (llama.cpp's chat path) except that
    /// no EOS is appended after the prompt: BOS comes first when the model asks for it.
    public func encode(_ messages: [ChatMessage], tokenizer: Tokenizer, addGenerationPrompt: Bool) -> [Int] {
        var ids: [Int] = []
        if tokenizer.addsBOS, let bos = tokenizer.bosID { ids.append(bos) }
        var text = ""
        func flush() {
            if !text.isEmpty { ids += tokenizer.encode(text, addSpecial: false, parseSpecial: false) }
            text = ""
        }
        for piece in pieces(messages, addGenerationPrompt: addGenerationPrompt) {
            switch piece {
            case let .text(chunk):
                // Adjacent text pieces are tokenized together, as they would be in the rendered string.
                text += chunk
            case let .marker(marker):
                flush()
                // The marker is the template's own constant, so reading specials in it is safe; it is one control
                // token in every ChatML vocabulary, and its text otherwise.
                ids += tokenizer.encode(marker, addSpecial: false, parseSpecial: true)
            }
        }
        flush()
        return ids
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
