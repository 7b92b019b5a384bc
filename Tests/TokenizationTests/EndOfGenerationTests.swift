import Formats
import Testing
@testable import Tokenization

/// llama.cpp's end-of-generation sets, as `llama-tokenize -m FILE -v` (llama.cpp 0c1e57098) lists them under
/// "printing all EOG tokens", with the BOS id it prints.
let llamaCppEndOfGeneration: [(name: String, eog: Set<Int>, bos: Int)] = [
    ("gpt-2", [50256], 50256),
    ("llama-bpe", [128001, 128009], 128000),
    ("qwen2", [128247, 151643, 151645], 151643),
    ("qwen35", [128247, 151643, 151645], 151643),
    ("starcoder", [0, 4], 0),
    ("refact", [0, 4, 18], 0),
    ("command-r", [0, 255001], 5),
    ("mpt", [0], 0),
    ("falcon", [11], 11),
    ("deepseek-coder", [32014], 32013),
    ("deepseek-llm", [100001], 100000),
    ("aquila", [0, 100007], 0),
    ("gpt-neox", [0], 0),
]

@Suite struct EndOfGenerationTests {
    @Test(.enabled(if: VocabularyVectorTests.available), arguments: llamaCppEndOfGeneration.map(\.name))
    func sameSetAsLlamaCpp(name: String) throws {
        let expected = try #require(llamaCppEndOfGeneration.first { $0.name == name })
        let tokenizer = try Tokenizer(gguf: GGUFFile(path: VocabularyVectors.path(name)))
        #expect(tokenizer.endOfGenerationIDs == expected.eog)
        #expect(tokenizer.bosID == expected.bos)
    }

    /// `llama-tokenize --stdin --ids` of "hi" with its default add_special = true: only these vocabularies add BOS.
    @Test(.enabled(if: VocabularyVectorTests.available), arguments: [
        ("gpt-2", [5303]), ("llama-bpe", [128000, 6151]), ("qwen2", [6023]), ("starcoder", [5001]),
        ("command-r", [5, 5649]), ("falcon", [5752]), ("deepseek-coder", [32013, 4821]),
        ("deepseek-llm", [100000, 4824]), ("aquila", [10320]),
    ])
    func addSpecialAddsBOSWhereLlamaCppDoes(name: String, ids: [Int]) throws {
        let tokenizer = try Tokenizer(gguf: GGUFFile(path: VocabularyVectors.path(name)))
        #expect(tokenizer.encode("hi") == ids)
        #expect(tokenizer.addsBOS == (ids.count == 2))
    }

    @Test(.enabled(if: TestPaths.exists(TestPaths.smolLM2) || TestPaths.isCI))
    func smolLM2() throws {
        let tokenizer = try #require(SmolLM2.tokenizer)
        // <|endoftext|>, <|im_end|> and <reponame> (which llama.cpp takes as the FIM repository token).
        #expect(tokenizer.endOfGenerationIDs == [0, 2, 4])
        #expect(tokenizer.tokenText(4) == "<reponame>")
    }
}
