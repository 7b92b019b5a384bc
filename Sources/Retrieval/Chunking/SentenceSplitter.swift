import Tokenization

/// Finds sentence and paragraph boundaries in text, by scalar offset.
///
/// A sentence ends at `.`, `!`, `?`, `…` or their CJK forms, optionally followed by closing quotes or
/// brackets, when whitespace follows and the next word does not start in lowercase. A period after a
/// capital letter (an initial) or a known abbreviation ("Dr.", "e.g.") does not end a sentence
/// (``Abbreviations/isInitialOrAbbreviation(_:before:)``, as for the checker's claims and the answer stop).
/// A paragraph ends at a blank line. Linear in the length of the text.
struct SentenceSplitter {
    func segments(of scalars: [Unicode.Scalar]) -> [SentenceSegment] {
        var segments: [SentenceSegment] = []
        var start: Int? = nil
        var words = 0
        var inWord = false
        var index = 0
        let count = scalars.count

        func close(at end: Int, paragraph: Bool) {
            if let begin = start {
                var last = end
                while last > begin, scalars[last - 1].isSpace { last -= 1 }
                if last > begin {
                    segments.append(SentenceSegment(start: begin, end: last, words: words,
                                                    endsParagraph: paragraph))
                }
            } else if paragraph, !segments.isEmpty {
                segments[segments.count - 1].endsParagraph = true
            }
            start = nil
            words = 0
            inWord = false
        }

        while index < count {
            let scalar = scalars[index]
            if scalar.isSpace {
                inWord = false
                if scalar == "\n", isBlankLineAhead(scalars, after: index) {
                    close(at: index, paragraph: true)
                }
                index += 1
                continue
            }
            if start == nil { start = index }
            if !inWord { words += 1; inWord = true }
            if Self.isTerminator(scalar) {
                var end = index + 1
                while end < count, Self.isCloser(scalars[end]) { end += 1 }
                if end == count || Self.isFullWidthTerminator(scalar)
                    || (scalars[end].isSpace
                                    && endsSentence(scalars, terminator: index, next: end)) {
                    close(at: end, paragraph: false)
                    index = end
                    continue
                }
            }
            index += 1
        }
        close(at: count, paragraph: true)
        return segments
    }

    /// `index` is a newline; true when only spaces or tabs separate it from another newline.
    private func isBlankLineAhead(_ scalars: [Unicode.Scalar], after index: Int) -> Bool {
        var probe = index + 1
        while probe < scalars.count {
            let scalar = scalars[probe]
            if scalar == "\n" { return true }
            if scalar == " " || scalar == "\t" || scalar == "\r" { probe += 1; continue }
            return false
        }
        return false
    }

    private func endsSentence(_ scalars: [Unicode.Scalar], terminator: Int, next: Int) -> Bool {
        var probe = next
        while probe < scalars.count, scalars[probe].isSpace { probe += 1 }
        if probe < scalars.count, scalars[probe].properties.isLowercase { return false }
        guard scalars[terminator] == "." else { return true }
        return !Abbreviations.isInitialOrAbbreviation(scalars, before: terminator)
    }

    static func isTerminator(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case ".", "!", "?", "\u{2026}", "\u{3002}", "\u{FF01}", "\u{FF1F}": true
        default: false
        }
    }

    /// CJK sentence ends, which need no following space.
    static func isFullWidthTerminator(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "\u{3002}" || scalar == "\u{FF01}" || scalar == "\u{FF1F}"
    }

    static func isCloser(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "\"", "'", ")", "]", "\u{201D}", "\u{2019}", "\u{00BB}": true
        default: false
        }
    }
}
