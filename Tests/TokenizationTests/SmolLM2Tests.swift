import Formats
import Testing
@testable import Tokenization

/// The default model's tokenizer, loaded once for all tests.
enum SmolLM2 {
    static let tokenizer: Tokenizer? = {
        guard TestPaths.exists(TestPaths.smolLM2) else { return nil }
        return try? Tokenizer(gguf: GGUFFile(path: TestPaths.smolLM2))
    }()
}

@Suite struct SmolLM2Tests {
    @Test(.enabled(if: TestPaths.exists(TestPaths.smolLM2) || TestPaths.isCI))
    func helloWorldMatchesLlamaCpp() throws {
        let tokenizer = try Tokenizer(gguf: GGUFFile(path: TestPaths.smolLM2))
        #expect(tokenizer.vocabularySize == 49_152)
        #expect(tokenizer.preTokenizer.name == "smollm")
        #expect(tokenizer.bosID == 1)
        #expect(tokenizer.eosID == 2)
        #expect(tokenizer.tokenText(1) == "<|im_start|>")
        #expect(tokenizer.tokenText(2) == "<|im_end|>")
        #expect(!tokenizer.addsBOS)
        let ids = tokenizer.encode("Hello world, it's 2026!")
        #expect(ids == [19556, 905, 28, 357, 506, 216, 34, 32, 34, 38, 17])
        #expect(tokenizer.decode(ids) == "Hello world, it's 2026!")
    }

    @Test(.enabled(if: TestPaths.exists(TestPaths.smolLM2) || TestPaths.isCI))
    func endOfGenerationSet() throws {
        let tokenizer = try #require(SmolLM2.tokenizer)
        #expect(tokenizer.endOfGenerationIDs.contains(2))  // <|im_end|>
        #expect(tokenizer.endOfGenerationIDs.contains(0))  // <|endoftext|>
        #expect(!tokenizer.endOfGenerationIDs.contains(1))
    }
}
