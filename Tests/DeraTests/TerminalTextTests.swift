import Foundation
import Testing
@testable import dera
import Retrieval

struct TerminalTextTests {
    @Test func controlCharactersAndBidiOverridesBecomeVisibleEscapes() {
        #expect(TerminalText.escaped("a\u{1B}[2Jb") == "a\\x1B[2Jb")
        #expect(TerminalText.escaped("\u{07}\u{00}\u{7F}") == "\\x07\\x00\\x7F")
        #expect(TerminalText.escaped("8-bit CSI \u{9B}31m") == "8-bit CSI \\x9B31m")
        #expect(TerminalText.escaped("abc\u{202E}fed") == "abc\\u{202E}fed")
        #expect(TerminalText.escaped("osc \u{1B}]0;title\u{07}") == "osc \\x1B]0;title\\x07")
        #expect(TerminalText.escaped("line\nnext\ttab\r") == "line\\x0Anext\\x09tab\\x0D")
        #expect(TerminalText.escaped("line\nnext\ttab\r", keepingLineBreaks: true) == "line\nnext\ttab\\x0D")
    }

    @Test func ordinaryTextIsUnchanged() {
        for text in ["Canberra", "été – “quoted” 日本語 🇦🇺 e\u{301}", "", "[1] (score 0.5) ~!@#$%^&*"] {
            #expect(TerminalText.escaped(text) == text)
        }
    }

    @Test func searchHitsAreEscapedWhenPrinted() {
        let hit = SearchHit(passage: Passage(id: 1, documentID: 1, ordinal: 0, text: "x", span: 0..<1),
                            source: "/docs/\u{1B}]8;;http://evil\u{07}name.txt", title: "Title\u{1B}[31m",
                            metadata: [:], score: 1.5, snippet: "snip\u{1B}[2Jpet\nnext")
        let text = SearchCommand.render([hit])
        #expect(!text.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 })
        #expect(text == """
            1. Title\\x1B[31m  (score 1.500)
               /docs/\\x1B]8;;http://evil\\x07name.txt
               snip\\x1B[2Jpet\\x0Anext
            """)
    }
}
