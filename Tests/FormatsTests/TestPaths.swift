import Foundation

/// Paths the tests share: the repository root and the default model fetched by scripts/setup.
enum TestPaths {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static let smolLM2 = root + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"

    static func temporaryFile(_ name: String) -> String {
        let dir = NSTemporaryDirectory() + "dera-tests-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir + "/" + name
    }
}
