/// Turns generated ids into text one at a time, returning only complete UTF-8: bytes of a character that is split
/// across tokens (an emoji is often three or four byte tokens) are held back until the character is whole.
///
/// ```swift
/// var stream = StreamingDetokenizer(tokenizer: tokenizer)
/// for id in generated { print(stream.append(id), terminator: "") }
/// print(stream.finish())
/// ```
public struct StreamingDetokenizer: Sendable {
    public let tokenizer: Tokenizer
    /// Whether control tokens (`<|im_end|>`) are left out of the text.
    public var skipSpecial: Bool
    private var pending: [UInt8] = []

    public init(tokenizer: Tokenizer, skipSpecial: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecial = skipSpecial
    }

    /// The text that `id` completes; empty while a character is still incomplete.
    public mutating func append(_ id: Int) -> String {
        tokenizer.appendPiece(id, skipSpecial: skipSpecial, to: &pending)
        let complete = Self.completePrefixLength(pending)
        guard complete > 0 else { return "" }
        let text = String(decoding: pending[..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// Whatever is held back, with an unfinished character written as U+FFFD; the stream is then empty.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// The length of `bytes` without a trailing sequence that could still become a valid character.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let count = bytes.count
        // A lead byte at most 3 bytes back whose sequence is not finished yet is held back with what follows it.
        var back = 1
        while back <= min(3, count) {
            let byte = bytes[count - back]
            if byte & 0xC0 != 0x80 {  // not a continuation byte
                let needed: Int
                switch byte {
                case 0xC2...0xDF: needed = 2
                case 0xE0...0xEF: needed = 3
                case 0xF0...0xF4: needed = 4
                default: needed = 1  // ASCII or a byte that can never start a character
                }
                return needed > back ? count - back : count
            }
            back += 1
        }
        return count
    }
}
