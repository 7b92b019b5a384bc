import Testing
@testable import dera

/// `dera ask` flag rules that need no model: they are checked when the command line is parsed.
struct AskCommandTests {
    @Test func samplesNeedSamplingNoCheckAndOneLambda() throws {
        let base = ["Who designed the Eiffel Tower?", "--samples", "5"]
        // Drawn answers are printed unchecked, so the self-check must be switched off explicitly...
        #expect(throws: (any Error).self) { try Ask.parse(base + ["--temperature", "0.9"]) }
        // ...and five greedy answers would be one answer five times.
        #expect(throws: (any Error).self) { try Ask.parse(base + ["--no-check"]) }
        #expect(throws: (any Error).self) { try Ask.parse(base + ["--no-check", "--greedy", "--temperature", "0.9"]) }
        #expect(throws: (any Error).self) { try Ask.parse(base + ["--no-check", "--temperature", "0"]) }
        #expect(throws: (any Error).self) { try Ask.parse(["q", "--samples", "0", "--no-check", "--temperature", "1"]) }
        let ask = try Ask.parse(base + ["--no-check", "--temperature", "0.9", "--seed", "7"])
        #expect(ask.samples == 5 && ask.sampling.seed == 7)
    }
}
