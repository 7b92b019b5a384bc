import ArgumentParser
import Foundation
import Testing
@testable import dera
import Retrieval

/// `dera index` run in-process: unreadable inputs make the exit status 2 and keep their documents.
struct IndexCommandTests {
    @Test func anUnreadableEntryExitsTwoAndDeleteMissingKeepsItsDocument() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dera-index-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent("kept.txt")
        try Data("Text about glaciers and fjords.".utf8).write(to: file)
        let db = folder.appendingPathComponent("index.sqlite").path + ".db"
        try IndexCommand.parse([folder.path, "--db", db]).run()

        try FileManager.default.removeItem(at: file)
        try FileManager.default.createSymbolicLink(atPath: file.path, withDestinationPath: "/nonexistent/kept.txt")
        #expect {
            try IndexCommand.parse([folder.path, "--db", db, "--delete-missing"]).run()
        } throws: { error in
            (error as? ExitCode) == ExitCode(2)
        }
        #expect(try PassageStore(readOnlyPath: db).search("glaciers").first?.source == file.path)
    }
}
