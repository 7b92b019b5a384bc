/// Cuts text into the words byte-level BPE merges within, the way llama.cpp does for a given `tokenizer.ggml.pre`.
///
/// ```swift
/// let pre = try PreTokenizer(name: "smollm")
/// pre.words(in: Array("Hello 2026".utf8))  // ["Hello", " ", "2", "0", "2", "6"] as byte ranges
/// ```
public struct PreTokenizer: Sendable {
    /// The `tokenizer.ggml.pre` name this was built for.
    public let name: String
    let rules: [SplitRule]
    /// Whether a word that is itself a vocabulary entry skips the merges (llama.cpp's `ignore_merges`).
    let ignoresMerges: Bool
    /// Whether the model asks for a BOS token when `tokenizer.ggml.add_bos_token` is absent.
    let addsBOSByDefault: Bool

    init(name: String, rules: [SplitRule], ignoresMerges: Bool = false, addsBOSByDefault: Bool = false) {
        self.name = name
        self.rules = rules
        self.ignoresMerges = ignoresMerges
        self.addsBOSByDefault = addsBOSByDefault
    }

    /// The pre-tokenizer llama.cpp selects for `name`, or nil when dera does not implement it.
    public init?(name: String) {
        let gpt2Names: Set = ["gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de",
                              "a.x-4.0", "mellum", "modern-bert", "mpt", "olmo", "jais", "trillion", "granite-docling",
                              "jina-v1-en", "jina-v2-code", "roberta-bpe"]
        let starcoderNames: Set = ["starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva",
                                   "mellum2"]
        let llama3Names: Set = ["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0",
                                "lfm2", "jina-v5-nano"]
        let qwen2Names: Set = ["qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "stablelm2", "hunyuan", "solar-open",
                               "grok-2"]
        switch name {
        case "", "default":
            self.init(name: name, rules: [.runs(.punctuation(plus: "$+<=>^~|")), .gpt2, .runs(.number),
                                          .asciiDigitTriples])
        case _ where gpt2Names.contains(name):
            self.init(name: name, rules: [.gpt2])
        case _ where starcoderNames.contains(name):
            self.init(name: name, rules: [.each(.number), .gpt2])
        case _ where llama3Names.contains(name):
            self.init(name: name, rules: [.llama3(maxDigits: 3, marksJoinLetters: false)], ignoresMerges: true,
                      addsBOSByDefault: true)
        case "dbrx", "smaug-bpe", "chatglm-bpe":
            self.init(name: name, rules: [.llama3(maxDigits: 3, marksJoinLetters: false)])
        case "glm4", "glm5":
            self.init(name: name, rules: [.llama3(maxDigits: 3, marksJoinLetters: false)], ignoresMerges: true)
        case _ where qwen2Names.contains(name):
            self.init(name: name, rules: [.llama3(maxDigits: 1, marksJoinLetters: false)])
        case "qwen35":
            self.init(name: name, rules: [.llama3(maxDigits: 1, marksJoinLetters: true)])
        case "falcon":
            self.init(name: name, rules: [.runs(.punctuation(plus: "$+<=>^~|`")), .gpt2, .asciiDigitTriples])
        case "deepseek-coder":
            self.init(name: name, rules: [
                .each(.lineBreak),
                .prefixedRuns(prefix: .whitespace, body: .letter),
                .prefixedRuns(prefix: .whitespace, body: .punctuation),
                .runs(.literal("一-龥ࠀ-一가-퟿")),
                .each(.number),
            ])
        case "deepseek-llm":
            self.init(name: name, rules: [
                .each(.lineBreak),
                .prefixedRuns(prefix: .whitespace, body: .literal(Self.deepseekLetters)),
                .prefixedRuns(prefix: .whitespace, body: .literal("!-/:-~！-／：-～‘-‟　-。")),
                .trailingWhitespace,
                .runs(.literal("一-龥ࠀ-一가-퟿")),
                .runs(.number),
            ])
        default:
            return nil
        }
    }

    /// The letter class of DeepSeek LLM's pre-tokenizer, as llama.cpp spells it.
    static let deepseekLetters =
        "A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃"

    /// The words of `utf8` (valid UTF-8) as byte ranges into it, in order, covering it exactly.
    public func words(in utf8: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        var scalars: [UInt32] = []
        var starts: [Int] = []  // byte offset of each scalar
        scalars.reserveCapacity(utf8.count)
        starts.reserveCapacity(utf8.count + 1)
        var offset = 0
        while offset < utf8.count {
            let lead = utf8[offset]
            var value: UInt32
            var length: Int
            switch lead {
            case 0..<0x80: value = UInt32(lead); length = 1
            case 0xC0..<0xE0: value = UInt32(lead & 0x1F); length = 2
            case 0xE0..<0xF0: value = UInt32(lead & 0x0F); length = 3
            default: value = UInt32(lead & 0x07); length = 4
            }
            length = min(length, utf8.count - offset)
            for index in 1..<max(length, 1) { value = value << 6 | UInt32(utf8[offset + index] & 0x3F) }
            scalars.append(value)
            starts.append(offset)
            offset += length
        }
        starts.append(utf8.count)
        let flags = scalars.map { CodepointFlags.of($0) }
        var lengths = scalars.isEmpty ? [] : [scalars.count]
        for rule in rules { lengths = rule.split(scalars, flags, lengths) }
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(lengths.count)
        var scalarIndex = 0
        for length in lengths {
            ranges.append(starts[scalarIndex]..<starts[scalarIndex + length])
            scalarIndex += length
        }
        return ranges
    }

    /// The words of `text` as strings (for tests and diagnostics).
    public func words(in text: String) -> [String] {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { buffer in
            words(in: buffer).map { String(decoding: buffer[$0], as: UTF8.self) }
        }
    }
}
