import Formats
import Testing
@testable import Tokenization

@Suite struct SpecialTokenTests {
    @Test func tinyVocabularyMergesAsWorkedOut() throws {
        let tokenizer = try TinyTokenizers.gguf()
        #expect(tokenizer.encode("hello world", addSpecial: false) == [11, 13, 6, 2, 7])
        #expect(tokenizer.decode([11, 13, 6, 2, 7]) == "hello world")
    }

    @Test func controlTokensAreSplitOutOnlyWhenParsingSpecials() throws {
        let tokenizer = try TinyTokenizers.gguf()
        #expect(tokenizer.encode("hello<|end|> world", parseSpecial: true) == [11, 14, 13, 6, 2, 7])
        // Without parse_special the marker is ordinary text; "<", "|", "_" and "n" are not in this vocabulary.
        #expect(!tokenizer.encode("hello<|end|> world", parseSpecial: false).contains(14))
    }

    @Test func userDefinedTokensAreSplitOutAlways() throws {
        let tokenizer = try TinyTokenizers.gguf()
        #expect(tokenizer.encode("he<x>he", parseSpecial: false) == [8, 15, 8])
        #expect(tokenizer.encode("he<x>he", parseSpecial: true) == [8, 15, 8])
    }

    @Test func longestSpecialTokenWins() throws {
        let tokenizer = try TinyTokenizers.gguf()
        #expect(tokenizer.encode("he<|end|>xhe") == [8, 16, 8])
        #expect(tokenizer.encode("<|end|><|end|>") == [14, 14])
    }

    @Test func decodeRendersOrSkipsControlTokens() throws {
        let tokenizer = try TinyTokenizers.gguf()
        #expect(tokenizer.decode([11, 14]) == "hello<|end|>")
        #expect(tokenizer.decode([11, 14], skipSpecial: true) == "hello")
        #expect(tokenizer.decode([11, 15], skipSpecial: true) == "hello<x>")  // user-defined stays
        #expect(tokenizer.decode([11, -1, 99_999]) == "hello")  // ids out of range are ignored
    }

    @Test(.enabled(if: TestPaths.exists(TestPaths.smolLM2) || TestPaths.isCI))
    func chatMarkersOnSmolLM2() throws {
        let tokenizer = try #require(SmolLM2.tokenizer)
        let text = "<|im_start|>user\nHi<|im_end|>\n"
        let parsed = tokenizer.encode(text)
        #expect(parsed.first == 1)
        #expect(parsed.contains(2))
        #expect(tokenizer.decode(parsed) == text)
        let literal = tokenizer.encode(text, parseSpecial: false)
        #expect(!literal.contains(1) && !literal.contains(2))
        #expect(tokenizer.decode(literal) == text)
        // Marker glued to words on both sides.
        let glued = tokenizer.encode("a<|im_end|>b")
        #expect(glued.count == 3 && glued[1] == 2)
    }

    @Test func addSpecialHonoursTheFileFlags() throws {
        var writer = TinyTokenizers.ggufWriter()
        writer.set("tokenizer.ggml.add_bos_token", .bool(true))
        writer.set("tokenizer.ggml.add_eos_token", .bool(true))
        let tokenizer = try Tokenizer(gguf: GGUFFile(path: TinyTokenizers.write(writer, name: "tiny-bos.gguf")))
        #expect(tokenizer.addsBOS && tokenizer.addsEOS)
        #expect(tokenizer.encode("he") == [14, 8, 14])
        #expect(tokenizer.encode("he", addSpecial: false) == [8])
        #expect(tokenizer.endOfGenerationIDs == [14])
    }
}
