import Foundation
import Formats
import Testing
@testable import Tokenization

/// Load and encode timings, run on request: `DERA_BENCH=1 swift test -c release --filter TokenizationTests.Benchmark`.
/// The text is `DERA_BENCH_TEXT` (a file) or else the GPL-3 licence text Debian installs.
@Suite struct BenchmarkTests {
    static var requested: Bool { ProcessInfo.processInfo.environment["DERA_BENCH"] == "1" }

    @Test(.enabled(if: requested), arguments: [TestPaths.smolLM2, VocabularyVectors.path("qwen2")])
    func loadAndEncode(path: String) throws {
        let textPath = ProcessInfo.processInfo.environment["DERA_BENCH_TEXT"] ?? "/usr/share/common-licenses/GPL-3"
        let text = try String(contentsOfFile: textPath, encoding: .utf8)
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
