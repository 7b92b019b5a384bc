import Testing
@testable import Tokenization

@Suite struct StreamingDetokenizerTests {
    @Test func holdsBackIncompleteCharacters() {
        let wave = Array("👋".utf8)  // F0 9F 91 8B
        #expect(StreamingDetokenizer.completePrefixLength(Array(wave.prefix(1))) == 0)
        #expect(StreamingDetokenizer.completePrefixLength(Array(wave.prefix(3))) == 0)
        #expect(StreamingDetokenizer.completePrefixLength(wave) == 4)
        #expect(StreamingDetokenizer.completePrefixLength([0x41] + wave.prefix(2)) == 1)
        #expect(StreamingDetokenizer.completePrefixLength(Array("é".utf8)) == 2)
        #expect(StreamingDetokenizer.completePrefixLength([0xFF]) == 1)  // never valid: let it through as U+FFFD
    }

    @Test(.enabled(if: TestPaths.exists(TestPaths.smolLM2) || TestPaths.isCI))
    func emojiSplitAcrossTokens() throws {
        let tokenizer = try #require(SmolLM2.tokenizer)
        let text = "Hi 👋🏽 and 👨‍👩‍👧 and 🤗 done. 日本語"
        let ids = tokenizer.encode(text, addSpecial: false)
        var stream = StreamingDetokenizer(tokenizer: tokenizer)
        var chunks: [String] = []
        for id in ids { chunks.append(stream.append(id)) }
        chunks.append(stream.finish())
        #expect(chunks.joined() == text)
        #expect(chunks.allSatisfy { !$0.contains("\u{FFFD}") })
        #expect(chunks.contains(""))  // at least one token ended inside a character
        // Decoding token by token without the stream would break characters.
        #expect(ids.map { tokenizer.decode([$0]) }.joined().contains("\u{FFFD}"))
    }

    @Test(.enabled(if: TestPaths.exists(TestPaths.smolLM2) || TestPaths.isCI))
    func finishFlushesAnUnfinishedCharacter() throws {
        let tokenizer = try #require(SmolLM2.tokenizer)
        let ids = tokenizer.encode("🤗", addSpecial: false)
        try #require(ids.count > 1)
        var stream = StreamingDetokenizer(tokenizer: tokenizer)
        #expect(stream.append(ids[0]) == "")
        #expect(stream.finish() == "\u{FFFD}")
        #expect(stream.finish() == "")
    }

    @Test(.enabled(if: TestPaths.exists(TestPaths.smolLM2) || TestPaths.isCI))
    func controlTokensCanBeSkipped() throws {
        let tokenizer = try #require(SmolLM2.tokenizer)
        var shown = StreamingDetokenizer(tokenizer: tokenizer)
        var hidden = StreamingDetokenizer(tokenizer: tokenizer, skipSpecial: true)
        #expect(shown.append(2) == "<|im_end|>")
        #expect(hidden.append(2) == "")
    }
}
