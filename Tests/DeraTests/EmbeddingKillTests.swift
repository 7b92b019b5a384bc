import Embedding
import Foundation
import Testing
import Retrieval

/// `dera index --embed` killed with SIGKILL part way, in a separate process, then run again.
struct EmbeddingKillTests {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()
    static let binary = root + "/.build/debug/dera"
    static let embedder = root + "/models/all-MiniLM-L6-v2"
    static var ready: Bool {
        (FileManager.default.fileExists(atPath: binary) && FileManager.default.fileExists(atPath: embedder + "/model.safetensors"))
            || ProcessInfo.processInfo.environment["CI"] == "true"
    }

    func run(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    @Test(.enabled(if: ready), .timeLimit(.minutes(10)))
    func killedWhileEmbeddingLeavesAConsistentStoreAndARerunCompletesIt() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dera-kill-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let rows = (0..<160).map { index in
            let text = "Document \(index) is about topic \(index % 17). " + String(repeating: "It repeats a sentence about subject \(index). ", count: 3)
            return #"{"title": "Title \#(index)", "text": "\#(text)"}"#
        }
        let input = folder.appendingPathComponent("docs.jsonl")
        try Data((rows.joined(separator: "\n") + "\n").utf8).write(to: input)
        let db = folder.appendingPathComponent("store.sqlite").path
        let arguments = ["index", input.path, "--db", db, "--embed", "--embedder", Self.embedder, "--batch-size", "8"]

        let victim = try run(arguments)
        // Wait until a few batches are committed, then kill without warning.
        let deadline = Date().addingTimeInterval(300)
        var committed = 0
        while Date() < deadline, victim.isRunning {
            if FileManager.default.fileExists(atPath: db),
               let store = try? PassageStore(readOnlyPath: db, verify: false),
               let coverage = try? store.vectorCoverage() {
                committed = coverage.withVector
                if committed >= 16 { break }
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(victim.isRunning, "the run ended before it could be killed; make the input larger")
        kill(victim.processIdentifier, SIGKILL)
        victim.waitUntilExit()
        #expect(victim.terminationReason == .uncaughtSignal)

        // Whole batches only: every stored passage has its vector, and the store checks clean.
        let killed = try PassageStore(path: db)
        try killed.checkIntegrity()
        let partial = try killed.statistics()
        #expect(partial.documents >= 3 && partial.documents < rows.count)
        #expect(partial.documents % 8 == 0)
        #expect(try killed.vectorCoverage() == (partial.passages, 0))

        let rerun = try run(arguments)
        rerun.waitUntilExit()
        #expect(rerun.terminationStatus == 0)
        let store = try PassageStore(path: db)
        try store.checkIntegrity()
        let final = try store.statistics()
        #expect(final.documents == rows.count)
        #expect(final.passages == rows.count)  // one short passage per row: none stored twice
        #expect(try store.vectorCoverage() == (rows.count, 0))
        // Each vector belongs to its own passage: a passage's embedded text (title line and text) finds that passage
        // first, at cosine 1 up to half-float rounding.
        let embedder = try SentenceEmbedder(folder: Self.embedder)
        let retriever = Retriever(store: store, mode: .dense, embedder: embedder)
        for index in [0, 57, 101, 159] {
            let passage = try #require(try store.passages(source: input.path + "#L\(index + 1)").first)
            let hit = try #require(try retriever.search(PassageVector.embeddingText(title: "Title \(index)", text: passage.text),
                                                        options: SearchOptions(limit: 1)).first)
            #expect(hit.title == "Title \(index)")
            #expect(abs(hit.score - 1) < 2e-3)
        }
    }
}
