import Foundation

/// Paths the tokenizer tests share: the repository root, the default model and the llama.cpp test vectors.
enum TestPaths {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static let smolLM2 = root + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    static let vectors = root + "/data/tokenizer-vectors"

    /// CI runs `scripts/setup` first, so there a missing file is a failure rather than a skip.
    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    static func temporaryFile(_ name: String) -> String {
        let dir = NSTemporaryDirectory() + "dera-tokenizer-tests-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir + "/" + name
    }
}

extension TestPaths {
    /// all-MiniLM-L6-v2's tokenizer.json (`scripts/setup --embedder`).
    static let miniLMTokenizer = root + "/models/all-MiniLM-L6-v2/tokenizer.json"
    /// Token ids and vectors recorded from Hugging Face (scripts/record-embedder-fixtures).
    static let embedderFixture = root + "/Tests/Fixtures/embedder-minilm.json"
}
