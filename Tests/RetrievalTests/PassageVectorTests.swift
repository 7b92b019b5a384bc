import Embedding
import Foundation
import GRDB
import Testing
@testable import Retrieval

/// A small deterministic embedder: words hashed into 64 buckets, normalised. Texts that share words are near.
/// Counts the texts it was asked to embed.
final class WordHashEmbedder: TextEmbedder, @unchecked Sendable {
    let dimension = 64
    let identity: String
    private let lock = NSLock()
    private(set) var embeddedTexts: [String] = []

    init(identity: String = "word-hash-64") { self.identity = identity }

    func embed(_ texts: [String]) throws -> [[Float]] {
        lock.withLock { embeddedTexts += texts }
        return texts.map { text in
            var vector = [Float](repeating: 0, count: dimension)
            for word in text.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber }) {
                var hash: UInt64 = 1469598103934665603
                for byte in word.utf8 { hash = (hash ^ UInt64(byte)) &* 1099511628211 }
                vector[Int(hash % UInt64(dimension))] += 1
            }
            let length = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return length > 0 ? vector.map { $0 / length } : vector
        }
    }
}

struct PassageVectorTests {
    func documents(_ texts: [(String, String)]) -> [ExtractedDocument] {
        texts.enumerated().map { ExtractedDocument(source: "doc\($0.offset)", title: $0.element.0, text: $0.element.1) }
    }

    var topics: [ExtractedDocument] { documents(Fixtures.topics.map { ($0.title, $0.text) }) }

    func vectorCount(_ store: PassageStore) throws -> Int { try store.vectorCoverage().withVector }

    @Test func ingestStoresOneVectorPerPassageAndReingestEmbedsOnlyWhatChanged() throws {
        let store = try PassageStore.inMemory()
        let embedder = WordHashEmbedder()
        let options = IngestOptions(chunker: Chunker(target: .characters(60), overlap: 0))
        let first = try Ingestor(store: store, options: options, embedder: embedder).ingest(documents: topics)
        let passages = try store.statistics().passages
        #expect(passages > topics.count)  // several passages per document, so partial reuse can be seen
        #expect(first.embedded == passages && first.vectorsReused == 0)
        #expect(try store.vectorCoverage() == (passages, 0))
        #expect(try store.vectorModel() == VectorModel(identity: "word-hash-64", dimension: 64))
        try store.checkIntegrity()

        let unchanged = try Ingestor(store: store, options: options, embedder: embedder).ingest(documents: topics)
        #expect(unchanged.unchanged == topics.count && unchanged.embedded == 0)
        #expect(embedder.embeddedTexts.count == passages)

        // One sentence of one document changes: only the passage holding it is embedded again.
        var changed = topics
        changed[3].text = changed[3].text.replacingOccurrences(of: "board game", with: "strategy game")
        let before = embedder.embeddedTexts.count
        let third = try Ingestor(store: store, options: options, embedder: embedder).ingest(documents: changed)
        #expect(third.replaced == 1)
        #expect(third.embedded == 1)
        #expect(third.vectorsReused == (try store.passages(source: "doc3").count) - 1)
        #expect(embedder.embeddedTexts[before...].allSatisfy { $0.contains("strategy game") })
        #expect(try store.vectorCoverage() == (try store.statistics().passages, 0))
        try store.checkIntegrity()

        // Deleting a document deletes its vectors.
        _ = try Ingestor(store: store, options: IngestOptions(chunker: options.chunker, deleteMissing: true),
                         embedder: embedder).ingest(documents: Array(changed.prefix(2)), scope: "doc")
        #expect(try store.vectorCoverage() == (try store.statistics().passages, 0))
        try store.checkIntegrity()
    }

    @Test func backfillEmbedsWhatWasIndexedWithoutVectors() throws {
        let store = try PassageStore.inMemory()
        try Ingestor(store: store).ingest(documents: topics)
        #expect(try store.vectorModel() == nil)
        #expect(try store.vectorCoverage() == (0, topics.count))
        let embedder = WordHashEmbedder()
        var progress: [Int] = []
        let added = try Ingestor(store: store, embedder: embedder).backfillVectors(batchSize: 2) { done, total in
            #expect(total == 5)
            progress.append(done)
        }
        #expect(added == topics.count)
        #expect(progress == [2, 4, 5])
        #expect(try store.vectorCoverage() == (topics.count, 0))
        #expect(try Ingestor(store: store, embedder: embedder).backfillVectors() == 0)
        try store.checkIntegrity()
    }

    @Test func anotherEmbedderIsRefusedUntilTheVectorsAreDropped() throws {
        let store = try PassageStore.inMemory()
        try Ingestor(store: store, embedder: WordHashEmbedder()).ingest(documents: topics)
        let other = WordHashEmbedder(identity: "other-model")
        var more = topics
        more.append(ExtractedDocument(source: "doc9", title: "Tides", text: "The Moon raises the tides."))
        let error = #expect(throws: StoreError.self) {
            try Ingestor(store: store, embedder: other).ingest(documents: more)
        }
        #expect(error?.reason.contains("word-hash-64") == true)
        #expect(try store.statistics().documents == topics.count)  // the batch was rolled back
        #expect(throws: StoreError.self) {
            try Retriever(store: store, mode: .dense, embedder: other).search("tides")
        }
        try store.write { try $0.dropVectors() }
        #expect(try store.vectorModel() == nil)
        try Ingestor(store: store, embedder: other).ingest(documents: more)
        #expect(try Ingestor(store: store, embedder: other).backfillVectors() == topics.count)
        #expect(try store.vectorCoverage() == (topics.count + 1, 0))
    }

    @Test func anAbortedEmbeddingRunLeavesWholeBatchesAndARerunCompletesIt() throws {
        let store = try PassageStore.inMemory()
        let many = (0..<40).map { ExtractedDocument(source: "d\($0)", title: "T\($0)", text: "Text number \($0) about marker\($0).") }
        let aborting = Ingestor(store: store, options: IngestOptions(batchSize: 8), observer: AbortingObserver(afterDocuments: 20),
                                embedder: WordHashEmbedder())
        #expect(throws: AbortingObserver.Abort.self) { try aborting.ingest(documents: many) }
        // Two batches of 8 committed; the third rolled back with its passages and vectors.
        #expect(try store.statistics().documents == 16)
        #expect(try store.vectorCoverage() == (16, 0))
        try store.checkIntegrity()
        let rerun = try Ingestor(store: store, options: IngestOptions(batchSize: 8), embedder: WordHashEmbedder())
            .ingest(documents: many)
        #expect(rerun.added == 24 && rerun.unchanged == 16 && rerun.embedded == 24)
        #expect(try store.vectorCoverage() == (40, 0))
        try store.checkIntegrity()
    }

    @Test func denseHybridAndBM25Modes() throws {
        let store = try PassageStore.inMemory()
        let embedder = WordHashEmbedder()
        try Ingestor(store: store, embedder: embedder).ingest(documents: topics)
        let dense = try Retriever(store: store, mode: .dense, embedder: embedder).search("chlorophyll light", options: SearchOptions(limit: 3))
        #expect(dense.first?.title == "Photosynthesis")
        #expect(dense.count == 3)
        #expect(dense.map(\.score) == dense.map(\.score).sorted(by: >))
        // The score is the cosine of the question's and the passage's (title + text) vectors, up to half-float rounding.
        let query = try embedder.embed(["chlorophyll light"])[0]
        let passage = try embedder.embed([PassageVector.embeddingText(title: dense[0].title, text: dense[0].passage.text)])[0]
        let cosine = zip(query, passage).reduce(0) { $0 + Double($1.0 * $1.1) }
        #expect(cosine > 0.2 && abs(dense[0].score - cosine) < 1e-3)

        let rrf = Retriever(store: store, mode: .hybrid, embedder: embedder, fusionConstant: 60, lexicalWeight: 1,
                            fusion: .reciprocalRank)
        #expect(try rrf.resolvedMode().mode == .hybrid)
        let hits = try rrf.search("Seine capital", options: SearchOptions(limit: 2))
        #expect(hits.first?.title == "Paris")
        // First in both lists: 1/61 + 1/61.
        #expect(abs(hits[0].score - 2.0 / 61) < 1e-12)
        #expect(hits.count == 2)
        #expect(hits[0].snippet.contains("[Seine]"))  // FTS5 snippets for the hits shown

        // Score fusion: 0.5 x BM25 / best BM25 + cosine. The top BM25 hit gets 0.5 plus its exact cosine.
        let scored = try Retriever(store: store, mode: .hybrid, embedder: embedder).search("Seine capital", options: SearchOptions(limit: 5))
        #expect(scored.first?.title == "Paris")
        let question = try embedder.embed(["Seine capital"])[0]
        let paris = try embedder.embed([PassageVector.embeddingText(title: "Paris", text: scored[0].passage.text)])[0]
        let parisCosine = zip(question, paris).reduce(0) { $0 + Double($1.0 * $1.1) }
        #expect(abs(scored[0].score - (0.5 + parisCosine)) < 1e-3)
        #expect(scored.map(\.score) == scored.map(\.score).sorted(by: >))
        // Passages BM25 does not match still come from the dense list, scored by their cosine alone.
        #expect(scored.count == 5)
        #expect(scored.dropFirst().allSatisfy { $0.score < 0.5 })
        // Metadata filters hold in dense mode too.
        let filtered = try Retriever(store: store, mode: .dense, embedder: embedder)
            .search("chlorophyll light", options: SearchOptions(limit: 3, filters: [MetadataFilter(key: "x", value: "y")]))
        #expect(filtered.isEmpty)
    }

    @Test func hybridFallsBackToBM25WithoutVectorsAndDenseRefuses() throws {
        let store = try PassageStore.inMemory()
        try Ingestor(store: store).ingest(documents: topics)
        let hybrid = Retriever(store: store, mode: .hybrid, embedder: WordHashEmbedder())
        let (mode, note) = try hybrid.resolvedMode()
        #expect(mode == .bm25)
        #expect(note?.contains("dera index --embed") == true)
        #expect(try hybrid.search("Seine").map(\.title) == store.search("Seine").map(\.title))
        #expect(throws: StoreError.self) {
            try Retriever(store: store, mode: .dense, embedder: WordHashEmbedder()).search("Seine")
        }
        // Vectors present but no embedder given: hybrid also falls back.
        try Ingestor(store: store, embedder: WordHashEmbedder()).backfillVectors()
        #expect(try Retriever(store: store, mode: .hybrid).resolvedMode().mode == .bm25)
    }

    @Test func aStoreFromBeforeVectorsReadsAndUpgrades() throws {
        let folder = try Fixtures.temporaryFolder()
        let path = folder.appendingPathComponent("old.sqlite").path
        do {
            let queue = try DatabaseQueue(path: path)
            try StoreSchema.migrator.migrate(queue, upTo: StoreSchema.baseMigration)
            try queue.write { db in
                try db.execute(sql: "INSERT INTO documents (source, title, content_hash, ingested_at) VALUES ('a', 'Paris', 'h', '2026-01-01T00:00:00Z')")
                try db.execute(sql: "INSERT INTO passages (document_id, ordinal, text, span_start, span_end) VALUES (1, 0, 'The Seine flows through Paris.', 0, 30)")
                try db.execute(sql: "INSERT INTO passages_fts (rowid, title, text) VALUES (1, 'Paris', 'The Seine flows through Paris.')")
            }
        }
        let reader = try PassageStore(readOnlyPath: path)
        #expect(try reader.search("Seine").count == 1)
        #expect(try reader.vectorModel() == nil)
        #expect(try Retriever(store: reader, mode: .hybrid, embedder: WordHashEmbedder()).resolvedMode().mode == .bm25)
        let writer = try PassageStore(path: path)
        #expect(try Ingestor(store: writer, embedder: WordHashEmbedder()).backfillVectors() == 1)
        try writer.checkIntegrity()
        #expect(try Retriever(store: PassageStore(readOnlyPath: path), mode: .dense, embedder: WordHashEmbedder())
            .search("Seine").first?.title == "Paris")
    }

    @Test func halfFloatBlobsRoundTrip() {
        let vector: [Float] = [0.5, -0.25, 1, 0, 0.1, -0.7071]
        let blob = PassageVector.encode(vector)
        #expect(blob.count == 12)
        let back = PassageVector.decode(blob, dimension: 6)!
        #expect(zip(vector, back).allSatisfy { abs($0.0 - $0.1) < 1e-3 })
        #expect(PassageVector.decode(blob, dimension: 5) == nil)
    }
}
