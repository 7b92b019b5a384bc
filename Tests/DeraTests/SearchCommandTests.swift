import Foundation
import Testing
@testable import dera
import Retrieval

/// `dera search` run in-process against stores on disk.
struct SearchCommandTests {
    func store() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dera-search-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("index.sqlite").path
        let store = try PassageStore(path: path)
        try Ingestor(store: store).ingest(documents: [
            ExtractedDocument(source: "lakes", title: "Lakes", text: "Lake Baikal is the deepest lake."),
            ExtractedDocument(source: "hills", title: "Hills", text: "Hills are lower than mountains."),
        ])
        return path
    }

    @Test func searchNeverWritesToTheStore() throws {
        let path = try store()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        try SearchCommand.parse(["deepest", "lake", "--db", path]).run()
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        // The store is in WAL mode, whose readers need SQLite's -shm index; nothing is logged to -wal.
        let wal = try? Data(contentsOf: URL(fileURLWithPath: path + "-wal"))
        #expect(wal?.isEmpty ?? true)
    }

    @Test func searchRefusesASQLiteFileThatIsNotAStore() throws {
        let path = try store()
        let other = path + ".other"
        try Data().write(to: URL(fileURLWithPath: other))
        #expect {
            try SearchCommand.parse(["lake", "--db", other]).run()
        } throws: { error in
            "\(error)".contains("not a dera passage store")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: other)).isEmpty)
    }

    @Test func queryFromAFile() throws {
        let path = try store()
        let query = path + ".query"
        try Data("which lake is the deepest?\n".utf8).write(to: URL(fileURLWithPath: query))
        try SearchCommand.parse(["@" + query, "--db", path]).run()
        #expect {
            try SearchCommand.parse(["@" + query + ".missing", "--db", path]).run()
        } throws: { error in
            "\(error)".contains(query + ".missing")
        }
    }
}
