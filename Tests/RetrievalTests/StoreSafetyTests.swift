import Foundation
import GRDB
import Testing
@testable import Retrieval

/// Read-only opens never write; files that are not passage stores, or are corrupt, are refused.
struct StoreSafetyTests {
    /// A SQLite file of some other program: one table, rollback journal.
    func foreignDatabase() throws -> String {
        let path = try Fixtures.temporaryFolder().appendingPathComponent("other.sqlite").path
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('Ada')")
        }
        try queue.close()
        return path
    }

    func storeWithDocuments(_ count: Int) throws -> String {
        let path = try Fixtures.temporaryFolder().appendingPathComponent("index.sqlite").path
        let store = try PassageStore(path: path)
        let documents = (0..<count).map { index in
            ExtractedDocument(source: "doc\(index)", title: "Title \(index)",
                              text: "Passage number \(index) mentions marker\(index). "
                                + (0..<150).map { "filler\($0 * index) words" }.joined(separator: ". "))
        }
        try Ingestor(store: store).ingest(documents: documents)
        return path
    }

    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    @Test func readOnlyOpenOfAForeignDatabaseIsRefusedAndChangesNothing() throws {
        let path = try foreignDatabase()
        let before = try bytes(path)
        #expect {
            try PassageStore(readOnlyPath: path)
        } throws: { error in
            let error = error as? StoreError
            return error?.path == path && error?.reason.contains("not a dera passage store (it has tables contacts") == true
        }
        #expect(try bytes(path) == before)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test func readWriteOpenOfAForeignDatabaseIsRefusedToo() throws {
        let path = try foreignDatabase()
        let before = try bytes(path)
        #expect(throws: StoreError.self) { try PassageStore(path: path) }
        #expect(try bytes(path) == before)
    }

    @Test func readOnlyOpenOfAnEmptyFileIsRefused() throws {
        let path = try Fixtures.write("", to: Fixtures.temporaryFolder(), "empty.sqlite").path
        #expect {
            try PassageStore(readOnlyPath: path)
        } throws: { error in
            (error as? StoreError)?.reason.contains("not a dera passage store (it has no tables") == true
        }
        #expect(try bytes(path).isEmpty)
    }

    @Test func readOnlyStoreSearchesAndRefusesWrites() throws {
        let path = try storeWithDocuments(5)
        // A store written and closed leaves no WAL behind; reading must not change the file at all.
        let before = try bytes(path)
        let store = try PassageStore(readOnlyPath: path)
        #expect(store.isReadOnly)
        #expect(try store.search("marker3").first?.source == "doc3")
        try store.checkIntegrity()
        #expect(throws: StoreError.self) {
            try store.write { try $0.delete(source: "doc3") }
        }
        #expect(try bytes(path) == before)
    }

    @Test func corruptPagesFailTheOpen() throws {
        let path = try storeWithDocuments(300)
        let size = try bytes(path).count
        #expect(size > 200 * 4096)
        // Overwrite ten pages in the middle of the file with garbage.
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        var generator = SplitMix64(seed: 3)
        try handle.seek(toOffset: UInt64(size / 2 / 4096 * 4096))
        try handle.write(contentsOf: Data((0..<(10 * 4096)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }))
        try handle.close()
        for open in [{ try PassageStore(readOnlyPath: path) }, { try PassageStore(path: path) }] {
            #expect {
                try open()
            } throws: { error in
                let error = error as? StoreError
                return error?.path == path && error?.reason.contains("corrupt") == true
            }
        }
    }

    @Test func missingFileIsNotCreatedByAReadOnlyOpen() throws {
        let path = try Fixtures.temporaryFolder().appendingPathComponent("absent.sqlite").path
        #expect(throws: StoreError.self) { try PassageStore(readOnlyPath: path) }
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
