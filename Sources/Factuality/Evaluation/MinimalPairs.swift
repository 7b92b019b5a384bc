import Foundation

/// Minimal pairs built from HaluEval rows: the faithful output beside a copy of it with one fact swapped for one the
/// source does not hold (a year, a number, or a name taken from another row). Both outputs have about the same
/// length and register, so length, style and answer shape cannot separate them: only whether the source holds the
/// fact can.
///
/// QA: a short right answer (at most five words) is replaced whole by another row's short right answer of the same
/// kind ("1889" by "1923", "Gustave Eiffel" by "Thomas Edison"); a longer one has one fact inside it swapped.
/// Summarization: the first sentence of the right summary that holds a fact, with that fact swapped. Rows with
/// nothing of a kind to swap are left out. Deterministic: the same rows give the same pairs.
public enum MinimalPairs {
    /// Where the swapped-in fact comes from.
    public enum Source: String, Sendable, CaseIterable {
        /// Another row: a fact the source never mentions (word overlap alone catches it).
        case outside
        /// The same source: a fact it mentions in another relation ("completed in 1887" where the source says
        /// "built from 1887 to 1889"); word overlap cannot catch it, only reading the relation can.
        case inside
    }

    /// The kind of fact a swap keeps.
    enum Kind: Hashable { case year, number, name }

    struct Fact {
        var kind: Kind
        var range: Range<String.Index>
        var text: String
    }

    /// The facts in `text`: four-digit years 1000-2099, other numbers, and runs of capitalised words that do not
    /// start a sentence.
    static func facts(in text: String) -> [Fact] {
        var facts: [Fact] = []
        var index = text.startIndex
        var sentenceStart = true
        while index < text.endIndex {
            let character = text[index]
            if character.isLetter || character.isNumber {
                var end = index
                while end < text.endIndex, text[end].isLetter || text[end].isNumber || text[end] == "'" { end = text.index(after: end) }
                let word = String(text[index..<end])
                if word.allSatisfy(\.isNumber) {
                    let kind: Kind = word.count == 4 && (word.hasPrefix("1") || word.hasPrefix("20")) ? .year : .number
                    facts.append(Fact(kind: kind, range: index..<end, text: word))
                    index = end
                } else if word.first!.isUppercase, !sentenceStart {
                    // Extend over following capitalised words ("Gustave Eiffel").
                    var runEnd = end
                    var probe = end
                    while probe < text.endIndex, text[probe] == " " {
                        let next = text.index(after: probe)
                        guard next < text.endIndex, text[next].isUppercase else { break }
                        var wordEnd = next
                        while wordEnd < text.endIndex, text[wordEnd].isLetter { wordEnd = text.index(after: wordEnd) }
                        runEnd = wordEnd
                        probe = wordEnd
                    }
                    facts.append(Fact(kind: .name, range: index..<runEnd, text: String(text[index..<runEnd])))
                    index = runEnd
                } else {
                    index = end
                }
                sentenceStart = false
            } else {
                if ".!?".contains(character) { sentenceStart = true }
                index = text.index(after: index)
            }
        }
        return facts
    }

    /// The kind of a whole short answer: a year, a number, or a name (every word capitalised).
    static func kind(ofAnswer answer: String) -> Kind? {
        let words = answer.trimmingCharacters(in: .whitespacesAndNewlines.union(.punctuationCharacters))
            .split(separator: " ")
        guard !words.isEmpty, words.count <= 5 else { return nil }
        if words.count == 1, let word = words.first, word.allSatisfy(\.isNumber) {
            return word.count == 4 && (word.hasPrefix("1") || word.hasPrefix("20")) ? .year : .number
        }
        let small: Set<Substring> = ["of", "the", "de", "von", "van", "and", "la", "du"]
        return words.allSatisfy { $0.first!.isUppercase || small.contains($0) } ? .name : nil
    }

    /// The pairs for `rows` of `task`: each row's faithful output and its swapped copy as the hallucinated one.
    public static func pairs(_ rows: [HaluEvalRow], task: HaluEvalTask, from origin: Source = .outside) -> [HaluEvalRow] {
        // The pool of replacements: every row's facts (and short answers), by kind, in row order.
        var pool: [Kind: [String]] = [:]
        for row in rows {
            if task == .qa, let kind = kind(ofAnswer: row.faithful) {
                pool[kind, default: []].append(row.faithful.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            for fact in facts(in: row.faithful) { pool[fact.kind, default: []].append(fact.text) }
        }
        func replacement(_ kind: Kind, for original: String, row: HaluEvalRow) -> String? {
            if origin == .inside {
                // Another fact of the same kind the source itself states, not in the question.
                let question = row.question?.lowercased() ?? ""
                return facts(in: row.source).first { fact in
                    fact.kind == kind && fact.text.lowercased() != original.lowercased()
                        && !original.lowercased().contains(fact.text.lowercased())
                        && !fact.text.lowercased().contains(original.lowercased())
                        && !question.contains(fact.text.lowercased())
                        && (kind != .name || fact.text.split(separator: " ").count == original.split(separator: " ").count)
                }?.text
            }
            guard let candidates = pool[kind], !candidates.isEmpty else { return nil }
            let source = row.source.lowercased()
            // Start at a row-dependent place so neighbouring rows take different replacements.
            let start = (row.index &* 7_919) % candidates.count
            for step in 0..<candidates.count {
                let candidate = candidates[(start + step) % candidates.count]
                let lower = candidate.lowercased()
                guard lower != original.lowercased(), !source.contains(lower),
                      !(row.question?.lowercased().contains(lower) ?? false) else { continue }
                // Keep the length: a name of as many words, a number of as many digits.
                if kind == .name, candidate.split(separator: " ").count != original.split(separator: " ").count { continue }
                if kind == .number, candidate.count != original.count { continue }
                return candidate
            }
            return nil
        }
        var result: [HaluEvalRow] = []
        for row in rows {
            var faithful = row.faithful.trimmingCharacters(in: .whitespacesAndNewlines)
            if task == .summarization {
                let sentences = SentenceSplitter().sentences(in: Array(faithful.unicodeScalars))
                let scalars = Array(faithful.unicodeScalars)
                guard let sentence = sentences.map({ $0.text(in: scalars) }).first(where: { !facts(in: $0).isEmpty })
                else { continue }
                faithful = sentence
            }
            var swapped: String?
            if task == .qa, let kind = kind(ofAnswer: faithful) {
                swapped = replacement(kind, for: faithful, row: row)
            } else {
                // The first fact the source holds that has a replacement.
                for fact in facts(in: faithful) where row.source.lowercased().contains(fact.text.lowercased()) {
                    if let other = replacement(fact.kind, for: fact.text, row: row) {
                        swapped = faithful.replacingCharacters(in: fact.range, with: other)
                        break
                    }
                }
            }
            guard let swapped else { continue }
            result.append(HaluEvalRow(index: row.index, source: row.source, question: row.question,
                                      faithful: faithful, hallucinated: swapped))
        }
        return result
    }
}
