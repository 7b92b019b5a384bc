import Foundation
import Testing
@testable import Retrieval

/// Throws from inside the write transaction after a number of documents, like a crash mid-batch.
struct AbortingObserver: IngestObserver {
    struct Abort: Error {}
    let afterDocuments: Int
    let counter = Counter()

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func increment() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value }
    }

    func stored(_ document: Document, passages: Int) throws {
        if counter.increment() > afterDocuments { throw Abort() }
    }
}

struct IngestorTests {
    func folderWithDocuments(_ count: Int) throws -> URL {
        let folder = try Fixtures.temporaryFolder()
        for index in 0..<count {
            let topic = Fixtures.topics[index % Fixtures.topics.count]
            try Fixtures.write("\(topic.text)\n\nDocument number \(index) mentions marker\(index).", to: folder,
                               String(format: "doc%03d.txt", index))
        }
        return folder
    }

    @Test func reingestSkipsUnchangedReplacesChangedAndDeletesOnlyWhenAsked() throws {
        let folder = try folderWithDocuments(6)
        let store = try PassageStore.inMemory()
        let first = try Ingestor(store: store).ingest(paths: [folder.path])
        #expect(first.added == 6)
        #expect(first.unchanged == 0)

        let second = try Ingestor(store: store).ingest(paths: [folder.path])
        #expect(second.added == 0)
        #expect(second.unchanged == 6)
        #expect(second.passages == 0)

        try Fixtures.write("Completely new text about submarines.", to: folder, "doc001.txt")
        try FileManager.default.removeItem(at: folder.appendingPathComponent("doc002.txt"))
        let third = try Ingestor(store: store).ingest(paths: [folder.path])
        #expect(third.replaced == 1)
        #expect(third.unchanged == 4)
        #expect(third.deleted == 0)
        #expect(try store.statistics().documents == 6)  // removed file kept without --delete-missing
        #expect(try store.search("submarines").first?.source == folder.appendingPathComponent("doc001.txt").path)
        #expect(try store.search("marker1").isEmpty)

        let fourth = try Ingestor(store: store, options: IngestOptions(deleteMissing: true)).ingest(paths: [folder.path])
        #expect(fourth.deleted == 1)
        #expect(fourth.unchanged == 5)
        #expect(try store.search("marker2").isEmpty)
        #expect(try store.statistics().documents == 5)
        try store.checkIntegrity()
    }

    @Test func deleteMissingStaysInsideTheNamedPaths() throws {
        let one = try folderWithDocuments(2)
        let two = try folderWithDocuments(3)
        let store = try PassageStore.inMemory()
        try Ingestor(store: store).ingest(paths: [one.path, two.path])
        let report = try Ingestor(store: store, options: IngestOptions(deleteMissing: true)).ingest(paths: [one.path])
        #expect(report.deleted == 0)
        #expect(try store.statistics().documents == 5)
    }

    @Test func changingChunkSettingsRechunksEverything() throws {
        let folder = try folderWithDocuments(3)
        let store = try PassageStore.inMemory()
        try Ingestor(store: store).ingest(paths: [folder.path])
        let report = try Ingestor(store: store, options: IngestOptions(chunker: Chunker(target: .characters(60))))
            .ingest(paths: [folder.path])
        #expect(report.replaced == 3)
        #expect(try store.statistics().passages > 3)
        try store.checkIntegrity()
    }

    /// The kill-and-resume case: the run dies inside a write transaction; the store keeps only the
    /// batches committed before, passes its integrity check, and a re-run completes without duplicates.
    @Test func abortedRunLeavesAConsistentStoreAndARerunCompletesIt() throws {
        let folder = try folderWithDocuments(25)
        let path = folder.appendingPathComponent("index.sqlite").path
        let options = IngestOptions(batchSize: 4)
        do {
            let store = try PassageStore(path: path)
            #expect(throws: AbortingObserver.Abort.self) {
                try Ingestor(store: store, options: options, observer: AbortingObserver(afterDocuments: 10))
                    .ingest(paths: [folder.path])
            }
        }
        let store = try PassageStore(path: path)
        try store.checkIntegrity()
        let partial = try store.statistics()
        // Batches of 4: two committed (8 documents); the third died at its 3rd document and rolled back.
        #expect(partial.documents == 8)
        #expect(partial.passages == 8)

        let rerun = try Ingestor(store: store, options: options).ingest(paths: [folder.path])
        #expect(rerun.unchanged == 8)
        #expect(rerun.added == 17)
        try store.checkIntegrity()
        let complete = try store.statistics()
        #expect(complete.documents == 25)
        #expect(complete.passages == 25)
        for index in 0..<25 {
            #expect(try store.search("marker\(index)").count == 1, "marker\(index)")
        }
    }

    @Test func unreadableInputsAreReportedAndOthersStillIndexed() throws {
        let folder = try folderWithDocuments(2)
        try Fixtures.write("{\"text\": \"fine row\"}\n{\"body\": \"no text field\"}\nnot json\n{\"text\": \"another good row\"}\n",
                           to: folder, "rows.jsonl")
        try Fixtures.write("no element here", to: folder, "broken.xml")
        let store = try PassageStore.inMemory()
        let report = try Ingestor(store: store).ingest(paths: [folder.path])
        // Two text files and the two good JSONL rows; the bad rows and the XML file are reported.
        #expect(report.added == 4)
        #expect(report.failures.count == 3)
        #expect(report.failures.contains { $0.contains("rows.jsonl:2") && $0.contains("\"text\"") })
        #expect(report.failures.contains { $0.contains("rows.jsonl:3") && $0.contains("not valid JSON") })
        #expect(report.failures.contains { $0.contains("broken.xml") })
        #expect(try store.search("another good row").first?.source.hasSuffix("rows.jsonl#L4") == true)
    }

    @Test func deleteMissingSparesRowsOfAFileWithBadRows() throws {
        let folder = try Fixtures.temporaryFolder()
        try Fixtures.write("{\"id\": 1, \"text\": \"alpha row\"}\n{\"id\": 2, \"text\": \"beta row\"}\n", to: folder, "rows.jsonl")
        let store = try PassageStore.inMemory()
        let options = IngestOptions(jsonl: JSONLReader(idField: "id"), deleteMissing: true)
        try Ingestor(store: store, options: options).ingest(paths: [folder.path])
        // Row 2 breaks: its stored version must not be deleted as if it were gone.
        try Fixtures.write("{\"id\": 1, \"text\": \"alpha row\"}\n{\"id\": 2, \"text\": broken}\n", to: folder, "rows.jsonl")
        let report = try Ingestor(store: store, options: options).ingest(paths: [folder.path])
        #expect(report.failures.count == 1)
        #expect(report.deleted == 0)
        #expect(try store.search("beta").count == 1)
    }

    @Test func missingPathIsAClearError() throws {
        let store = try PassageStore.inMemory()
        #expect(throws: DocumentReadError(file: "/no/such/place", reason: "no such file or directory")) {
            try Ingestor(store: store).ingest(paths: ["/no/such/place"])
        }
    }

    @Test func emptyAndHugeDocuments() throws {
        let folder = try Fixtures.temporaryFolder()
        try Fixtures.write("", to: folder, "empty.txt")
        try Fixtures.write("   \n\n  \t ", to: folder, "blank.md")
        try Fixtures.write("<html><body></body></html>", to: folder, "empty.html")
        // About 6 MB of sentences; one paragraph per 20 sentences.
        var huge = ""
        for index in 0..<60_000 {
            huge += "Sentence \(index) talks about item\(index % 997) in detail."
            huge += index % 20 == 19 ? "\n\n" : " "
        }
        try Fixtures.write(huge, to: folder, "huge.txt")
        let store = try PassageStore.inMemory()
        let report = try Ingestor(store: store, options: IngestOptions(chunker: Chunker(target: .characters(1000))))
            .ingest(paths: [folder.path])
        #expect(report.failures.isEmpty)
        #expect(report.added == 4)
        let hugeSource = folder.appendingPathComponent("huge.txt").path
        let passages = try store.passages(source: hugeSource)
        #expect(passages.count > 1000)
        #expect(passages.allSatisfy { $0.text.unicodeScalars.count <= 1000 })
        #expect(try store.passages(source: folder.appendingPathComponent("empty.txt").path).isEmpty)
        #expect(try store.search("item996").count == 5)
        try store.checkIntegrity()
    }
}
