import Foundation
import Testing
@testable import Retrieval

struct ChunkerTests {
    /// Every passage is an exact slice at its span, and every word of the text lands in some passage.
    func checkInvariants(_ text: String, _ passages: [Passage], limit: Int?, sourceLocation: SourceLocation = #_sourceLocation) {
        let scalars = Array(text.unicodeScalars)
        var covered = [Bool](repeating: false, count: scalars.count)
        for (index, passage) in passages.enumerated() {
            #expect(passage.ordinal == index, sourceLocation: sourceLocation)
            #expect(String(String.UnicodeScalarView(scalars[passage.span])) == passage.text, sourceLocation: sourceLocation)
            #expect(!passage.text.isEmpty, sourceLocation: sourceLocation)
            if let limit { #expect(passage.span.count <= limit, sourceLocation: sourceLocation) }
            for offset in passage.span { covered[offset] = true }
        }
        let missed = scalars.indices.filter { !covered[$0] && !scalars[$0].properties.isWhitespace }
        #expect(missed.isEmpty, "uncovered offsets \(missed.prefix(5))", sourceLocation: sourceLocation)
    }

    @Test func emptyAndBlankTextHaveNoPassages() {
        #expect(Chunker().passages(of: "").isEmpty)
        #expect(Chunker().passages(of: " \n\n\t ").isEmpty)
    }

    @Test func splitsOnSentencesNotAbbreviationsOrInitials() {
        let text = "Dr. Smith met J. R. Tolkien in the U.S. in 1950. He arrived at 5 p.m. on Monday! Did it rain? Yes."
        let passages = Chunker(target: .characters(50)).passages(of: text)
        #expect(passages.map(\.text) == [
            "Dr. Smith met J. R. Tolkien in the U.S. in 1950.",
            "He arrived at 5 p.m. on Monday! Did it rain? Yes.",
        ])
        checkInvariants(text, passages, limit: 50)
    }

    @Test func prefersParagraphEnds() {
        let first = String(repeating: "Alpha beta gamma. ", count: 3).trimmingCharacters(in: .whitespaces)  // 53 chars
        let second = "Delta epsilon."
        let passages = Chunker(target: .characters(100)).passages(of: first + "\n\n" + second)
        #expect(passages.map(\.text) == [first, second])
        // A short first paragraph (under half the target) is packed with the next one.
        let merged = Chunker(target: .characters(100)).passages(of: "Short one.\n\n" + second)
        #expect(merged.map(\.text) == ["Short one.\n\n" + second])
    }

    @Test func overlapRepeatsTrailingSentences() {
        let text = (1...12).map { "Sentence number \($0) is here." }.joined(separator: " ")
        let passages = Chunker(target: .characters(90), overlap: 30).passages(of: text)
        checkInvariants(text, passages, limit: 90)
        #expect(passages.count > 3)
        for (previous, next) in zip(passages, passages.dropFirst()) {
            #expect(next.span.lowerBound < previous.span.upperBound, "no overlap between \(previous.ordinal) and \(next.ordinal)")
            #expect(next.span.lowerBound > previous.span.lowerBound)
        }
        let plain = Chunker(target: .characters(90)).passages(of: text)
        for (previous, next) in zip(plain, plain.dropFirst()) {
            #expect(next.span.lowerBound >= previous.span.upperBound)
        }
    }

    @Test func tokenTargetCountsWords() {
        let text = (1...40).map { "w\($0)" }.joined(separator: " ") + ". " + "Short end."
        let passages = Chunker(target: .tokens(10)).passages(of: text)
        checkInvariants(text, passages, limit: nil)
        #expect(passages.allSatisfy { $0.text.split(separator: " ").count <= 10 })
        #expect(passages.count == 5)
    }

    /// A stand-in for a subword tokenizer: one token per started group of four characters.
    struct QuarterCounter: TokenCounter {
        var name: String { "quarters" }
        func tokens(inWord word: Substring) -> Int { (word.unicodeScalars.count + 3) / 4 }
    }

    @Test func pluggedTokenCounterSizesPassages() {
        let words = ["a", "tiny", "sentence", "with", "extraordinarily", "long", "vocabulary", "items"]
        var generator = SplitMix64(seed: 3)
        let text = (0..<60).map { _ in
            (0..<Int.random(in: 3...12, using: &generator)).map { _ in words.randomElement(using: &generator)! }
                .joined(separator: " ") + "."
        }.joined(separator: " ")
        let counter = QuarterCounter()
        let chunker = Chunker(target: .tokens(20), overlap: 4, tokenCounter: counter)
        let passages = chunker.passages(of: text)
        checkInvariants(text, passages, limit: nil)
        for passage in passages {
            let tokens = passage.text.split(separator: " ").reduce(0) { $0 + counter.tokens(inWord: $1) }
            #expect(tokens <= 20, "\(tokens) tokens in \(passage.text.debugDescription)")
        }
        // Counting by words instead packs more text into each passage.
        #expect(Chunker(target: .tokens(20)).passages(of: text).count < passages.count)
        #expect(chunker.signature != Chunker(target: .tokens(20), overlap: 4).signature)
        #expect(Chunker(target: .characters(20), tokenCounter: counter) == Chunker(target: .characters(20)))
    }

    @Test func giantWordIsCut() {
        let text = String(repeating: "x", count: 2_500)
        let passages = Chunker(target: .characters(1000)).passages(of: text)
        #expect(passages.map(\.span.count) == [1000, 1000, 500])
        checkInvariants(text, passages, limit: 1000)
    }

    @Test func fullWidthSentenceEnds() {
        let text = "東京は日本の首都です。大阪は西にあります。"
        let passages = Chunker(target: .characters(12)).passages(of: text)
        #expect(passages.map(\.text) == ["東京は日本の首都です。", "大阪は西にあります。"])
    }

    /// Random text built from words, emoji, combining marks, punctuation and breaks: the invariants hold
    /// for many targets and overlaps.
    @Test func invariantsHoldOnRandomText() {
        var generator = SplitMix64(seed: 7)
        let pieces = ["word", "Mr.", "e.g.", "end.", "Why?", "wow!", "🙂", "👩‍👩‍👧", "e\u{301}", "東京", " ", " ", "  ", "\n", "\n\n", "\t",
                      "«quoted.»", "(paren.)", "...", "x", String(repeating: "long", count: 40)]
        for round in 0..<200 {
            let count = Int.random(in: 0...300, using: &generator)
            var text = ""
            for _ in 0..<count {
                text += pieces.randomElement(using: &generator)!
                if Int.random(in: 0..<3, using: &generator) > 0 { text += " " }
            }
            let target = Int.random(in: 5...200, using: &generator)
            let overlap = Int.random(in: 0...100, using: &generator)
            let chunker = round % 2 == 0
                ? Chunker(target: .characters(target), overlap: overlap)
                : Chunker(target: .tokens(max(1, target / 5)), overlap: overlap / 5)
            let passages = chunker.passages(of: text)
            if case .characters = chunker.target {
                checkInvariants(text, passages, limit: target)
            } else {
                checkInvariants(text, passages, limit: nil)
            }
        }
    }
}
