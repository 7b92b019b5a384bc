import Testing
@testable import Factuality

struct SentenceSplitterTests {
    func sentences(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        return SentenceSplitter().sentences(in: text).map { $0.text(in: scalars) }
    }

    @Test func abbreviationsInitialsAndDecimalsDoNotEndSentences() {
        #expect(sentences("Dr. Smith moved to the U.S. in 1990. He paid $3.14 for it.")
            == ["Dr. Smith moved to the U.S. in 1990.", "He paid $3.14 for it."])
        #expect(sentences("J. R. R. Tolkien wrote it. It sold well.") == ["J. R. R. Tolkien wrote it.", "It sold well."])
        #expect(sentences("It costs approx. five dollars, e.g. at the shop.") == ["It costs approx. five dollars, e.g. at the shop."])
    }

    @Test func quotesAndOtherStops() {
        #expect(sentences("He said \"Stop.\" Then he left! Did he? Yes…") == ["He said \"Stop.\"", "Then he left!", "Did he?", "Yes…"])
        #expect(sentences("the end. and more") == ["the end. and more"])
    }

    @Test func listsAndParagraphs() {
        let text = "Facts:\n- Paris is in France\n- Rome is in Italy\n1. First item\n2) Second item\n\nNew paragraph"
        #expect(sentences(text) == ["Facts:", "Paris is in France", "Rome is in Italy", "First item", "Second item",
                                    "New paragraph"])
    }

    @Test func cjkStopsNeedNoSpace() {
        #expect(sentences("居里夫人出生于华沙。她获得了诺贝尔奖。") == ["居里夫人出生于华沙。", "她获得了诺贝尔奖。"])
    }

    @Test func spansPointIntoTheText() {
        let text = "  One sentence here.  Another one there.  "
        let spans = SentenceSplitter().sentences(in: text)
        #expect(spans == [TextSpan(start: 2, end: 20), TextSpan(start: 22, end: 40)])
    }

    @Test func emptyAndBlankTextHaveNoSentences() {
        #expect(sentences("").isEmpty)
        #expect(sentences(" \n\n ").isEmpty)
    }
}

struct ClaimSplitterTests {
    func claims(_ text: String) -> [String] { ClaimSplitter().claims(in: text).map(\.text) }

    @Test func splitsJoinedClauses() {
        #expect(claims("The lake is the deepest in the world; it holds a fifth of all fresh water.")
            == ["The lake is the deepest in the world", "it holds a fifth of all fresh water."])
        #expect(claims("Curie was born in Warsaw in 1867, and she moved to Paris in 1891.")
            == ["Curie was born in Warsaw in 1867", "she moved to Paris in 1891."])
        #expect(claims("The bridge opened in 1932, which made it the longest arch in the world.")
            == ["The bridge opened in 1932", "which made it the longest arch in the world."])
        #expect(claims("The museum is small, but it holds over three thousand paintings.")
            == ["The museum is small", "it holds over three thousand paintings."])
    }

    @Test func keepsShortListsWhole() {
        #expect(claims("She bought apples, pears, and plums at the market.") == ["She bought apples, pears, and plums at the market."])
        #expect(claims("Delhi") == ["Delhi"])
    }

    @Test func claimSpansMatchTheAnswer() {
        let answer = "Rome is old. It was founded in 753 BC, and it became an empire later on."
        let scalars = Array(answer.unicodeScalars)
        for claim in ClaimSplitter().claims(in: answer) {
            #expect(claim.span.text(in: scalars) == claim.text)
        }
        #expect(ClaimSplitter().claims(in: answer).map(\.span.start) == [0, 13, 43])
    }

    @Test func sentenceClaimsKeepTheirClausesTogether() {
        let answer = "Rome is old.  It was founded in 753 BC, and it became an empire later on.\n"
        let scalars = Array(answer.unicodeScalars)
        let claims = ClaimSplitter(unit: .sentence).claims(in: answer)
        #expect(claims.map(\.text) == ["Rome is old.", "It was founded in 753 BC, and it became an empire later on."])
        for claim in claims { #expect(claim.span.text(in: scalars) == claim.text) }
        #expect(ClaimSplitter(unit: .clause).claims(in: answer).count == 3)
    }
}
