import Foundation
@testable import Retrieval

/// Test fixtures made on the fly: temporary folders and stores, and a seeded random generator.
enum Fixtures {
    /// A fresh empty folder under the system temporary directory.
    static func temporaryFolder(_ name: String = #function) throws -> URL {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("dera-retrieval-tests-\(safe)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @discardableResult
    static func write(_ text: String, to folder: URL, _ name: String) throws -> URL {
        let url = folder.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
        return url
    }

    @discardableResult
    static func write(bytes: [UInt8], to folder: URL, _ name: String) throws -> URL {
        let url = folder.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    /// A few documents about distinct topics, so searches have one right answer.
    static let topics: [(title: String, text: String)] = [
        ("Paris", "Paris is the capital and most populous city of France. The Seine flows through it."),
        ("Photosynthesis", "Photosynthesis is the process by which green plants convert light into chemical energy. Chlorophyll absorbs the light."),
        ("Volcano", "A volcano is a rupture in the crust of a planet through which lava, ash and gases escape. Mount Etna is an active volcano in Sicily."),
        ("Chess", "Chess is a board game for two players. Each player starts with sixteen pieces, including a king and a queen."),
        ("Jazz", "Jazz is a music genre that originated in New Orleans in the late nineteenth century, with roots in blues and ragtime."),
    ]
}
