import Foundation
import Testing
@testable import Tokenization

@Suite struct WordPieceTests {
    /// A tokenizer.json with a handful of pieces, so the WordPiece rules can be checked without the real model.
    static func writeTiny(directory: String, model: String? = nil, normalizer: String? = nil) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let pieces = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "a", "##ff", "aff", ",", "!",
                      "cafe", "東", "京", "is", "##s", "hello", "##l", "h", "##e", "##o", "?"]
        let vocab = pieces.enumerated().map { "\"\($0.element)\": \($0.offset)" }.joined(separator: ", ")
        let defaultNormalizer = #"{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true}"#
        let defaultModel = ###"{"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 12, "vocab": {"###
            + vocab + "}}"
        let json = "{\"version\": \"1.0\", \"added_tokens\": [], \"normalizer\": " + (normalizer ?? defaultNormalizer)
            + ", \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \"model\": " + (model ?? defaultModel) + "}"
        let path = directory + "/tokenizer.json"
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func tiny() throws -> WordPieceTokenizer {
        try WordPieceTokenizer(tokenizerJSONPath: Self.writeTiny(directory: TestPaths.temporaryFile("wordpiece")))
    }

    func texts(_ tokenizer: WordPieceTokenizer, _ text: String) -> [String] {
        tokenizer.encode(text).map(tokenizer.tokenText)
    }

    @Test func longestPieceFirstWithContinuations() throws {
        let tokenizer = try tiny()
        #expect(texts(tokenizer, "unaffable") == ["[CLS]", "un", "##aff", "##able", "[SEP]"])
        // "aff" is a whole word; "a" + "##ff" is never tried because the longest match wins.
        #expect(texts(tokenizer, "aff") == ["[CLS]", "aff", "[SEP]"])
        #expect(texts(tokenizer, "hello hell") == ["[CLS]", "hello", "h", "##e", "##l", "##l", "[SEP]"])
    }

    @Test func aWordWithoutASplitIsOneUnknown() throws {
        let tokenizer = try tiny()
        // "unaffablex": the pieces up to "##able" exist, "##x" does not, so the whole word is [UNK].
        #expect(texts(tokenizer, "unaffablex is") == ["[CLS]", "[UNK]", "is", "[SEP]"])
        // Longer than max_input_chars_per_word (12) code points: [UNK] without trying.
        #expect(texts(tokenizer, "hellllllllllo") == ["[CLS]", "[UNK]", "[SEP]"])
        #expect(texts(tokenizer, "hellllllllll") == ["[CLS]", "h", "##e", "##l", "##l", "##l", "##l", "##l", "##l",
                                                     "##l", "##l", "##l", "##l", "[SEP]"])
    }

    @Test func normalizesAndSplitsLikeBert() throws {
        let tokenizer = try tiny()
        // Lowercase, accents stripped, punctuation isolated, control characters dropped, CJK one by one.
        #expect(texts(tokenizer, "CAFÉ,Hello!\u{0}東京?") == ["[CLS]", "cafe", ",", "hello", "!", "東", "京", "?", "[SEP]"])
        #expect(texts(tokenizer, "\t is\u{3000}is\u{200B}") == ["[CLS]", "is", "is", "[SEP]"])
        #expect(tokenizer.encode("") == [2, 3])
    }

    @Test func truncatesToTheMaximumLength() throws {
        let tokenizer = try tiny()
        let ids = tokenizer.encode(Array(repeating: "is", count: 10).joined(separator: " "), maximumLength: 6)
        #expect(ids == [2, 15, 15, 15, 15, 3])
    }

    @Test func refusesOtherModelsAndNormalizers() throws {
        let directory = TestPaths.temporaryFile("wordpiece-bad")
        let bpe = try Self.writeTiny(directory: directory, model: #"{"type": "BPE", "vocab": {"a": 0}, "merges": []}"#)
        #expect(throws: TokenizerError.unsupportedModel(path: bpe, model: "BPE")) {
            try WordPieceTokenizer(tokenizerJSONPath: bpe)
        }
        let gaps = try Self.writeTiny(directory: directory, model: #"{"type": "WordPiece", "vocab": {"[UNK]": 0, "a": 5}}"#)
        #expect(throws: TokenizerError.self) { try WordPieceTokenizer(tokenizerJSONPath: gaps) }
        let nfc = try Self.writeTiny(directory: directory, normalizer: #"{"type": "NFC"}"#)
        let error = #expect(throws: TokenizerError.self) { try WordPieceTokenizer(tokenizerJSONPath: nfc) }
        #expect(error?.description.contains("normalizer") == true)
    }

    /// Ids of awkward texts (accents, CJK, emoji, controls, odd white space, very long words, 256-token truncation)
    /// exactly as Hugging Face `tokenizers` gives them for all-MiniLM-L6-v2.
    @Test(.enabled(if: TestPaths.exists(TestPaths.miniLMTokenizer) || TestPaths.isCI))
    func matchesHuggingFaceTokenizers() throws {
        let tokenizer = try WordPieceTokenizer(tokenizerJSONPath: TestPaths.miniLMTokenizer)
        let data = try Data(contentsOf: URL(fileURLWithPath: TestPaths.embedderFixture))
        let fixture = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let cases = try #require(fixture["token_cases"] as? [[String: Any]])
            + (try #require(fixture["vector_cases"] as? [[String: Any]]))
        #expect(cases.count >= 20)
        for item in cases {
            let text = try #require(item["text"] as? String)
            let expected = try #require(item["ids"] as? [Int])
            #expect(tokenizer.encode(text) == expected, "\(text.debugDescription)")
        }
    }
}
