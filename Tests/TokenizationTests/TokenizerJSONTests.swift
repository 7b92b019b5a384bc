import Foundation
import Testing
@testable import Tokenization

@Suite struct TokenizerJSONTests {
    /// The tiny vocabulary of `TinyTokenizers` written as a Hugging Face tokenizer.json, with merges in both forms.
    static func writeTiny(directory: String, merges: String? = nil, preTokenizer: String? = nil,
                          config: String? = nil) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let vocab = TinyTokenizers.texts.prefix(14).enumerated()
            .map { "\"\($0.element)\": \($0.offset)" }.joined(separator: ", ")
        let json = """
            {
              "version": "1.0",
              "added_tokens": [
                {"id": 14, "content": "<|end|>", "single_word": false, "lstrip": false, "rstrip": false,
                 "normalized": false, "special": true},
                {"id": 15, "content": "<x>", "special": false},
                {"id": 16, "content": "\u{FEFF}<bom>", "special": false}
              ],
              "normalizer": null,
              "pre_tokenizer": \(preTokenizer ?? #"{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}"#),
              "model": {
                "type": "BPE", "dropout": null, "unk_token": null, "ignore_merges": false,
                "vocab": {\(vocab)},
                "merges": \(merges ?? #"["h e", "l l", ["he", "ll"], "hell o", ["Ġ", "w"], "Ġw o"]"#)
              }
            }
            """
        let path = directory + "/tokenizer.json"
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        if let config {
            try config.write(toFile: directory + "/tokenizer_config.json", atomically: true, encoding: .utf8)
        }
        return path
    }

    @Test func loadsVocabularyMergesAndAddedTokens() throws {
        let path = try Self.writeTiny(directory: TestPaths.temporaryFile("json-plain"))
        let tokenizer = try Tokenizer(tokenizerJSONPath: path)
        #expect(tokenizer.vocabularySize == 17)
        // JSONSerialization on Linux drops a leading U+FEFF inside strings; the loader must keep it.
        #expect(tokenizer.tokenText(16) == "\u{FEFF}<bom>")
        #expect(tokenizer.encode("he\u{FEFF}<bom>") == [8, 16])
        #expect(tokenizer.encode("hello world") == [11, 13, 6, 2, 7])
        #expect(tokenizer.encode("hello<|end|> world<x>") == [11, 14, 13, 6, 2, 7, 15])
        #expect(tokenizer.attributes(of: 14).contains(.control))
        #expect(tokenizer.attributes(of: 15).contains(.userDefined))
        #expect(tokenizer.endOfGenerationIDs == [14])  // "<|end|>" by its text, as llama.cpp does
        #expect(tokenizer.decode([11, 14, 13, 6, 2, 7]) == "hello<|end|> world")
        #expect(tokenizer.bosID == nil && !tokenizer.addsBOS)
    }

    @Test func sameIdsAsTheGGUFForm() throws {
        let json = try Tokenizer(tokenizerJSONPath: Self.writeTiny(directory: TestPaths.temporaryFile("json-same")))
        let gguf = try TinyTokenizers.gguf()
        for text in ["hello", "hello world", " wo", "he<|end|>", "hell"] {
            #expect(json.encode(text, addSpecial: false) == gguf.encode(text, addSpecial: false))
        }
    }

    @Test func sequenceOfSplitAndByteLevel() throws {
        let qwen = #"{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}]}"#
        let path = try Self.writeTiny(directory: TestPaths.temporaryFile("json-qwen"), preTokenizer: qwen)
        let tokenizer = try Tokenizer(tokenizerJSONPath: path)
        #expect(tokenizer.preTokenizer.words(in: "hello 123 world") == ["hello", " ", "1", "2", "3", " world"])
        let smollm = #"{"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true}, {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}]}"#
        let other = try Tokenizer(tokenizerJSONPath: Self.writeTiny(directory: TestPaths.temporaryFile("json-digits"),
                                                                    preTokenizer: smollm))
        #expect(other.preTokenizer.words(in: "a 2026!") == ["a", " ", "2", "0", "2", "6", "!"])
    }

    @Test func configGivesBOSAndEOS() throws {
        let config = #"{"bos_token": {"content": "<|end|>"}, "eos_token": "<|end|>", "add_bos_token": true}"#
        let path = try Self.writeTiny(directory: TestPaths.temporaryFile("json-config"), config: config)
        let tokenizer = try Tokenizer(tokenizerJSONPath: path)
        #expect(tokenizer.bosID == 14 && tokenizer.eosID == 14 && tokenizer.addsBOS)
        #expect(tokenizer.encode("he") == [14, 8])
    }

    @Test func errors() throws {
        let badMerge = try Self.writeTiny(directory: TestPaths.temporaryFile("json-bad-merge"),
                                          merges: #"["h e", "x y"]"#)
        #expect(throws: TokenizerError.mergeNotInVocabulary(path: badMerge, index: 1, merge: "x y", piece: "x")) {
            try Tokenizer(tokenizerJSONPath: badMerge)
        }
        let badPre = try Self.writeTiny(directory: TestPaths.temporaryFile("json-bad-pre"),
                                        preTokenizer: #"{"type": "Whitespace"}"#)
        #expect(throws: TokenizerError.unknownPreTokenizer(path: badPre, name: "Whitespace")) {
            try Tokenizer(tokenizerJSONPath: badPre)
        }
        #expect(throws: TokenizerError.self) { try Tokenizer(tokenizerJSONPath: "/nonexistent/tokenizer.json") }
    }

    /// Found by scripts/fuzz: one id far past the others made the loader allocate a placeholder token for every id
    /// below it (id 3e9: a 48 GB allocation; id 2e7: 75 s), from a file of 110 bytes.
    @Test func idFarBeyondTheOtherTokensIsRefused() throws {
        func write(_ name: String, vocab: String, added: String) throws -> String {
            let directory = TestPaths.temporaryFile(name)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let path = directory + "/tokenizer.json"
            try #"{"model": {"vocab": {\#(vocab)}}, "added_tokens": [\#(added)], "pre_tokenizer": {"type": "ByteLevel"}}"#
                .write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let farAdded = try write("json-far-added", vocab: #""a": 0, "b": 1"#,
                                 added: #"{"id": 3000000000, "content": "x", "special": true}"#)
        #expect {
            try Tokenizer(tokenizerJSONPath: farAdded)
        } throws: { error in
            guard case let TokenizerError.invalidField(path, field, reason) = error else { return false }
            return path == farAdded && field == "added_tokens[0]" && reason.contains("id 3000000000")
        }
        let farVocab = try write("json-far-vocab", vocab: #""a": 0, "b": 20000000"#, added: "")
        #expect {
            try Tokenizer(tokenizerJSONPath: farVocab)
        } throws: { error in
            guard case let TokenizerError.invalidField(_, field, reason) = error else { return false }
            return field == "model.vocab" && reason.contains("id 20000000")
        }
        // A few unused ids, as padded vocabularies have, still load as placeholders.
        let padded = try write("json-padded", vocab: #""a": 0, "b": 1"#, added: #"{"id": 40, "content": "<x>"}"#)
        let tokenizer = try Tokenizer(tokenizerJSONPath: padded)
        #expect(tokenizer.vocabularySize == 41)
        #expect(tokenizer.tokenText(40) == "<x>")
        #expect(tokenizer.attributes(of: 20).contains(.unused))
    }
}
