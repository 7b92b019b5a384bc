import Foundation

/// Answer-quality measures for extractive question answering: SQuAD-style normalisation, exact match, token
/// F1, and how much of an answer the context does not contain.
public enum AnswerMetrics {
    /// Lower case, punctuation to spaces, articles (a, an, the) dropped, whitespace collapsed.
    public static func normalize(_ text: String) -> String {
        words(text).filter { !["a", "an", "the"].contains($0) }.joined(separator: " ")
    }

    /// Lower-cased words: runs of letters and digits.
    public static func words(_ text: String) -> [String] {
        text.lowercased().split { !($0.isLetter || $0.isNumber) }.map(String.init)
    }

    public static func exactMatch(_ answer: String, _ truth: String) -> Bool {
        normalize(answer) == normalize(truth)
    }

    /// Whether the normalised truth appears in the normalised answer as whole words (an answer given as a
    /// sentence that states the right span).
    public static func containsAnswer(_ answer: String, _ truth: String) -> Bool {
        let t = normalize(truth)
        guard !t.isEmpty else { return false }
        return (" " + normalize(answer) + " ").contains(" " + t + " ")
    }

    /// Harmonic mean of precision and recall of the answer's normalised words against the truth's.
    public static func tokenF1(_ answer: String, _ truth: String) -> Double {
        let a = normalize(answer).split(separator: " "), t = normalize(truth).split(separator: " ")
        guard !a.isEmpty, !t.isEmpty else { return a.isEmpty && t.isEmpty ? 1 : 0 }
        var counts: [Substring: Int] = [:]
        for word in t { counts[word, default: 0] += 1 }
        var common = 0
        for word in a where (counts[word] ?? 0) > 0 {
            counts[word]! -= 1
            common += 1
        }
        guard common > 0 else { return 0 }
        let precision = Double(common) / Double(a.count), recall = Double(common) / Double(t.count)
        return 2 * precision * recall / (precision + recall)
    }

    /// English function words that carry no content of their own.
    public static let stopWords: Set<String> = Set("""
        a about above after again against all also am an and any are as at be because been before being below \
        between both but by can could did do does doing down during each either few for from further had has have \
        having he her here hers herself him himself his how i if in into is it its itself just me more most my \
        myself neither no nor not now of off on once only or other our ours ourselves out over own same she should \
        so some such than that the their theirs them themselves then there these they this those through to too \
        under until up very was we were what when where which while who whom why will with would yes you your \
        yours yourself yourselves one answer passage passages according based given known called named
        """.split(whereSeparator: \.isWhitespace).map(String.init))

    /// Content words of `answer` (stop words out) that appear nowhere in `context`, compared by a crude
    /// stem (the first five letters) so that inflections count as found.
    public static func unsupportedWords(_ answer: String, context: String) -> [String] {
        func stem(_ word: String) -> Substring { word.prefix(5) }
        let known = Set(words(context).map(stem))
        return words(answer).filter { !stopWords.contains($0) && !known.contains(stem($0)) }
    }
}
