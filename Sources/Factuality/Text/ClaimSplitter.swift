/// One checkable statement of an answer: a sentence, or a clause of a sentence that joins several.
public struct Claim: Sendable, Hashable, Codable {
    public var text: String
    /// Where the claim sits in the answer, in Unicode scalar offsets.
    public var span: TextSpan

    public init(text: String, span: TextSpan) {
        self.text = text
        self.span = span
    }
}

/// What one claim is: a clause of a sentence, or the whole sentence.
///
/// Clauses give the verdict model one statement at a time and answers their finest evidence. Whole sentences score
/// better on multi-sentence summaries by word overlap: a sentence the source does not hold spreads its unknown
/// words over several clauses, each of which then looks only a little off (HaluEval summarization, docs/factuality.md).
/// A calibration profile records the unit it was fitted with.
public enum ClaimUnit: String, Sendable, Hashable, Codable, CaseIterable {
    case clause
    case sentence
}

/// Splits an answer into claims: first into sentences (``SentenceSplitter``), then each sentence at the places
/// where it joins independent clauses — `;`, and `, and` / `, but` / `, while` / `, whereas` / `, although` /
/// `, yet` / `, so` / `, which` / `, who` — when both sides keep at least ``minimumClauseWords`` words.
///
/// A coordinating word (`and`, `but`, ...) is left out of the clause after it; a relative pronoun (`which`,
/// `who`) stays, as the clause's subject.
public struct ClaimSplitter: Sendable {
    public var sentenceSplitter = SentenceSplitter()
    /// Whether sentences are cut into clauses (``ClaimUnit/clause``) or kept whole (``ClaimUnit/sentence``).
    public var unit = ClaimUnit.clause
    /// Fewest words each side of a clause boundary must keep for the sentence to be split there.
    public var minimumClauseWords = 4

    static let coordinators: Set<String> = ["and", "but", "while", "whereas", "although", "though", "yet", "so"]
    static let relatives: Set<String> = ["which", "who"]

    public init(unit: ClaimUnit = .clause) {
        self.unit = unit
    }

    public func claims(in answer: String) -> [Claim] {
        let scalars = Array(answer.unicodeScalars)
        var claims: [Claim] = []
        for sentence in sentenceSplitter.sentences(in: scalars) {
            let spans = unit == .clause ? clauses(of: sentence, in: scalars)
                : trimClause(sentence.start, sentence.end, scalars, isFinal: true).map { [$0] } ?? []
            for span in spans {
                claims.append(Claim(text: span.text(in: scalars), span: span))
            }
        }
        return claims
    }

    /// The clause spans of one sentence.
    func clauses(of sentence: TextSpan, in s: [Unicode.Scalar]) -> [TextSpan] {
        // Words with their spans, so boundaries can be checked by word count on each side.
        var words: [TextSpan] = []
        var k = sentence.start
        while k < sentence.end {
            if s[k].properties.isWhitespace { k += 1; continue }
            let begin = k
            while k < sentence.end, !s[k].properties.isWhitespace { k += 1 }
            words.append(TextSpan(start: begin, end: k))
        }
        // Candidate cuts: the last word of one clause and the first word of the next.
        var cuts: [(last: Int, next: Int)] = []
        var commaSinceCut = false
        for index in 0..<max(0, words.count - 1) {
            let word = words[index]
            let last = s[word.end - 1]
            if last == ";" {
                cuts.append((index, index + 1))
                commaSinceCut = false
            } else if last == "," {
                let next = words[index + 1]
                let lower = next.text(in: s).lowercased()
                defer { commaSinceCut = true }
                // "apples, pears, and plums": an earlier comma makes ", and" end a list, not a clause.
                if Self.coordinators.contains(lower), index + 2 < words.count, !(commaSinceCut && lower == "and") {
                    cuts.append((index, index + 2))
                } else if Self.relatives.contains(lower) {
                    cuts.append((index, index + 1))
                }
            }
        }
        var spans: [TextSpan] = []
        var clauseStartWord = 0
        var clauseStart = sentence.start
        for cut in cuts {
            let before = cut.last + 1 - clauseStartWord
            let after = words.count - cut.next
            guard before >= minimumClauseWords, after >= minimumClauseWords else { continue }
            if let span = trimClause(clauseStart, words[cut.last].end, s, isFinal: false) { spans.append(span) }
            clauseStartWord = cut.next
            clauseStart = words[cut.next].start
        }
        if let span = trimClause(clauseStart, sentence.end, s, isFinal: true) { spans.append(span) }
        return spans
    }

    /// Drops the joining punctuation and the coordinating word at a clause's edges.
    private func trimClause(_ start: Int, _ end: Int, _ s: [Unicode.Scalar], isFinal: Bool) -> TextSpan? {
        var a = start, b = end
        while a < b, s[a].properties.isWhitespace { a += 1 }
        if !isFinal { while b > a, s[b - 1] == "," || s[b - 1] == ";" || s[b - 1].properties.isWhitespace { b -= 1 } }
        while b > a, s[b - 1].properties.isWhitespace { b -= 1 }
        return a < b ? TextSpan(start: a, end: b) : nil
    }
}
