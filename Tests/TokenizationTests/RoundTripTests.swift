import Formats
import Testing
@testable import Tokenization

/// Strings whose tokens must decode back to exactly the same text.
let hardStrings: [String] = [
    "", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n \t ", "\t\tindented\n", "trailing space ", " leading",
    "Hello world", "Hello world, it's 2026!", "I'm sure they'll've done it, we'd've", "DON'T YOU'LL", "'s'S's",
    "1", "12", "123", "1234567890", "3.14159", "1,000,000", "٣٤٥", "²³", "v1.2.3-beta+4",
    "café", "naïve résumé", "Ünïcödé", "e\u{301}", "Å", "ǅ", "Straße", "ﬁ",
    "日本語のテキスト", "中文字符", "한국어 텍스트", "Привет, мир!", "مرحبا بالعالم", "שלום", "ไทย", "हिन्दी",
    "🤗", "👋🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷🇩🇪", "a🤗b", "emoji 😀😃😄 run",
    "https://example.com/path?query=1&x=y#frag", "user@example.org", "C:\\Windows\\System32",
    "func f(x: Int) -> Int { return x * 2 }", "if (a && b) { printf(\"%d\\n\", c); }", "    def f():\n        pass\n",
    "<html><body class=\"x\">hi</body></html>", "{\"key\": [1, 2, {\"nested\": null}]}", "a\u{0}b", "\u{7F}\u{1F}",
    "\u{FEFF}BOM", "zero\u{200B}width", "nbsp\u{A0}here", "ideographic\u{3000}space", "line\u{2028}sep", "\u{85}",
    "<|im_start|>", "<|im_start", "|im_end|>", "<<|im_end|>>", "<|endoftext|>x", "[INST]", "</s>",
    "private\u{E000}use", "unassigned\u{0378}", "\u{10FFFF}", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "Ω≈ç√∫", "¡™£¢∞§¶•ªº",
    String(repeating: "a", count: 1000), String(repeating: "ab ", count: 300), String(repeating: "😀", count: 50),
    String(repeating: " ", count: 100) + "x", String(repeating: "\n", count: 30),
]

@Suite struct RoundTripTests {
    @Test(.enabled(if: TestPaths.exists(TestPaths.smolLM2) || TestPaths.isCI))
    func smolLM2RoundTrips() throws {
        let tokenizer = try #require(SmolLM2.tokenizer)
        for text in hardStrings {
            let ids = tokenizer.encode(text, addSpecial: false, parseSpecial: false)
            #expect(tokenizer.decode(ids) == text, "\(text.debugDescription) -> \(ids)")
            #expect(ids.allSatisfy { (0..<tokenizer.vocabularySize).contains($0) })
            let parsed = tokenizer.encode(text, addSpecial: true, parseSpecial: true)
            #expect(tokenizer.decode(parsed) == text, "\(text.debugDescription) -> \(parsed)")
        }
    }

    @Test(arguments: ["qwen2", "llama-bpe", "gpt-2"])
    func vectorVocabulariesRoundTrip(name: String) throws {
        let path = VocabularyVectors.path(name)
        guard TestPaths.exists(path) || TestPaths.isCI else { return }
        let tokenizer = try Tokenizer(gguf: GGUFFile(path: path))
        for text in hardStrings {
            let ids = tokenizer.encode(text, addSpecial: false, parseSpecial: false)
            #expect(tokenizer.decode(ids) == text, "\(name): \(text.debugDescription) -> \(ids)")
        }
    }

    /// Ids that can be justified by hand from the SmolLM2 vocabulary: each expected token is looked up by its
    /// byte-level text, and the split follows the smollm pre-tokenizer (digits alone, GPT-2 words).
    @Test(.enabled(if: TestPaths.exists(TestPaths.smolLM2) || TestPaths.isCI))
    func smolLM2HandCheckedSplits() throws {
        let tokenizer = try #require(SmolLM2.tokenizer)
        func id(_ text: String) throws -> Int { try #require(tokenizer.id(forTokenText: text), "\(text)") }
        #expect(tokenizer.encode("2026", addSpecial: false) == [try id("2"), try id("0"), try id("2"), try id("6")])
        #expect(tokenizer.encode(" 7", addSpecial: false) == [try id("Ġ"), try id("7")])
        #expect(tokenizer.encode("\n", addSpecial: false) == [try id("Ċ")])
        #expect(tokenizer.encode(" Hello", addSpecial: false) == [try id("ĠHello")])
        #expect(tokenizer.encode("Hello  world", addSpecial: false) == [try id("Hello"), try id("Ġ"), try id("Ġworld")])
        #expect(tokenizer.encode("it's", addSpecial: false) == [try id("it"), try id("'s")])
        #expect(tokenizer.preTokenizer.words(in: "Hi  there\t\tx 12ab!?") ==
            ["Hi", " ", " there", "\t", "\t", "x", " ", "1", "2", "ab", "!?"])
    }

    @Test(.enabled(if: TestPaths.exists(TestPaths.smolLM2) || TestPaths.isCI))
    func compatibility() throws {
        let tokenizer = try #require(SmolLM2.tokenizer)
        let again = try Tokenizer(gguf: GGUFFile(path: TestPaths.smolLM2))
        #expect(tokenizer.isCompatible(with: again))
        #expect(!tokenizer.isCompatible(with: try TinyTokenizers.gguf()))
    }
}
