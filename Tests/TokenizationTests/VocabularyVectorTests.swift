import Foundation
import Formats
import Testing
@testable import Tokenization

/// llama.cpp's own tokenizer tests: `ggml-vocab-NAME.gguf` with inputs in `.inp` (separated by a marker line) and the
/// expected ids in `.out`, one line per input, tokenized with add_special = false, parse_special = false.
struct VocabularyVectors {
    let inputs: [String]
    let expected: [[Int]]

    init(name: String) throws {
        let base = TestPaths.vectors + "/ggml-vocab-\(name).gguf"
        let input = try String(contentsOfFile: base + ".inp", encoding: .utf8)
        let output = try String(contentsOfFile: base + ".out", encoding: .utf8)
        var pieces = input.components(separatedBy: "\n__ggml_vocab_test__\n")
        if input.hasSuffix("\n__ggml_vocab_test__\n") { pieces.removeLast() }  // llama.cpp stops at the last marker
        inputs = pieces
        var lines = output.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        expected = lines.map { line in line.split(separator: " ").compactMap { Int($0) } }
    }

    static func path(_ name: String) -> String { TestPaths.vectors + "/ggml-vocab-\(name).gguf" }
}

/// The byte-level BPE vocabularies whose pre-tokenizers dera implements.
let supportedVectorVocabularies = [
    "gpt-2", "llama-bpe", "qwen2", "qwen35", "starcoder", "refact", "command-r", "mpt", "falcon", "deepseek-coder",
    "deepseek-llm", "aquila", "gpt-neox",
]

@Suite struct VocabularyVectorTests {
    static var available: Bool { TestPaths.exists(TestPaths.vectors) || TestPaths.isCI }

    @Test(.enabled(if: available), arguments: supportedVectorVocabularies)
    func matchesLlamaCpp(name: String) throws {
        let path = VocabularyVectors.path(name)
        let tokenizer = try Tokenizer(gguf: GGUFFile(path: path))
        guard TestPaths.exists(path + ".inp") else { return }  // some vocabularies ship without vectors
        let vectors = try VocabularyVectors(name: name)
        #expect(vectors.inputs.count == vectors.expected.count)
        var failures = 0
        for (input, expected) in zip(vectors.inputs, vectors.expected) {
            let ids = tokenizer.encode(input, addSpecial: false, parseSpecial: false)
            if ids != expected {
                failures += 1
                Issue.record("\(name): \(input.debugDescription) gave \(ids), llama.cpp gives \(expected)")
            }
        }
        #expect(failures == 0)
    }
}
