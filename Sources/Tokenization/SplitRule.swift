/// One pass of a pre-tokenizer: it cuts every piece the previous pass produced into smaller pieces, keeping the text
/// between matches as pieces of their own (the "isolated" behaviour of llama.cpp and Hugging Face splits).
///
/// The regular expressions llama.cpp lists per `tokenizer.ggml.pre` are implemented here by hand, following the
/// semantics llama.cpp gives them (its hand-written matchers for the GPT-2, Llama 3 and Qwen2 expressions, and
/// leftmost-first `std::regex` search for the small ones).
enum SplitRule: Sendable {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`
    case gpt2
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    /// (Llama 3 with 3 digits, Qwen2 with 1; Qwen3.5 also counts `\p{M}` as part of a word).
    case llama3(maxDigits: Int, marksJoinLetters: Bool)
    /// `C`: every code point of the class on its own.
    case each(CodepointClass)
    /// `C+`
    case runs(CodepointClass)
    /// `P?C+` (greedy, leftmost-first).
    case prefixedRuns(prefix: CodepointClass, body: CodepointClass)
    /// `[0-9][0-9][0-9]`
    case asciiDigitTriples
    /// `\s+$`
    case trailingWhitespace

    /// Cuts each piece `lengths` describes (consecutive runs of `scalars`) and returns the new lengths.
    func split(_ scalars: [UInt32], _ flags: [CodepointFlags], _ lengths: [Int]) -> [Int] {
        var output: [Int] = []
        output.reserveCapacity(lengths.count * 2)
        var start = 0
        for length in lengths {
            let end = start + length
            scalars.withUnsafeBufferPointer { scalarBuffer in
                flags.withUnsafeBufferPointer { flagBuffer in
                    var piece = Piece(scalars: scalarBuffer, flags: flagBuffer, start: start, end: end)
                    switch self {
                    case .gpt2: piece.gpt2(&output)
                    case let .llama3(maxDigits, marks): piece.llama3(&output, maxDigits: maxDigits, marks: marks)
                    case let .each(set): piece.each(set, &output)
                    case let .runs(set): piece.runs(set, &output)
                    case let .prefixedRuns(prefix, body): piece.prefixedRuns(prefix, body, &output)
                    case .asciiDigitTriples: piece.asciiDigitTriples(&output)
                    case .trailingWhitespace: piece.trailingWhitespace(&output)
                    }
                }
            }
            start = end
        }
        return output
    }
}

/// The piece being cut, with llama.cpp's convention that reading past its end gives no flags.
private struct Piece {
    let scalars: UnsafeBufferPointer<UInt32>
    let flags: UnsafeBufferPointer<CodepointFlags>
    let start: Int
    let end: Int
    var previousEnd: Int

    init(scalars: UnsafeBufferPointer<UInt32>, flags: UnsafeBufferPointer<CodepointFlags>, start: Int, end: Int) {
        self.scalars = scalars
        self.flags = flags
        self.start = start
        self.end = end
        self.previousEnd = start
    }

    @inline(__always) func flags(at position: Int) -> CodepointFlags { position < end ? flags[position] : [] }
    @inline(__always) func scalar(at position: Int) -> UInt32 { position < end ? scalars[position] : 0xFFFF_FFFF }

    @inline(__always) mutating func cut(at position: Int, _ output: inout [Int]) {
        if position > previousEnd { output.append(position - previousEnd) }
        previousEnd = position
    }

    private static let apostrophe: UInt32 = 0x27

    /// Length of a contraction (`'s`, `'t`, `'re`, `'ve`, `'m`, `'ll`, `'d`) starting at `position`, or 0.
    @inline(__always) func contraction(at position: Int, ignoringCase: Bool) -> Int {
        guard scalars[position] == Self.apostrophe, position + 1 < end else { return 0 }
        func lower(_ value: UInt32) -> UInt32 {
            ignoringCase && (0x41...0x5A).contains(value) ? value + 0x20 : value
        }
        let next = lower(scalars[position + 1])
        if next == 0x73 || next == 0x74 || next == 0x6D || next == 0x64 { return 2 }  // s t m d
        if position + 2 < end {
            let after = lower(scalars[position + 2])
            if (next == 0x72 && after == 0x65) || (next == 0x76 && after == 0x65) || (next == 0x6C && after == 0x6C) {
                return 3  // re ve ll
            }
        }
        return 0
    }

    mutating func gpt2(_ output: inout [Int]) {
        let wordLike: CodepointFlags = [.whitespace, .letter, .number]
        var position = start
        while position < end {
            let scalar = scalars[position]
            let contractionLength = contraction(at: position, ignoringCase: false)
            if contractionLength > 0 {
                position += contractionLength
                cut(at: position, &output)
                continue
            }
            let leadingSpace = scalar == 0x20
            var next = leadingSpace ? flags(at: position + 1) : flags[position]
            if next.contains(.letter) {
                if leadingSpace { position += 1 }
                while next.contains(.letter) { position += 1; next = flags(at: position) }
                cut(at: position, &output)
                continue
            }
            if next.contains(.number) {
                if leadingSpace { position += 1 }
                while next.contains(.number) { position += 1; next = flags(at: position) }
                cut(at: position, &output)
                continue
            }
            if next.isDisjoint(with: wordLike) && !next.isEmpty {
                if leadingSpace { position += 1 }
                while next.isDisjoint(with: wordLike) && !next.isEmpty { position += 1; next = flags(at: position) }
                cut(at: position, &output)
                continue
            }
            var spaces = 0
            while flags(at: position + spaces).contains(.whitespace) { spaces += 1 }
            if spaces > 1 && position + spaces < end {
                position += spaces - 1  // \s+(?!\S) leaves the last space to the word that follows
                cut(at: position, &output)
                continue
            }
            if spaces > 0 {
                position += spaces
                cut(at: position, &output)
                continue
            }
            position += 1
            cut(at: position, &output)
        }
    }

    mutating func llama3(_ output: inout [Int], maxDigits: Int, marks: Bool) {
        let letterLike: CodepointFlags = marks ? [.letter, .accentMark] : [.letter]
        let wordLike: CodepointFlags = marks ? [.whitespace, .letter, .number, .accentMark] : [.whitespace, .letter, .number]
        var position = start
        while position < end {
            let scalar = scalars[position]
            let current = flags[position]
            let contractionLength = contraction(at: position, ignoringCase: true)
            if contractionLength > 0 {
                position += contractionLength
                cut(at: position, &output)
                continue
            }
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if !(scalar == 0x0D || scalar == 0x0A || current.contains(.number)) {
                if !current.isDisjoint(with: letterLike) || !flags(at: position + 1).isDisjoint(with: letterLike) {
                    position += 1
                    while !flags(at: position).isDisjoint(with: letterLike) { position += 1 }
                    cut(at: position, &output)
                    continue
                }
            }
            // \p{N}{1,maxDigits}
            if current.contains(.number) {
                var groupStart = position
                while flags(at: position).contains(.number) {
                    position += 1
                    if position - groupStart >= maxDigits {
                        cut(at: position, &output)
                        groupStart = position
                    }
                }
                cut(at: position, &output)
                continue
            }
            // <space>?[^\s\p{L}\p{N}]+[\r\n]*
            let leadingSpace = scalar == 0x20
            var next = leadingSpace ? flags(at: position + 1) : current
            if next.isDisjoint(with: wordLike) && !current.isEmpty {
                if leadingSpace { position += 1 }
                while next.isDisjoint(with: wordLike) && !next.isEmpty { position += 1; next = flags(at: position) }
                var after = self.scalar(at: position)
                while after == 0x0D || after == 0x0A { position += 1; after = self.scalar(at: position) }
                cut(at: position, &output)
                continue
            }
            var spaces = 0
            var lastLineBreakEnd = 0
            while flags(at: position + spaces).contains(.whitespace) {
                let value = scalars[position + spaces]
                if value == 0x0D || value == 0x0A { lastLineBreakEnd = position + spaces + 1 }
                spaces += 1
            }
            if lastLineBreakEnd > 0 {  // \s*[\r\n]+
                position = lastLineBreakEnd
                cut(at: position, &output)
                continue
            }
            if spaces > 1 && position + spaces < end {  // \s+(?!\S)
                position += spaces - 1
                cut(at: position, &output)
                continue
            }
            if spaces > 0 {  // \s+
                position += spaces
                cut(at: position, &output)
                continue
            }
            position += 1
            cut(at: position, &output)
        }
    }

    mutating func each(_ set: CodepointClass, _ output: inout [Int]) {
        for position in start..<end where set.contains(scalars[position], flags[position]) {
            cut(at: position, &output)
            cut(at: position + 1, &output)
        }
        cut(at: end, &output)
    }

    mutating func runs(_ set: CodepointClass, _ output: inout [Int]) {
        var position = start
        while position < end {
            guard set.contains(scalars[position], flags[position]) else { position += 1; continue }
            cut(at: position, &output)
            while position < end && set.contains(scalars[position], flags[position]) { position += 1 }
            cut(at: position, &output)
        }
        cut(at: end, &output)
    }

    mutating func prefixedRuns(_ prefix: CodepointClass, _ body: CodepointClass, _ output: inout [Int]) {
        var position = start
        while position < end {
            var matchEnd = position
            if prefix.contains(scalars[position], flags[position]), position + 1 < end,
               body.contains(scalars[position + 1], flags[position + 1]) {
                matchEnd = position + 1
            } else if !body.contains(scalars[position], flags[position]) {
                position += 1
                continue
            }
            while matchEnd < end && body.contains(scalars[matchEnd], flags[matchEnd]) { matchEnd += 1 }
            cut(at: position, &output)
            cut(at: matchEnd, &output)
            position = matchEnd
        }
        cut(at: end, &output)
    }

    mutating func asciiDigitTriples(_ output: inout [Int]) {
        @inline(__always) func isDigit(_ position: Int) -> Bool { (0x30...0x39).contains(scalars[position]) }
        var position = start
        while position + 2 < end {
            if isDigit(position) && isDigit(position + 1) && isDigit(position + 2) {
                cut(at: position, &output)
                cut(at: position + 3, &output)
                position += 3
            } else {
                position += 1
            }
        }
        cut(at: end, &output)
    }

    mutating func trailingWhitespace(_ output: inout [Int]) {
        var first = end
        while first > start && flags[first - 1].contains(.whitespace) { first -= 1 }
        cut(at: first, &output)
        cut(at: end, &output)
    }
}
