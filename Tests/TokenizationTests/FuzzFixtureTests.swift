import Foundation
import Formats
import Testing
@testable import Tokenization

/// Random hard strings with llama.cpp's ids, recorded by `scripts/record-tokenizer-fuzz` into
/// `Tests/Fixtures/tokenize-fuzz.json` (add_special = false; parse_special = true, and false for a second set).
struct FuzzFixture: Decodable {
    struct Case: Decodable {
        let text: String
        let ids: [Int]
    }
    struct Vocabulary: Decodable {
        let file: String
        let cases: [Case]
        /// The same kind of strings tokenized with parse_special = false.
        let cases_no_parse_special: [Case]?
    }
    let vocabularies: [String: Vocabulary]

    static let path = TestPaths.root + "/Tests/Fixtures/tokenize-fuzz.json"
    static let loaded: FuzzFixture? = try? JSONDecoder().decode(
        FuzzFixture.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
}

@Suite struct FuzzFixtureTests {
    static var available: Bool { TestPaths.exists(FuzzFixture.path) }

    @Test(.enabled(if: available), arguments: ["smollm2", "gpt-2", "llama-bpe", "qwen2"])
    func randomStringsMatchLlamaCpp(name: String) throws {
        let fixture = try #require(FuzzFixture.loaded, "cannot decode \(FuzzFixture.path)")
        let vocabulary = try #require(fixture.vocabularies[name])
        let path = name == "smollm2" ? TestPaths.smolLM2 : VocabularyVectors.path(name)
        guard TestPaths.exists(path) || TestPaths.isCI else { return }
        let tokenizer = try Tokenizer(gguf: GGUFFile(path: path))
        var failures = 0
        let sets = [(true, vocabulary.cases), (false, vocabulary.cases_no_parse_special ?? [])]
        for (parseSpecial, cases) in sets {
            for testCase in cases {
                let ids = tokenizer.encode(testCase.text, addSpecial: false, parseSpecial: parseSpecial)
                if ids != testCase.ids {
                    failures += 1
                    let text = testCase.text.debugDescription
                    Issue.record("\(name) parseSpecial \(parseSpecial): \(text) gave \(ids), llama.cpp: \(testCase.ids)")
                }
            }
        }
        #expect(failures == 0)
        #expect(vocabulary.cases.count >= 100)
    }
}
