import Tokenization

/// Where an output ends although the model would go on: rules read on the text after every token.
///
/// A grounded answer is asked for in one sentence, yet a small model (and DeRa past lambda 1 above all) often
/// answers and then keeps going: it starts a new paragraph that copies the passages with their `[1] Title:`
/// markup, says the same thing again in other words, or loops on a phrase until the token limit. These rules end
/// the output where that begins, so the answer keeps what came before and the decoder stops paying for tokens
/// nobody reads.
///
/// - `paragraph`: stop at a blank line, or at a line break followed by a passage marker (`[2]`).
/// - `repeatedSentence`: stop before a sentence whose words (lower-cased, letters and digits) are those of an
///   earlier sentence of the same output, when it has at least ``minimumRepeatWords`` of them.
/// - `overlappingSentence`: stop before a sentence that says a run of ``overlapWords`` words of an earlier
///   sentence again ("Kavad I, the son of Kavad I, was the son of ... He was the son of ..."). For one-sentence
///   answers only: a summary may well name "the president of the United States" twice.
/// - `loop`: stop where a run of words is said again right after itself: a run of three or more words twice
///   ("... and the Mother of Modern China and the Mother of Modern China"), a run of one or two words three
///   times ("1991: 1991: 1991:"). The output keeps the first saying.
///
/// Text that a rule may still cut (a line break that could become a blank line, a sentence that so far repeats
/// the start of an earlier one, any sentence after the first while `overlappingSentence` is on, the word being
/// written and words that so far repeat the words before them) is held back from streaming until it is settled, so a
/// streamed output never shows text that its final form drops.
public struct TextStop: Sendable, Hashable {
    public var paragraph: Bool
    public var repeatedSentence: Bool
    public var overlappingSentence: Bool
    public var loop: Bool

    public init(paragraph: Bool, repeatedSentence: Bool, overlappingSentence: Bool = false, loop: Bool = false) {
        self.paragraph = paragraph
        self.repeatedSentence = repeatedSentence
        self.overlappingSentence = overlappingSentence
        self.loop = loop
    }

    /// One-sentence answers: every rule.
    public static let answer = TextStop(paragraph: true, repeatedSentence: true, overlappingSentence: true, loop: true)
    /// Longer outputs (summaries), where paragraphs and shared phrases are wanted: repeated sentences and loops.
    public static let repetition = TextStop(paragraph: false, repeatedSentence: true, loop: true)

    /// A repeated sentence shorter than this is let through ("Yes." twice is not a loop worth cutting).
    public static let minimumRepeatWords = 3
    /// The run of words a later sentence may not share with an earlier one (`overlappingSentence`).
    public static let overlapWords = 4
    /// A run at least this long is a loop when said twice in a row; shorter runs when said three times.
    public static let loopWords = 3

    /// Where `text` must end, if a rule fires, and how much of it is settled (no rule can cut it any more, and
    /// it does not end in whitespace a cut would drop); both in Unicode scalars from the start. When `stop` is
    /// set the output is `text` up to it, trailing whitespace dropped.
    public func scan(_ text: String) -> (stop: Int?, settled: Int) {
        let scalars = Array(text.unicodeScalars)
        var settled = scalars.count
        var stop: Int?
        func take(_ found: (stop: Int?, settled: Int)) {
            if let at = found.stop { stop = min(stop ?? at, at) }
            settled = min(settled, found.settled)
        }
        if paragraph { take(Self.paragraphBreak(scalars)) }
        if repeatedSentence || overlappingSentence { take(sentenceRules(scalars)) }
        if loop { take(Self.loop(scalars)) }
        // Once a rule fires, everything before the stop is the output.
        if let stop { settled = stop }
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

    /// Lower-cased runs of letters and digits of `s[range]`, with where each is.
    static func words(_ s: [Unicode.Scalar], _ range: Range<Int>) -> [(word: String, range: Range<Int>)] {
        var words: [(word: String, range: Range<Int>)] = [], current = String.UnicodeScalarView(), from = range.lowerBound
        for i in range {
            if isWordScalar(s[i]) {
                if current.isEmpty { from = i }
                current.append(contentsOf: String(s[i]).lowercased().unicodeScalars)
            } else if !current.isEmpty {
                words.append((String(current), from..<i))
                current = String.UnicodeScalarView()
            }
        }
        if !current.isEmpty { words.append((String(current), from..<range.upperBound)) }
        return words
    }

    static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isAlphabetic || scalar.properties.numericType != nil
    }

    /// Closing quotes and brackets, which stay with the sentence or phrase they close.
    static let closingMarks = Set("\"')]\u{201D}\u{2019}".unicodeScalars)

    /// Sentence starts: 0, after each line break, and after `.`, `!` or `?` (closing quotes and brackets
    /// included) followed by whitespace and a capital letter, digit, opening quote or bracket; a full stop after
    /// an initial or an abbreviation ends no sentence.
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
            // A full stop after a lone capital is an initial ("J. K. Rowling"), and one after an abbreviation
            // ("No. 1", "Dr.") is not a sentence end either.
            if c == ".", i > 0, Abbreviations.isInitialOrAbbreviation(s, before: i) {
                i += 1
                continue
            }
            if c == "." || c == "!" || c == "?" {
                var j = i + 1
                while j < s.count, closingMarks.contains(s[j]) { j += 1 }
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

    /// The sentence rules: the start of the first sentence that repeats an earlier one (`repeatedSentence`) or
    /// shares a run of ``overlapWords`` words with one (`overlappingSentence`). What is not settled: a last
    /// sentence whose words so far begin an earlier sentence, and, with `overlappingSentence`, a last sentence
    /// that is not the first (it shows once the next one begins, or at the end).
    func sentenceRules(_ s: [Unicode.Scalar]) -> (stop: Int?, settled: Int) {
        let starts = Self.sentenceStarts(s)
        let n = Self.overlapWords
        var seen: [[String]] = [], runs = Set<[String]>()
        for (index, start) in starts.enumerated() {
            let isLast = index + 1 == starts.count
            let end = isLast ? s.count : starts[index + 1]
            let words = Self.words(s, start..<end).map(\.word)
            // The last word of the text may still grow ("son" into "sonnet"): runs take whole words only.
            let whole = isLast && end > start && Self.isWordScalar(s[end - 1]) ? words.dropLast() : words[...]
            if repeatedSentence, words.count >= Self.minimumRepeatWords, seen.contains(words),
               !isLast || Self.endsSentence(s, start..<end) {
                return (start, start)
            }
            let ownRuns = whole.count >= n ? (0...(whole.count - n)).map { Array(whole[($0 + whole.startIndex)..<($0 + whole.startIndex + n)]) } : []
            if overlappingSentence, index > 0, ownRuns.contains(where: runs.contains) { return (start, start) }
            if isLast {
                if overlappingSentence, index > 0 { return (nil, start) }
                let growing = repeatedSentence && !words.isEmpty
                    && seen.contains { $0.count >= Self.minimumRepeatWords && $0.starts(with: words) }
                return (nil, growing ? start : s.count)
            }
            seen.append(words)
            runs.formUnion(ownRuns)
        }
        return (nil, s.count)
    }

    /// Where a run of words is said again right after itself: the stop just after its first saying (a full stop
    /// and closing quotes or brackets right after it kept), and, while the last words so far repeat the ones
    /// before them, the text from there on unsettled. The word being written is unsettled and left out: it may
    /// still grow.
    static func loop(_ s: [Unicode.Scalar]) -> (stop: Int?, settled: Int) {
        var spans = words(s, 0..<s.count)
        var settled = s.count
        if let last = spans.last, last.range.upperBound == s.count {
            settled = last.range.lowerBound
            spans.removeLast()
        }
        let count = spans.count
        guard count >= 2 else { return (nil, settled) }
        var stop: Int?
        for period in 1...(count / 2) {
            // How many of the last words equal the word `period` before them.
            var matched = 0
            while matched < count - period, spans[count - 1 - matched].word == spans[count - 1 - matched - period].word {
                matched += 1
            }
            guard matched > 0 else { continue }
            var end = spans[count - matched - 1].range.upperBound
            let needed = period >= loopWords ? period : 2 * period
            if matched >= needed {
                while end < s.count, closingMarks.contains(s[end]) || ".!?".unicodeScalars.contains(s[end]) { end += 1 }
                stop = min(stop ?? end, end)
            } else {
                settled = min(settled, end)
            }
        }
        return (stop, settled)
    }

    /// Whether `s[range]`, trailing whitespace and closing marks dropped, ends in `.`, `!` or `?`.
    static func endsSentence(_ s: [Unicode.Scalar], _ range: Range<Int>) -> Bool {
        var i = range.upperBound - 1
        while i >= range.lowerBound, s[i].properties.isWhitespace || closingMarks.contains(s[i]) { i -= 1 }
        return i >= range.lowerBound && (s[i] == "." || s[i] == "!" || s[i] == "?")
    }
}
