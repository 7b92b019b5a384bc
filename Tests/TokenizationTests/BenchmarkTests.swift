import Foundation
import Formats
import Testing
@testable import Tokenization

/// Load and encode timings, run on request: `DERA_BENCH=1 swift test -c release --filter TokenizationTests.Benchmark`.
/// The text is `DERA_BENCH_TEXT` (a file) or else Debian's licence texts (/usr/share/common-licenses/*, 303 kB).
@Suite(.serialized) struct BenchmarkTests {
    static var requested: Bool { ProcessInfo.processInfo.environment["DERA_BENCH"] == "1" }

    @Test(.enabled(if: requested), arguments: [TestPaths.smolLM2, VocabularyVectors.path("qwen2")])
    func loadAndEncode(path: String) throws {
        let text: String
        if let textPath = ProcessInfo.processInfo.environment["DERA_BENCH_TEXT"] {
            text = try String(contentsOfFile: textPath, encoding: .utf8)
        } else {
            let folder = "/usr/share/common-licenses"
            text = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
                .map { try String(contentsOfFile: folder + "/" + $0, encoding: .utf8) }.joined()
        }
        let clock = ContinuousClock()
        var tokenizer: Tokenizer?
        let load = try clock.measure { tokenizer = try Tokenizer(gguf: GGUFFile(path: path)) }
        let loaded = try #require(tokenizer)
        var ids: [Int] = []
        let encode = clock.measure { ids = loaded.encode(text, addSpecial: false) }
        let seconds = Double(encode.components.attoseconds) / 1e18 + Double(encode.components.seconds)
        print("\(URL(fileURLWithPath: path).lastPathComponent): load \(load), \(ids.count) tokens in \(encode)"
            + " = \(Int(Double(ids.count) / seconds)) tokens/s")
        #expect(loaded.decode(ids) == text)
    }
}
