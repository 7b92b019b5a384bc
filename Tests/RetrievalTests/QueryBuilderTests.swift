import Foundation
import Testing
@testable import Retrieval

struct QueryBuilderTests {
    let builder = QueryBuilder()

    @Test func quotesEveryWordAndJoinsWithOr() {
        let query = builder.query(for: "capital of France")
        #expect(query.expression == #""capital" OR "france""#)
        #expect(query.terms == ["capital", "france"])
    }

    @Test func operatorsAndColumnsBecomePlainWords() {
        let query = builder.query(for: #"title:Paris NEAR(x y) AND -rome ^start"#)
        #expect(query.expression == #""title" OR "paris" OR "near" OR "x" OR "y" OR "rome" OR "start""#)
    }

    @Test func docExampleHoldsAPhraseClause() {
        let query = builder.query(for: #"Who wrote "The Hobbit" (AND NEAR"#)
        #expect(query.expression == #""wrote" OR "hobbit" OR "near" OR "the hobbit""#)
    }

    @Test func trailingStarIsAPrefix() {
        #expect(builder.query(for: "photosynth* plants").expression == #""photosynth"* OR "plants""#)
    }

    @Test func onlyStopWordsStillSearch() {
        let query = builder.query(for: "to be or not to be")
        #expect(query.expression == #""to" OR "be" OR "or" OR "not""#)
    }

    @Test func textWithoutWordsIsEmpty() {
        #expect(builder.query(for: "\"(*)\" -- 🙂🙂 ^:").isEmpty)
        #expect(builder.query(for: "").isEmpty)
    }

    @Test func clauseCountIsBounded() {
        let words = (0..<500).map { "word\($0)" }.joined(separator: " ")
        #expect(QueryBuilder(maximumClauses: 10).query(for: words).terms.count == 10)
    }

    @Test func diacriticsAndScriptsAreWords() {
        let query = builder.query(for: "Café Zürich 東京 Ελλάδα")
        #expect(query.terms == ["café", "zürich", "東京", "ελλάδα"])
    }

    /// Ten thousand generated hostile strings: every one must run against a real FTS5 index
    /// without an error.
    @Test func tenThousandHostileQueriesRunWithoutError() throws {
        let store = try PassageStore.inMemory()
        try Ingestor(store: store).ingest(documents: Fixtures.topics.map {
            ExtractedDocument(source: "topic:\($0.title)", title: $0.title, text: $0.text)
        })
        var generator = SplitMix64(seed: 42)
        let pieces = [
            "\"", "\"\"", "'", "(", ")", "((", "))", "*", "**", "-", "--", "+", "^", ":", "::", "NEAR", "NEAR(",
            "NEAR/3", "AND", "OR", "NOT", "and", "or", "not", "near", "title:", "text:", "{title text}:",
            "passages_fts", "rank", "MATCH", ";", "DROP TABLE passages;", "'; --", "\\", "%", "_", "\u{0}",
            "\u{1}", "\n", "\t", "🙂", "👩‍👩‍👧", "🇫🇷", "é", "e\u{301}", "ß", "İ", "東京", "ﷺ", "\u{200B}",
            "\u{FEFF}", "\u{FFFD}", "\u{202E}", "paris", "capital", "volcano", "chess", "jazz", "Paris*",
            "\"capital", "city\"", "1e10", "0x1F", "-1", "NaN", "∞", "a", "the", "to", "be",
            String(repeating: "x", count: 300), String(repeating: "(", count: 50), String(repeating: "\"", count: 7),
        ]
        var failures: [String] = []
        var nonEmptyQueries = 0
        for _ in 0..<10_000 {
            let count = Int.random(in: 0...12, using: &generator)
            var text = ""
            for _ in 0..<count {
                if Bool.random(using: &generator) {
                    text += pieces.randomElement(using: &generator)!
                } else {
                    // A random scalar from anywhere in Unicode (surrogates excluded by the initializer).
                    let value = UInt32.random(in: 0...0x10FFFF, using: &generator)
                    if let scalar = Unicode.Scalar(value) { text.unicodeScalars.append(scalar) }
                }
                if Bool.random(using: &generator) { text += " " }
            }
            do {
                let query = builder.query(for: text)
                if !query.isEmpty { nonEmptyQueries += 1 }
                _ = try store.search(query, options: SearchOptions(limit: 3, filters: [MetadataFilter(key: text, value: text)].filter { _ in text.count % 7 == 0 }))
            } catch {
                failures.append("\(text.debugDescription): \(error)")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) queries failed, first: \(failures.first ?? "")")
        // The fuzz must actually reach FTS5, not only produce empty queries.
        #expect(nonEmptyQueries > 5_000)
    }
}

struct LongQueryTests {
    /// Twenty thousand distinct words: building the query is linear (timed at 5k, 10k and 20k words)
    /// and the words past the clause limit are counted, so the command can say they were ignored.
    @Test func twentyThousandWordsAreLinearAndCounted() throws {
        func text(_ words: Int) -> String { (0..<words).map { "term\($0)" }.joined(separator: " ") }
        var times: [Double] = []
        for words in [5_000, 10_000, 20_000] {
            let input = text(words)
            times.append(ReaderGrowthTests.seconds { _ = QueryBuilder().query(for: input) })
        }
        #expect(times[2] / max(times[0], 1e-6) < 8, "\(times)")
        let query = QueryBuilder().query(for: text(20_000))
        #expect(query.clauses.count == 64)
        #expect(query.droppedWords == 20_000 - 64)
        #expect(QueryBuilder().query(for: "capital of France").droppedWords == 0)
    }
}
