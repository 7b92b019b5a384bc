/// Counts tokens for passages sized in tokens (``PassageLength/tokens(_:)``).
///
/// The chunker asks for the tokens of one word at a time (a run of non-space characters, as it
/// appears after a space), so a model's tokenizer can be plugged in without this module depending on
/// it. The default, ``WordTokenCounter``, counts every word as one token.
public protocol TokenCounter: Sendable {
    /// A stable name such as `"words"` or `"smollm2-bpe"`; part of every document's content hash,
    /// so switching counters re-chunks the store.
    var name: String { get }
    /// Tokens of one word; at least 1.
    func tokens(inWord word: Substring) -> Int
}

/// Counts each whitespace-separated word as one token: model-independent, and close to a BPE
/// count for English prose (about 1.3 tokens per word).
public struct WordTokenCounter: TokenCounter {
    public init() {}
    public var name: String { "words" }
    public func tokens(inWord word: Substring) -> Int { 1 }
}
