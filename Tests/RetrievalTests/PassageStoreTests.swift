import Foundation
import Testing
@testable import Retrieval

struct PassageStoreTests {
    func storeWithTopics(metadata: (String) -> [String: String] = { _ in [:] }) throws -> PassageStore {
        let store = try PassageStore.inMemory()
        try Ingestor(store: store).ingest(documents: Fixtures.topics.map {
            ExtractedDocument(source: "topic:\($0.title)", title: $0.title, text: $0.text, metadata: metadata($0.title))
        })
        return store
    }

    @Test func findsTheRightDocumentFirst() throws {
        let store = try storeWithTopics()
        #expect(try store.search("Which city is the capital of France?").first?.title == "Paris")
        #expect(try store.search("how do plants turn light into energy").first?.title == "Photosynthesis")
        #expect(try store.search("active volcanoes in Sicily").first?.title == "Volcano")
    }

    @Test func porterStemmingMatchesOtherWordForms() throws {
        let store = try storeWithTopics()
        // "players"/"pieces" are stored; "player"/"piece" are asked.
        #expect(try store.search("piece player").first?.title == "Chess")
    }

    @Test func hitsCarrySnippetSpanAndScoreInOrder() throws {
        let store = try storeWithTopics()
        let hits = try store.search("capital city Seine", options: SearchOptions(limit: 5))
        let first = try #require(hits.first)
        #expect(first.source == "topic:Paris")
        #expect(first.snippet.contains("[capital]"))
        #expect(first.passage.span == 0..<first.passage.text.unicodeScalars.count)
        #expect(zip(hits, hits.dropFirst()).allSatisfy { $0.score >= $1.score })
    }

    @Test func limitBoundsTheHits() throws {
        let store = try storeWithTopics()
        // "the" alone is a stop-word-only query: it still runs and matches several documents.
        #expect(try store.search("the", options: SearchOptions(limit: 2)).count == 2)
        #expect(try store.search("the", options: SearchOptions(limit: 0)).isEmpty)
    }

    @Test func titleWeightLiftsTitleMatches() throws {
        let store = try PassageStore.inMemory()
        try Ingestor(store: store).ingest(documents: [
            ExtractedDocument(source: "a", title: "Orchids", text: "A family of flowering plants with colourful flowers."),
            ExtractedDocument(source: "b", title: "Gardening", text: "Orchids need bright light; orchids dislike wet roots."),
        ])
        let heavyTitle = try store.search("orchids", options: SearchOptions(titleWeight: 10, textWeight: 1))
        let noTitle = try store.search("orchids", options: SearchOptions(titleWeight: 0, textWeight: 1))
        #expect(heavyTitle.first?.source == "a")
        #expect(noTitle.first?.source == "b")
    }

    @Test func metadataFiltersRestrictHits() throws {
        let store = try storeWithTopics { title in
            ["topic": ["Paris", "Volcano"].contains(title) ? "Geography" : "Other", "weird key \"x\"": "1"]
        }
        let filtered = try store.search("the", options: SearchOptions(limit: 10, filters: [MetadataFilter(key: "topic", value: "Geography")]))
        #expect(Set(filtered.map(\.title)) == ["Paris", "Volcano"])
        let oddKey = try store.search("is", options: SearchOptions(limit: 10, filters: [MetadataFilter(key: "weird key \"x\"", value: "1")]))
        #expect(oddKey.count == 5)
        #expect(try store.search("the", options: SearchOptions(filters: [MetadataFilter(key: "topic", value: "None")])).isEmpty)
        #expect(filtered.first?.metadata["topic"] == "Geography")
    }

    @Test func metadataFilterParsing() {
        #expect(MetadataFilter(parsing: "topic=People") == MetadataFilter(key: "topic", value: "People"))
        #expect(MetadataFilter(parsing: "a=b=c") == MetadataFilter(key: "a", value: "b=c"))
        #expect(MetadataFilter(parsing: "=x") == nil)
        #expect(MetadataFilter(parsing: "novalue") == nil)
    }

    @Test func replaceAndDeleteKeepTheIndexInStep() throws {
        let store = try storeWithTopics()
        try store.write { transaction in
            try transaction.replace(Document(source: "topic:Paris", title: "Lyon", contentHash: "x"),
                                    passages: [Passage(ordinal: 0, text: "Lyon sits where the Rhône meets the Saône.", span: 0..<41)])
            #expect(try transaction.delete(source: "topic:Chess"))
            #expect(try !transaction.delete(source: "topic:Nothing"))
        }
        try store.checkIntegrity()
        #expect(try store.search("Seine capital").allSatisfy { $0.source != "topic:Paris" })
        #expect(try store.search("Rhone").first?.title == "Lyon")  // diacritics folded
        #expect(try store.search("chess king queen").isEmpty)
        let statistics = try store.statistics()
        #expect(statistics.documents == 4)
        #expect(statistics.passages == 4)
    }

    @Test func reopensAFileStore() throws {
        let folder = try Fixtures.temporaryFolder()
        let path = folder.appendingPathComponent("index.sqlite").path
        do {
            let store = try PassageStore(path: path)
            try Ingestor(store: store).ingest(documents: [ExtractedDocument(source: "s", title: "T", text: "Persistent words here.", metadata: ["k": "v"])])
        }
        let reopened = try PassageStore(path: path)
        let document = try #require(try reopened.document(source: "s"))
        #expect(document.metadata == ["k": "v"])
        #expect(document.title == "T")
        #expect(try reopened.search("persistent").count == 1)
        #expect(try reopened.statistics().fileBytes > 0)
    }

    @Test func openingSomethingElseNamesTheFile() throws {
        let folder = try Fixtures.temporaryFolder()
        let path = try Fixtures.write("this is not a database, just text that is long enough to matter", to: folder, "bad.sqlite").path
        #expect {
            try PassageStore(path: path)
        } throws: { error in
            (error as? StoreError)?.path == path
        }
    }
}

struct CommonClausePruningTests {
    func store(commonDocuments: Int) throws -> PassageStore {
        let store = try PassageStore.inMemory()
        var documents = (0..<commonDocuments).map {
            ExtractedDocument(source: "c\($0)", title: "", text: "Common words fill document \($0) with ordinary filler.")
        }
        documents.append(ExtractedDocument(source: "rare", title: "", text: "The narwhal is a common whale with a tusk."))
        try Ingestor(store: store).ingest(documents: documents)
        return store
    }

    @Test func dropsClausesAboveTheCutoffButKeepsTheTwoRarest() throws {
        let store = try store(commonDocuments: 20)
        let query = QueryBuilder().query(for: "common ordinary filler narwhal tusk unseenword")
        let pruned = try store.pruned(query, cutoff: 0.5)
        // "unseenword" matches nothing and goes; the common words match 20 or 21 of 21 passages.
        #expect(pruned.clauses == [#""narwhal""#, #""tusk""#])
        let onlyCommon = try store.pruned(QueryBuilder().query(for: "common ordinary filler words"), cutoff: 0.5)
        #expect(onlyCommon.clauses.count == 2)
        let hits = try store.search(query, options: SearchOptions(limit: 3, commonClauseCutoff: 0.5))
        #expect(hits.first?.source == "rare")
    }

    @Test func countsAreRefreshedAfterAWrite() throws {
        let store = try store(commonDocuments: 3)
        let query = QueryBuilder().query(for: "narwhal tusk common")
        // 4 passages: "common" is in all of them, above a cutoff of 0.5.
        #expect(try store.pruned(query, cutoff: 0.5).clauses == [#""narwhal""#, #""tusk""#])
        try Ingestor(store: store).ingest(documents: (0..<6).map {
            ExtractedDocument(source: "n\($0)", title: "", text: "Narwhal and tusk facts, part \($0).")
        })
        // Now "common" (4 of 10) is the rarest and stays; "narwhal" and "tusk" (7 of 10) exceed 0.5
        // but one of them is among the two rarest.
        #expect(try store.pruned(query, cutoff: 0.5).clauses.contains(#""common""#))
    }
}
