import Foundation

/// A way an output can be broken regardless of its content.
public enum DegeneracyFlag: String, Sendable, Hashable, Codable, CaseIterable {
    /// No words at all.
    case empty
    /// Stopped at the token limit instead of an end-of-generation token.
    case truncated
    /// A word 3-gram occurs at least three times, or one word fills most of the answer.
    case repetition
    /// Enumeration debris such as "1. 1." or "- -", or a list where one sentence was asked for.
    case listDebris
    /// Restates the question and adds no content word of its own.
    case echoesQuestion
}

/// How natural an output reads, independent of whether it is true.
///
/// - `fluency`: mean per-token log-probability of the output under the reference model given the question
///   alone (no passages): how likely a fluent speaker of the model's language is to say it. nil when no model
///   scored it.
/// - `flags`: hard failures (``DegeneracyFlag``).
/// - `lengthFit`: 1 when the word count is inside the task's expected range, falling off outside it.
/// - `score`: 0 with any flag; otherwise `exp(fluency)` (the geometric-mean token probability, in (0, 1]) raised
///   to the power 1/2 to spread the typical 0.1-0.6 range, times `lengthFit`. Without a fluency it is `lengthFit`.
public struct NaturalnessReport: Sendable, Hashable, Codable {
    public var fluency: Double?
    public var flags: [DegeneracyFlag]
    public var words: Int
    public var lengthFit: Double
    public var score: Double

    public init(fluency: Double?, flags: [DegeneracyFlag], words: Int, lengthFit: Double, score: Double) {
        self.fluency = fluency
        self.flags = flags
        self.words = words
        self.lengthFit = lengthFit
        self.score = score
    }

    public var isDegenerate: Bool { !flags.isEmpty }
}

/// What length a task expects, in words.
public struct ExpectedLength: Sendable, Hashable, Codable {
    public var minimumWords: Int
    public var maximumWords: Int

    public init(minimumWords: Int, maximumWords: Int) {
        self.minimumWords = minimumWords
        self.maximumWords = maximumWords
    }

    /// One-sentence answers to factoid questions: the prompt asks for one sentence, so 1 to 40 words.
    public static let sentenceAnswer = ExpectedLength(minimumWords: 1, maximumWords: 40)
    /// A summary paragraph.
    public static let summary = ExpectedLength(minimumWords: 15, maximumWords: 200)

    /// 1 inside the range; outside it, the ratio of the nearer bound to the length (or of the length to it).
    public func fit(words: Int) -> Double {
        if words == 0 { return 0 }
        if words < minimumWords { return Double(words) / Double(minimumWords) }
        if words > maximumWords { return Double(maximumWords) / Double(words) }
        return 1
    }
}

/// The lexical half of naturalness: flags and length, with no model.
public enum DegeneracyDetector {
    /// Lower-cased words: runs of letters and digits (also what `AnswerMetrics` compares answers by).
    public static func words(_ text: String) -> [String] {
        text.lowercased().split { !($0.isLetter || $0.isNumber) }.map(String.init)
    }

    /// Words that carry no content of their own, for the echo test.
    static let functionWords: Set<String> = [
        "a", "an", "the", "is", "are", "was", "were", "be", "been", "of", "in", "on", "at", "to", "for", "by", "with",
        "and", "or", "it", "its", "this", "that", "what", "which", "who", "whom", "when", "where", "why", "how",
        "did", "does", "do", "has", "have", "had", "as", "from", "answer", "question", "passage", "passages",
    ]

    /// The flags of `text`, an answer to `question` (if given); `truncated` when decoding hit its token limit.
    public static func flags(_ text: String, question: String?, truncated: Bool) -> [DegeneracyFlag] {
        var flags: [DegeneracyFlag] = []
        let words = words(text)
        if words.isEmpty { return [.empty] }
        if truncated { flags.append(.truncated) }
        if hasRepetition(words) { flags.append(.repetition) }
        if hasListDebris(text) { flags.append(.listDebris) }
        if let question {
            let asked = Set(Self.words(question))
            let own = words.filter { !functionWords.contains($0) && !asked.contains($0) }
            if own.isEmpty && words.count >= 2 { flags.append(.echoesQuestion) }
        }
        return flags
    }

    /// A word 3-gram three or more times, or one content word making up over half of six or more words.
    static func hasRepetition(_ words: [String]) -> Bool {
        if words.count >= 3 {
            var counts: [String: Int] = [:]
            for i in 0...(words.count - 3) {
                let gram = words[i] + " " + words[i + 1] + " " + words[i + 2]
                counts[gram, default: 0] += 1
                if counts[gram]! >= 3 { return true }
            }
        }
        if words.count >= 6 {
            var counts: [String: Int] = [:]
            for word in words where !functionWords.contains(word) { counts[word, default: 0] += 1 }
            if let most = counts.values.max(), most * 2 > words.count { return true }
        }
        return false
    }

    /// "1. 1.", "2) 2)", "- -" or an enumeration of three or more numbered items.
    static func hasListDebris(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        // Markers: a number followed by '.' or ')' at a word start, or a lone '-'/'*' bullet.
        var markers: [String] = []
        var i = 0
        while i < scalars.count {
            let atStart = i == 0 || CharacterSet.whitespacesAndNewlines.contains(scalars[i - 1])
            if atStart, CharacterSet.decimalDigits.contains(scalars[i]) {
                var j = i
                while j < scalars.count, CharacterSet.decimalDigits.contains(scalars[j]) { j += 1 }
                if j < scalars.count, scalars[j] == "." || scalars[j] == ")",
                   j + 1 == scalars.count || CharacterSet.whitespacesAndNewlines.contains(scalars[j + 1]) {
                    markers.append(String(String.UnicodeScalarView(scalars[i...j])))
                }
                i = j + 1
                continue
            }
            if atStart, scalars[i] == "-" || scalars[i] == "*",
               i + 1 == scalars.count || CharacterSet.whitespacesAndNewlines.contains(scalars[i + 1]) {
                markers.append(String(scalars[i]))
            }
            i += 1
        }
        guard markers.count >= 2 else { return false }
        for k in 1..<markers.count where markers[k] == markers[k - 1] { return true }
        // Three numbered items where one sentence was asked for.
        return markers.filter { $0.first?.isNumber == true }.count >= 3
    }
}

/// Scores naturalness: the lexical flags and length, plus fluency when the caller has it.
public struct NaturalnessScorer: Sendable {
    public var expected: ExpectedLength

    public init(expected: ExpectedLength = .sentenceAnswer) {
        self.expected = expected
    }

    /// The report for `text`.
    /// - Parameters:
    ///   - fluency: mean per-token log-probability under the reference model without passages, if measured.
    ///   - truncated: decoding stopped at the token limit.
    public func report(_ text: String, question: String?, fluency: Double?, truncated: Bool) -> NaturalnessReport {
        let flags = DegeneracyDetector.flags(text, question: question, truncated: truncated)
        let words = DegeneracyDetector.words(text).count
        let lengthFit = expected.fit(words: words)
        var score = lengthFit
        if let fluency { score *= exp(fluency / 2) }
        if !flags.isEmpty { score = 0 }
        return NaturalnessReport(fluency: fluency, flags: flags, words: words, lengthFit: lengthFit,
                                 score: min(1, max(0, score)))
    }
}
