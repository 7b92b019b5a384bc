/// A set of code points that one step of a pre-tokenizer tests, such as `\p{N}` or `[\r\n]`.
struct CodepointClass: Sendable {
    private let test: @Sendable (UInt32, CodepointFlags) -> Bool

    init(_ test: @escaping @Sendable (UInt32, CodepointFlags) -> Bool) { self.test = test }

    @inline(__always)
    func contains(_ value: UInt32, _ flags: CodepointFlags) -> Bool { test(value, flags) }

    /// `\p{N}`
    static let number = CodepointClass { _, flags in flags.contains(.number) }
    /// `\p{L}`
    static let letter = CodepointClass { _, flags in flags.contains(.letter) }
    /// `\p{P}`
    static let punctuation = CodepointClass { _, flags in flags.contains(.punctuation) }
    /// `\s`
    static let whitespace = CodepointClass { _, flags in flags.contains(.whitespace) }
    /// `[\r\n]`
    static let lineBreak = CodepointClass { value, _ in value == 0x0A || value == 0x0D }

    /// `\p{P}` plus the listed ASCII characters, as in `[\p{P}\$\+<=>\^~\|]`.
    static func punctuation(plus ascii: String) -> CodepointClass {
        let extra = Set(ascii.unicodeScalars.map(\.value))
        return CodepointClass { value, flags in flags.contains(.punctuation) || extra.contains(value) }
    }

    /// A bracket expression of literal characters and ranges, written without the brackets: `"A-Za-zµ"`.
    ///
    /// llama.cpp matches these with `std::wregex` after replacing non-ASCII white space by U+000B, so such
    /// white space never matches a literal range here either.
    static func literal(_ expression: String) -> CodepointClass {
        let scalars = Array(expression.unicodeScalars.map(\.value))
        var ranges: [ClosedRange<UInt32>] = []
        var index = 0
        while index < scalars.count {
            if index + 2 < scalars.count, scalars[index + 1] == 0x2D /* - */ {
                ranges.append(scalars[index]...max(scalars[index], scalars[index + 2]))
                index += 3
            } else {
                ranges.append(scalars[index]...scalars[index])
                index += 1
            }
        }
        var merged: [ClosedRange<UInt32>] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, range.lowerBound <= last.upperBound &+ 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        let disjoint = merged
        return CodepointClass { value, flags in
            if value >= 0x80 && flags.contains(.whitespace) { return false }
            let merged = disjoint
            var low = 0
            var high = merged.count
            while low < high {
                let middle = (low + high) / 2
                if merged[middle].upperBound < value { low = middle + 1 } else { high = middle }
            }
            return low < merged.count && merged[low].contains(value)
        }
    }
}
