import Foundation
import Testing

/// `dera summarize` run as a process: the output lines, a folder with broken files, kill -9 and resume, shards.
@Suite(.serialized) struct SummarizeCommandTests {
    static let root = EmbeddingKillTests.root
    static let binary = EmbeddingKillTests.binary
    static let model = root + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    static var ready: Bool {
        (FileManager.default.fileExists(atPath: binary) && FileManager.default.fileExists(atPath: model))
            || ProcessInfo.processInfo.environment["CI"] == "true"
    }

    /// A folder of small documents: `good` readable ones (text, Markdown, HTML, JSONL rows) and, with `broken`, a
    /// dangling link, an empty file and a JSONL row without its text field.
    static func corpus(good: Int, broken: Bool) throws -> String {
        let folder = NSTemporaryDirectory() + "dera-summarize-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let topics = ["Lake Baikal is the deepest lake in the world, in Siberia.",
                      "Saturn is the sixth planet from the Sun and has bright rings of ice.",
                      "The Eiffel Tower in Paris was designed by the engineer Gustave Eiffel's company.",
                      "Mount Kilimanjaro is a dormant volcano in Tanzania, 5,895 metres high."]
        var rows: [String] = []
        for i in 0..<good {
            let text = topics[i % topics.count] + " This is note number \(i)."
            switch i % 4 {
            case 0: try write(text, to: folder + "/doc\(i).txt")
            case 1: try write("# Note \(i)\n\n" + text, to: folder + "/doc\(i).md")
            case 2: try write("<html><head><title>Note \(i)</title></head><body><p>\(text)</p></body></html>", to: folder + "/doc\(i).html")
            default: rows.append(#"{"text": "\#(text)", "title": "Row \#(i)"}"#)
            }
        }
        if broken { rows.append(#"{"body": "no text field here"}"#) }
        if !rows.isEmpty { try write(rows.joined(separator: "\n") + "\n", to: folder + "/rows.jsonl") }
        if broken {
            try write("", to: folder + "/empty.txt")
            try FileManager.default.createSymbolicLink(atPath: folder + "/dangling.txt", withDestinationPath: folder + "/missing.txt")
        }
        return folder
    }

    static func write(_ text: String, to path: String) throws { try Data(text.utf8).write(to: URL(fileURLWithPath: path)) }

    static func arguments(_ folder: String, out: String, _ extra: [String] = []) -> [String] {
        ["summarize", folder, "--out", out, "--model", model, "--checker", "lexical", "--max-tokens", "40", "--threads", "2"] + extra
    }

    /// Runs dera to the end; returns its exit status and standard error.
    static func run(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    /// Every line of `path` as a JSON object (the test fails on one that is not).
    static func lines(_ path: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.isEmpty || text.hasSuffix("\n"))
        return try text.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
        }
    }

    @Test(.enabled(if: ready, "needs .build/debug/dera and models/SmolLM2-135M-Instruct.Q4_1.gguf"), .timeLimit(.minutes(10)))
    func aFolderWithBrokenFilesGetsErrorLinesAndEveryOtherDocumentASummary() throws {
        let folder = try Self.corpus(good: 4, broken: true)
        let out = folder + ".jsonl"
        let (status, stderr) = try Self.run(Self.arguments(folder, out: out))
        #expect(status == 2, "documents with errors make the exit status 2")
        let lines = try Self.lines(out)
        #expect(lines.count == 7)
        let errors = lines.filter { $0["error"] != nil }
        #expect(Set(errors.compactMap { $0["id"] as? String }) == [folder + "/empty.txt", folder + "/dangling.txt", folder + "/rows.jsonl#L2"])
        for error in errors { #expect(stderr.contains(error["id"] as! String), "reported on stderr too") }
        let summaries = lines.filter { $0["error"] == nil }
        #expect(summaries.count == 4)
        for line in summaries {
            #expect(!(line["summary"] as? String ?? "").isEmpty)
            #expect((line["id"] as? String)?.hasPrefix(folder) == true)
            #expect(line["correctness"] is Double && line["seconds"] is Double)
            #expect((line["generatedTokens"] as? Int ?? 0) > 0 && (line["promptTokens"] as? Int ?? 0) > 0)
            let check = try #require(line["check"] as? [String: Any])
            #expect(check["answer"] as? String == line["summary"] as? String)
            #expect(check["claims"] is [Any])
            #expect((line["naturalness"] as? [String: Any])?["score"] is Double)
        }
        #expect(stderr.contains("docs/min") && stderr.contains("ETA"))
    }

    @Test(.enabled(if: ready, "needs .build/debug/dera and models/SmolLM2-135M-Instruct.Q4_1.gguf"), .timeLimit(.minutes(10)))
    func killedPartWayAndRunAgainLeavesExactlyOneLinePerDocument() throws {
        let folder = try Self.corpus(good: 12, broken: false)
        let out = folder + ".jsonl"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = Self.arguments(folder, out: out)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline, process.isRunning {
            if let data = FileManager.default.contents(atPath: out), data.filter({ $0 == 0x0A }).count >= 2 { break }
            Thread.sleep(forTimeInterval: 0.01)
        }
        #expect(process.isRunning, "the run ended before it could be killed; add documents")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let killed = try Self.lines(out)
        #expect(killed.count >= 2 && killed.count < 12)
        // A kill in the middle of a write: half a line at the end.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"id":"\#(folder)/doc0.txt","summary":"half a li"#.utf8))
        try handle.close()

        let (status, stderr) = try Self.run(Self.arguments(folder, out: out))
        #expect(status == 0, "\(stderr)")
        #expect(stderr.contains("torn last line"))
        #expect(stderr.contains("\(killed.count) already in"))
        let lines = try Self.lines(out)
        let ids = lines.compactMap { $0["id"] as? String }
        #expect(ids.count == 12 && Set(ids).count == 12, "one line per document, none twice")
        #expect(lines.allSatisfy { $0["summary"] is String })
        // The lines written before the kill are kept as they were.
        #expect(Array(ids.prefix(killed.count)) == killed.compactMap { $0["id"] as? String })
        // A third run has nothing left to do.
        let (again, againErrors) = try Self.run(Self.arguments(folder, out: out))
        #expect(again == 0 && againErrors.contains("0 to summarize"))
        #expect(try Self.lines(out).count == 12)
    }

    @Test(.enabled(if: ready, "needs .build/debug/dera and models/SmolLM2-135M-Instruct.Q4_1.gguf"), .timeLimit(.minutes(10)))
    func shardsPartitionTheDocumentsAndTheirOutputsMergeIntoTheWhole() throws {
        let folder = try Self.corpus(good: 5, broken: false)
        var all: [String] = []
        for index in 0..<3 {
            let out = folder + "-\(index).jsonl"
            let (status, stderr) = try Self.run(Self.arguments(folder, out: out, ["--shard", "\(index)/3", "--no-check", "--no-adapter"]))
            #expect(status == 0, "\(stderr)")
            let ids = try Self.lines(out).compactMap { $0["id"] as? String }
            #expect(ids.count >= 1 && ids.count <= 2)
            all += ids
        }
        #expect(all.count == 5 && Set(all).count == 5, "every document in exactly one shard")
        let (status, stderr) = try Self.run(["summarize", folder, "--out", folder + "-x.jsonl", "--shard", "3/3"])
        #expect(status != 0 && stderr.contains("--shard"))
    }
}
