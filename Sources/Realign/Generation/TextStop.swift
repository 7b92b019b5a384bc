/// Where an output ends although the model would go on: rules read on the text after every token.
///
/// A grounded answer is asked for in one sentence, yet a small model (and DeRa past lambda 1 above all) often
/// answers and then keeps going: it starts a new paragraph that copies the passages with their `[1] Title:`
/// markup, or says the same sentence again until the token limit. These rules end the output where that begins,
/// so the answer keeps what came before and the decoder stops paying for tokens nobody reads.
///
/// - `paragraph`: stop at a blank line, or at a line break followed by a passage marker (`[2]`).
/// - `repeatedSentence`: stop before a sentence whose words (lower-cased, letters and digits) are those of an
///   earlier sentence of the same output, when it has at least ``minimumRepeatWords`` of them.
///
/// Text that a rule may still cut (a line break that could become a blank line, a sentence that so far repeats
/// the start of an earlier one) is held back from streaming until it is settled, so a streamed output never
/// shows text that its final form drops.
public struct TextStop: Sendable, Hashable {
    public var paragraph: Bool
    public var repeatedSentence: Bool

    public init(paragraph: Bool, repeatedSentence: Bool) {
        self.paragraph = paragraph
        self.repeatedSentence = repeatedSentence
    }

    /// One-sentence answers: both rules.
    public static let answer = TextStop(paragraph: true, repeatedSentence: true)
    /// Longer outputs (summaries), where paragraphs are wanted: repeated sentences only.
    public static let repetition = TextStop(paragraph: false, repeatedSentence: true)

    /// A repeated sentence shorter than this is let through ("Yes." twice is not a loop worth cutting).
    public static let minimumRepeatWords = 3

    /// Where `text` must end, if a rule fires, and how much of it is settled (no rule can cut it any more, and
    /// it does not end in whitespace a cut would drop); both in Unicode scalars from the start. When `stop` is
    /// set the output is `text` up to it, trailing whitespace dropped.
    public func scan(_ text: String) -> (stop: Int?, settled: Int) {
        let scalars = Array(text.unicodeScalars)
        var settled = scalars.count
        var stop: Int?
        if paragraph {
            let found = Self.paragraphBreak(scalars)
            if let at = found.stop { stop = at }
            settled = min(settled, found.settled)
        }
        if repeatedSentence {
            let found = Self.repeatedSentence(scalars)
            if let at = found.stop { stop = min(stop ?? at, at) }
            settled = min(settled, found.settled)
        }
        if let stop { settled = min(settled, stop) }
        // Whitespace before unsettled text waits with it: a cut drops it.
        if settled < scalars.count || stop != nil {
            while settled > 0, scalars[settled - 1].properties.isWhitespace { settled -= 1 }
        }
        return (stop, settled)
    }

    /// The first blank line or line break before a passage marker; a trailing break (or break and `[` and
    /// digits) is not settled yet.
    static func paragraphBreak(_ s: [Unicode.Scalar]) -> (stop: Int?, settled: Int) {
        var i = 0
        while i < s.count {
            guard s[i] == "\n" else { i += 1; continue }
            var j = i + 1
            while j < s.count, s[j] == " " || s[j] == "\t" || s[j] == "\r" { j += 1 }
            if j == s.count { return (nil, i) }
            if s[j] == "\n" { return (i, i) }
            if s[j] == "[" {
                var k = j + 1
                while k < s.count, s[k].properties.numericType == .decimal { k += 1 }
                if k == s.count { return (nil, i) }
                if k > j + 1, s[k] == "]" { return (i, i) }
            }
            i = j
        }
        return (nil, s.count)
    }

    /// Lower-cased runs of letters and digits of `s[range]`.
    static func words(_ s: [Unicode.Scalar], _ range: Range<Int>) -> [String] {
        var words: [String] = [], current = String.UnicodeScalarView()
        for scalar in s[range] {
            if scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
                current.append(contentsOf: String(scalar).lowercased().unicodeScalars)
            } else if !current.isEmpty {
                words.append(String(current))
                current = String.UnicodeScalarView()
            }
        }
        if !current.isEmpty { words.append(String(current)) }
        return words
    }

    /// Sentence starts: 0, after each line break, and after `.`, `!` or `?` (closing quotes and brackets
    /// included) followed by whitespace and a capital letter, digit, opening quote or bracket.
    static func sentenceStarts(_ s: [Unicode.Scalar]) -> [Int] {
        var starts = [0]
        var i = 0
        while i < s.count {
            let c = s[i]
            if c == "\n" {
                var j = i + 1
                while j < s.count, s[j].properties.isWhitespace { j += 1 }
                if j < s.count { starts.append(j) }
                i = j
                continue
            }
            if c == "." || c == "!" || c == "?" {
                var j = i + 1
                while j < s.count, "\"')]\u{201D}\u{2019}".unicodeScalars.contains(s[j]) { j += 1 }
                var k = j
                while k < s.count, s[k] == " " || s[k] == "\t" { k += 1 }
                if k > j, k < s.count {
                    let next = s[k]
                    if next.properties.isUppercase || next.properties.numericType == .decimal
                        || "\"'([\u{201C}\u{2018}".unicodeScalars.contains(next) {
                        starts.append(k)
                        i = k
                        continue
                    }
                }
                i = j
                continue
            }
            i += 1
        }
        return starts
    }

    /// The start of the first sentence that repeats an earlier one; a last sentence whose words so far begin an
    /// earlier sentence is not settled.
    static func repeatedSentence(_ s: [Unicode.Scalar]) -> (stop: Int?, settled: Int) {
        let starts = sentenceStarts(s)
        var seen: [[String]] = []
        for (n, start) in starts.enumerated() {
            let end = n + 1 < starts.count ? starts[n + 1] : s.count
            let words = Self.words(s, start..<end)
            let isLast = n + 1 == starts.count
            if words.count >= minimumRepeatWords, seen.contains(words) {
                // The last sentence is complete only once its final mark is there.
                if !isLast || Self.endsSentence(s, start..<end) { return (start, start) }
            }
            if isLast {
                let growing = !words.isEmpty && seen.contains { $0.count >= minimumRepeatWords && $0.starts(with: words) }
                return (nil, growing ? start : s.count)
            }
            seen.append(words)
        }
        return (nil, s.count)
    }

    /// Whether `s[range]`, trailing whitespace and closing marks dropped, ends in `.`, `!` or `?`.
    static func endsSentence(_ s: [Unicode.Scalar], _ range: Range<Int>) -> Bool {
        var i = range.upperBound - 1
        while i >= range.lowerBound, s[i].properties.isWhitespace || "\"')]\u{201D}\u{2019}".unicodeScalars.contains(s[i]) { i -= 1 }
        return i >= range.lowerBound && (s[i] == "." || s[i] == "!" || s[i] == "?")
    }
}
