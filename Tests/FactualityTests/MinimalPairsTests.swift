import Testing
@testable import Factuality

struct MinimalPairsTests {
    static let rows = [
        HaluEvalRow(index: 0, source: "The Eiffel Tower was built from 1887 to 1889 by the company of Gustave Eiffel in Paris.",
                    question: "When was the Eiffel Tower finished?", faithful: "1889", hallucinated: "It was finished in the year 1889 after a long time."),
        HaluEvalRow(index: 1, source: "The phonograph was invented in 1877 by Thomas Edison at Menlo Park.",
                    question: "Who invented the phonograph?", faithful: "Thomas Edison", hallucinated: "x"),
        HaluEvalRow(index: 2, source: "Canberra was chosen as the capital in 1908 and built from 1913.",
                    question: "When was Canberra chosen?", faithful: "1908", hallucinated: "x"),
    ]

    @Test func factsAreYearsNumbersAndNamesNotSentenceStarts() {
        let facts = MinimalPairs.facts(in: "In 1889 the tower by Gustave Eiffel had 300 steps. Paris liked it.")
        #expect(facts.map(\.text) == ["1889", "Gustave Eiffel", "300"])
        #expect(facts.map(\.kind) == [.year, .name, .number])
    }

    /// Outside swaps take a fact of the same kind from another row, one the source never mentions.
    @Test func outsideSwapKeepsKindAndLeavesTheSource() {
        let pairs = MinimalPairs.pairs(Self.rows, task: .qa, from: .outside)
        // Years swap with each other; "Thomas Edison" has no other two-word name in the pool, so no pair.
        #expect(pairs.map(\.index) == [0, 2])
        #expect(pairs.map(\.hallucinated) == ["1908", "1889"])
        for pair in pairs {
            #expect(pair.hallucinated != pair.faithful)
            #expect(!pair.source.contains(pair.hallucinated))
            #expect(MinimalPairs.kind(ofAnswer: pair.hallucinated) == MinimalPairs.kind(ofAnswer: pair.faithful))
        }
    }

    /// Inside swaps take another fact of the same kind from the same source: "1887" for "1889".
    @Test func insideSwapUsesTheSourcesOwnFacts() {
        let pairs = MinimalPairs.pairs(Self.rows, task: .qa, from: .inside)
        let eiffel = pairs.first { $0.index == 0 }
        #expect(eiffel?.hallucinated == "1887")
        let canberra = pairs.first { $0.index == 2 }
        #expect(canberra?.hallucinated == "1913")
        // A name for a name of as many words.
        #expect(pairs.first { $0.index == 1 }?.hallucinated == "Menlo Park")
        #expect(pairs.allSatisfy { $0.source.contains($0.hallucinated) })
    }

    /// Summaries: the first sentence holding a fact, with that fact swapped; the rest of the sentence unchanged.
    @Test func summarySentenceSwapsOneFact() throws {
        let row = HaluEvalRow(index: 5, source: "The bridge opened in 1932 and was repaired in 1990 by the city.",
                              question: nil, faithful: "A bridge story. The bridge opened in 1932.", hallucinated: "x")
        let pair = try #require(MinimalPairs.pairs([row], task: .summarization, from: .inside).first)
        #expect(pair.faithful == "The bridge opened in 1932.")
        #expect(pair.hallucinated == "The bridge opened in 1990.")
    }
}
