import Control
import Factuality
import Foundation

/// Answer-quality measures for extractive question answering: SQuAD-style normalisation, exact match, token
/// F1, and how much of an answer the context does not contain.
public enum AnswerMetrics {
    /// Lower case, punctuation to spaces, articles (a, an, the) dropped, whitespace collapsed.
    public static func normalize(_ text: String) -> String {
        words(text).filter { !["a", "an", "the"].contains($0) }.joined(separator: " ")
    }

    /// Lower-cased words: runs of letters and digits, as the naturalness check counts them.
    public static func words(_ text: String) -> [String] { DegeneracyDetector.words(text) }

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

    /// Content words of `answer` (the factuality checker's stop words out) whose Porter stem appears nowhere in
    /// `context`, lower-cased, in order, each once.
    public static func unsupportedWords(_ answer: String, context: String) -> [String] {
        let known = Set(TextAnalyzer.words(context).map(\.stem))
        var result: [String] = []
        for word in TextAnalyzer.words(answer) where word.isContent && !known.contains(word.stem) {
            if !result.contains(word.lower) { result.append(word.lower) }
        }
        return result
    }
}
