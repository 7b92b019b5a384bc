import ArgumentParser
import Retrieval

/// Passage-size options shared by `dera index` and `dera eval retrieval`.
struct ChunkingOptions: ParsableArguments {
    @Option(help: "Target passage length in characters (default 1000 unless --passage-tokens is given).")
    var passageChars: Int?

    @Option(help: "Target passage length in tokens (whitespace-separated words) instead of characters.")
    var passageTokens: Int?

    @Option(help: "How much of the previous passage to repeat at the start of the next, in the same unit.")
    var overlap: Int = 0

    func validate() throws {
        if passageChars != nil, passageTokens != nil {
            throw ValidationError("Give --passage-chars or --passage-tokens, not both.")
        }
        if let size = passageChars ?? passageTokens, size < 1 {
            throw ValidationError("The passage length must be at least 1.")
        }
        if overlap < 0 { throw ValidationError("--overlap cannot be negative.") }
    }

    var chunker: Chunker {
        let target: PassageLength = passageTokens.map { .tokens($0) } ?? .characters(passageChars ?? 1000)
        return Chunker(target: target, overlap: overlap)
    }
}
