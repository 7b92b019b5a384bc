/// Turns arbitrary user text into an ``FTSQuery`` that never raises an FTS5 syntax error.
///
/// The text is split into words (runs of Unicode letters, marks and digits); everything else (quotes,
/// hyphens, parentheses, colons, emoji, operators) only separates words. Each word becomes a quoted
/// FTS5 string and the words are joined with `OR`, so BM25 ranks passages that match more (and rarer)
/// words higher. Common English stop words are dropped unless the query holds nothing else.
/// A word written with a trailing `*` becomes a prefix query, and a balanced `"quoted phrase"` adds a
/// phrase clause next to its words.
///
/// ```swift
/// let query = QueryBuilder().query(for: #"Who wrote "The Hobbit" (AND NEAR"#)
/// // query.expression == #""wrote" OR "hobbit" OR "near" OR "the hobbit""#
/// ```
public struct QueryBuilder: Sendable {
    /// Words ignored unless a query holds nothing else.
    public var stopWords: Set<String>
    /// Upper bound on clauses, so a pasted page does not become a thousand-term query. The first
    /// distinct words are kept; ``FTSQuery/droppedWords`` says how many more there were. Building a
    /// query is linear in the text (20,000 words take milliseconds).
    public var maximumClauses: Int

    public init(stopWords: Set<String> = QueryBuilder.englishStopWords, maximumClauses: Int = 64) {
        self.stopWords = stopWords
        self.maximumClauses = max(1, maximumClauses)
    }

    /// Builds the FTS5 query for `text`.
    public func query(for text: String) -> FTSQuery {
        let words = QueryBuilder.words(in: text)
        var kept = words.filter { !stopWords.contains($0.text) }
        if kept.isEmpty { kept = words }

        var clauses: [String] = []
        var terms: [String] = []
        var seen = Set<String>()
        var dropped = Set<String>()
        for word in kept {
            let clause = "\"\(word.text)\"" + (word.isPrefix ? "*" : "")
            guard !seen.contains(clause) else { continue }
            guard clauses.count < maximumClauses else { dropped.insert(clause); continue }
            seen.insert(clause)
            clauses.append(clause)
            terms.append(word.text)
        }
        for phrase in QueryBuilder.phrases(in: text) where clauses.count < maximumClauses {
            let clause = "\"\(phrase.joined(separator: " "))\""
            guard seen.insert(clause).inserted else { continue }
            clauses.append(clause)
        }
        return FTSQuery(clauses: clauses, terms: terms, droppedWords: dropped.count)
    }

    struct Word: Equatable {
        var text: String
        var isPrefix: Bool
    }

    /// Splits text into lowercased words; a `*` right after a word marks it as a prefix.
    static func words(in text: String) -> [Word] {
        var words: [Word] = []
        var current = String.UnicodeScalarView()
        func flush(prefix: Bool) {
            guard !current.isEmpty else { return }
            words.append(Word(text: String(current).lowercased(), isPrefix: prefix))
            current = String.UnicodeScalarView()
        }
        for scalar in text.unicodeScalars {
            if isWordScalar(scalar) {
                current.append(scalar)
            } else {
                flush(prefix: scalar == "*")
            }
        }
        flush(prefix: false)
        return words
    }

    /// Multi-word phrases between balanced double quotes (straight or curly).
    static func phrases(in text: String) -> [[String]] {
        var phrases: [[String]] = []
        var inside = false
        var buffer = ""
        for character in text {
            if character == "\"" || character == "\u{201C}" || character == "\u{201D}" {
                if inside {
                    let words = words(in: buffer).map(\.text)
                    if words.count > 1 { phrases.append(words) }
                    buffer = ""
                }
                inside.toggle()
            } else if inside {
                buffer.append(character)
            }
        }
        return phrases
    }

    /// Letters, combining marks and digits: the characters FTS5's unicode61 tokenizer keeps in tokens.
    static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .nonspacingMark, .spacingMark, .enclosingMark,
             .decimalNumber, .letterNumber, .otherNumber:
            return true
        default:
            return false
        }
    }

    /// A short English stop-word list: function words that carry no topic.
    public static let englishStopWords: Set<String> = [
        "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as",
        "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can",
        "could", "d", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from",
        "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him",
        "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "ll", "m", "me",
        "more", "most", "my", "myself", "no", "nor", "not", "of", "off", "on", "once", "only", "or",
        "other", "our", "ours", "ourselves", "out", "over", "own", "re", "s", "same", "she", "should",
        "so", "some", "such", "t", "than", "that", "the", "their", "theirs", "them", "themselves",
        "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until",
        "up", "ve", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who",
        "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves",
    ]
}
