import Testing
@testable import Tokenization

@Suite struct PreTokenizerTests {
    @Test func codepointClassesFollowLlamaCppsUnicodeVersion() {
        #expect(CodepointFlags.of(0x41) == .letter)
        #expect(CodepointFlags.of(0x20) == [.separator, .whitespace])
        #expect(CodepointFlags.of(0x0A) == [.control, .whitespace])
        #expect(CodepointFlags.of(0x85) == [.control, .whitespace])
        #expect(CodepointFlags.of(0x3000) == [.separator, .whitespace])
        #expect(CodepointFlags.of(0x0301) == .accentMark)
        #expect(CodepointFlags.of(0xB2) == .number)
        #expect(CodepointFlags.of(0x1F917) == .symbol)
        #expect(CodepointFlags.of(0x0378) == .undefined)  // unassigned
        #expect(CodepointFlags.of(0x2EBF0) == .letter)  // CJK extension I, Unicode 15.1
        #expect(CodepointFlags.of(0x0897) == .undefined)  // Unicode 16.0: unknown to llama.cpp's tables
        #expect(CodepointFlags.of(0x110000).isEmpty)
    }

    @Test func gpt2KeepsOneSpaceForTheNextWord() throws {
        let pre = try #require(PreTokenizer(name: "gpt-2"))
        #expect(pre.words(in: "Hello   world  ") == ["Hello", "  ", " world", "  "])
        #expect(pre.words(in: "it's 12345 ok?!") == ["it", "'s", " 12345", " ok", "?!"])
        #expect(pre.words(in: "IT'S") == ["IT", "'", "S"])  // GPT-2 contractions are case-sensitive
    }

    @Test func llama3GroupsDigitsByThreeAndQwen2ByOne() throws {
        let llama3 = try #require(PreTokenizer(name: "llama-bpe"))
        let qwen2 = try #require(PreTokenizer(name: "qwen2"))
        #expect(llama3.words(in: "1234567") == ["123", "456", "7"])
        #expect(qwen2.words(in: "1234") == ["1", "2", "3", "4"])
        #expect(llama3.words(in: "IT'S ok\n\n  x") == ["IT", "'S", " ok", "\n\n", " ", " x"])
        #expect(llama3.ignoresMerges && llama3.addsBOSByDefault)
        #expect(!qwen2.ignoresMerges && !qwen2.addsBOSByDefault)
    }

    @Test func smollmIsolatesEveryDigit() throws {
        let pre = try #require(PreTokenizer(name: "smollm"))
        #expect(pre.words(in: "v2026 x") == ["v", "2", "0", "2", "6", " x"])
    }

    @Test func unknownNamesAreNotGuessed() {
        #expect(PreTokenizer(name: "tekken") == nil)
        #expect(PreTokenizer(name: "smollm2") == nil)
    }
}
