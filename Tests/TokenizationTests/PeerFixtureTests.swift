import Foundation
import Testing
@testable import Tokenization

/// llama.cpp's ids for hard strings on SmolLM2, recorded by `scripts/record-fixtures` into
/// `Tests/Fixtures/tokenize-smollm2.json` (llama_tokenize with add_special = false, parse_special = true).
struct PeerTokenizeFixture: Decodable {
    struct Case: Decodable {
        let name: String
        let text: String
        let ids: [Int]
        let roundtrip: Bool?
    }
    let cases: [Case]

    static let path = TestPaths.root + "/Tests/Fixtures/tokenize-smollm2.json"
}

@Suite struct PeerFixtureTests {
    @Test(.enabled(if: TestPaths.exists(PeerTokenizeFixture.path)
                   && (TestPaths.exists(TestPaths.smolLM2) || TestPaths.isCI)))
    func everyCaseMatchesLlamaCpp() throws {
        let tokenizer = try #require(SmolLM2.tokenizer)
        let data = try Data(contentsOf: URL(fileURLWithPath: PeerTokenizeFixture.path))
        let fixture = try JSONDecoder().decode(PeerTokenizeFixture.self, from: data)
        #expect(fixture.cases.count >= 40)
        for testCase in fixture.cases {
            let ids = tokenizer.encode(testCase.text, addSpecial: false, parseSpecial: true)
            #expect(ids == testCase.ids, "\(testCase.name): \(testCase.text.debugDescription)")
            if testCase.roundtrip == true {
                #expect(tokenizer.decode(ids) == testCase.text, "\(testCase.name)")
            }
        }
    }
}
