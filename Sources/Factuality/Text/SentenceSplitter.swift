import Tokenization

/// A half-open range of Unicode scalar offsets into a text: the unit every span in a factuality report uses.
public struct TextSpan: Sendable, Hashable, Codable, CustomStringConvertible {
    public var start: Int
    public var end: Int

    public init(start: Int, end: Int) {
        precondition(start <= end, "span start \(start) after end \(end)")
        self.start = start
        self.end = end
    }

    public var length: Int { end - start }
    public var description: String { "\(start)..<\(end)" }

    /// The text this span covers in `scalars`.
    func text(in scalars: [Unicode.Scalar]) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[start..<end])
        return String(view)
    }
}

/// Splits text into sentences, keeping each sentence's span.
///
/// A sentence ends at `.`, `!`, `?` or `…` (then any closing quotes or brackets) when whitespace or the end of
/// the text follows and the next word does not start in lowercase; at the CJK stops `。！？` without needing
/// whitespace; at a blank line; and before a line that starts a list item (`-`, `*`, `•`, `1.`, `2)`). A period
/// does not end a sentence after a known abbreviation ("Dr.", "e.g.", "U.S."), after a single capital letter (an
/// initial), or inside a number ("3.14"). List markers are left out of the sentence spans.
public struct SentenceSplitter: Sendable {
    public init() {}

    /// Sentence spans of `text`, in order, trimmed of surrounding whitespace and list markers.
    public func sentences(in text: String) -> [TextSpan] {
        sentences(in: Array(text.unicodeScalars))
    }

    public func sentences(in s: [Unicode.Scalar]) -> [TextSpan] {
        var spans: [TextSpan] = []
        var start = 0
        func close(_ end: Int) {
            if let span = trimmed(s, start, end) { spans.append(span) }
        }
        var k = 0
        let n = s.count
        while k < n {
            let c = s[k]
            if c == "\n" {
                // A blank line, or a new line that opens a list item, ends the sentence.
                var next = k + 1
                var blank = false
                while next < n, s[next].properties.isWhitespace {
                    if s[next] == "\n" { blank = true }
                    next += 1
                }
                if blank || (next < n && listMarkerLength(s, at: next) > 0) {
                    close(k)
                    start = next
                    k = next
                    continue
                }
            } else if "。！？".unicodeScalars.contains(c) {
                var end = k + 1
                while end < n, isClosing(s[end]) { end += 1 }
                close(end)
                start = end
                k = end
                continue
            } else if c == "." || c == "!" || c == "?" || c == "…" {
                var end = k + 1
                while end < n, s[end] == "." || s[end] == "!" || s[end] == "?" { end += 1 }
                while end < n, isClosing(s[end]) { end += 1 }
                if end == n || s[end].properties.isWhitespace, endsSentence(s, stop: k, after: end) {
                    close(end)
                    start = end
                    k = end
                    continue
                }
                k = end
                continue
            }
            k += 1
        }
        close(n)
        return spans
    }

    /// Whether the stop at `stop` (with its closers running to `after`) ends a sentence.
    private func endsSentence(_ s: [Unicode.Scalar], stop: Int, after: Int) -> Bool {
        // The next word must not start in lowercase (nor with a digit after an abbreviation-like word).
        var next = after
        while next < s.count, s[next].properties.isWhitespace { next += 1 }
        while next < s.count, isOpening(s[next]) { next += 1 }
        if next < s.count, s[next].properties.isLowercase { return false }
        guard s[stop] == "." else { return true }
        // "... in the U.S. The next ..." stays one sentence: wrongly joining two sentences costs less than cutting
        // a name in two.
        if Abbreviations.isInitialOrAbbreviation(s, before: stop) { return false }
        // "1." opening a line is a list number, not a sentence.
        var begin = stop
        while begin > 0, !s[begin - 1].properties.isWhitespace, !isOpening(s[begin - 1]) { begin -= 1 }
        let word = s[begin..<stop]
        if word.allSatisfy({ $0.isASCII && $0.properties.numericType != nil }), begin == 0 || s[begin - 1] == "\n" {
            return false
        }
        return true
    }

    /// The length of a list marker (and the space after it) at `k`, or 0.
    func listMarkerLength(_ s: [Unicode.Scalar], at k: Int) -> Int {
        guard k < s.count else { return 0 }
        if s[k] == "-" || s[k] == "*" || s[k] == "•" || s[k] == "–" {
            return k + 1 < s.count && s[k + 1] == " " ? 2 : 0
        }
        var end = k
        while end < s.count, end - k < 3, s[end].properties.numericType != nil, s[end].isASCII { end += 1 }
        guard end > k, end + 1 < s.count, s[end] == "." || s[end] == ")", s[end + 1] == " " else { return 0 }
        return end + 2 - k
    }

    private func trimmed(_ s: [Unicode.Scalar], _ start: Int, _ end: Int) -> TextSpan? {
        var a = start, b = end
        while a < b, s[a].properties.isWhitespace { a += 1 }
        let marker = listMarkerLength(s, at: a)
        if marker > 0, a + marker < b { a += marker }
        while a < b, s[a].properties.isWhitespace { a += 1 }
        while b > a, s[b - 1].properties.isWhitespace { b -= 1 }
        return a < b ? TextSpan(start: a, end: b) : nil
    }

    private func isClosing(_ c: Unicode.Scalar) -> Bool { "\"')]}»”’」』".unicodeScalars.contains(c) }
    private func isOpening(_ c: Unicode.Scalar) -> Bool { Abbreviations.opening.contains(c) }
}
