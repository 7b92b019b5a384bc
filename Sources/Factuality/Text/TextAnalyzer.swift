/// One word of a text as the lexical signals see it.
public struct AnalyzedWord: Sendable, Hashable {
    /// Where the word sits, in Unicode scalar offsets.
    public var span: TextSpan
    /// Lowercased surface form.
    public var lower: String
    /// Porter stem of the lowercased form (numbers and month names in their normal form).
    public var stem: String
    /// Not a stop word: counts towards lexical support.
    public var isContent: Bool
    /// The normal form of a hard fact (a number, a month, a capitalised name), if the word is one.
    public var fact: String?
    /// A negation cue: not, no, never, n't, ...
    public var isNegation: Bool
}

/// Splits text into words and classifies them: stems, stop words, negations and hard facts.
///
/// Numbers are normalised so "1,000", "1000" and "$1000" agree and "3.0" equals "3"; number words up to
/// twenty and the tens become digits; month names and their abbreviations become the full name. Ideographs
/// (CJK) count as one word each; other scripts keep their words whole and unstemmed.
public enum TextAnalyzer {
    public static func words(_ text: String) -> [AnalyzedWord] {
        words(Array(text.unicodeScalars))
    }

    public static func words(_ s: [Unicode.Scalar]) -> [AnalyzedWord] {
        var result: [AnalyzedWord] = []
        var k = 0
        let n = s.count
        var sentenceStart = true
        while k < n {
            let c = s[k]
            if c.properties.isIdeographic {
                let word = String(Character(c))
                result.append(AnalyzedWord(span: TextSpan(start: k, end: k + 1), lower: word, stem: word,
                                           isContent: true, fact: nil, isNegation: false))
                k += 1
                sentenceStart = false
                continue
            }
            guard isWordScalar(c) else {
                if c == "." || c == "!" || c == "?" || c == ":" || c == "\n" { sentenceStart = true }
                k += 1
                continue
            }
            let begin = k
            while k < n {
                if isWordScalar(s[k]), !s[k].properties.isIdeographic { k += 1; continue }
                // Keep "1,000", "3.14", "don't", "U.S" together: a joiner between two word characters.
                if k + 1 < n, isJoiner(s[k]), isWordScalar(s[k + 1]), !s[k + 1].properties.isIdeographic,
                   s[k] == "'" || s[k] == "’" || s[k] == "-" || (isDigit(s[k - 1]) && isDigit(s[k + 1])) {
                    k += 2
                    continue
                }
                break
            }
            var view = String.UnicodeScalarView()
            view.append(contentsOf: s[begin..<k])
            let surface = String(view)
            result.append(contentsOf: analyze(surface, span: TextSpan(start: begin, end: k),
                                              atSentenceStart: sentenceStart))
            sentenceStart = false
        }
        return result
    }

    private static func analyze(_ surface: String, span: TextSpan, atSentenceStart: Bool) -> [AnalyzedWord] {
        var lower = surface.lowercased().replacingOccurrences(of: "’", with: "'")
        var negation = false
        if lower.hasSuffix("n't") {
            negation = true
            lower = String(lower.dropLast(3))
            if lower == "ca" { lower = "can" } else if lower == "wo" { lower = "will" }
        }
        if lower.hasSuffix("'s") { lower = String(lower.dropLast(2)) }
        lower = lower.replacingOccurrences(of: "'", with: "")
        if negationWords.contains(lower) { negation = true }

        // Hyphenated words count by their parts ("well-known" -> well, known) for support, whole for facts.
        if lower.contains("-"), !lower.first!.isNumber {
            let parts = lower.split(separator: "-").map(String.init)
            return parts.map { part in
                word(surface: surface, lower: part, span: span, atSentenceStart: atSentenceStart, negation: negation)
            }
        }
        return [word(surface: surface, lower: lower, span: span, atSentenceStart: atSentenceStart, negation: negation)]
    }

    private static func word(surface: String, lower: String, span: TextSpan, atSentenceStart: Bool,
                             negation: Bool) -> AnalyzedWord {
        var stem: String
        var fact: String?
        if let number = normalizedNumber(lower) {
            stem = number
            fact = number
        } else if let month = months[lower] {
            stem = month
            fact = month
        } else {
            stem = PorterStemmer.stem(lower)
            let capitalised = surface.unicodeScalars.first.map { $0.properties.isUppercase } ?? false
            if capitalised, !stopWords.contains(lower), lower.count > 1 { fact = stem }
        }
        let content = !stopWords.contains(lower) && !lower.isEmpty
        if lower.isEmpty { stem = "" }
        return AnalyzedWord(span: span, lower: lower, stem: stem, isContent: content, fact: fact,
                            isNegation: negation)
    }

    /// Digits without grouping commas or currency, "3.0" as "3"; number words as digits.
    static func normalizedNumber(_ lower: String) -> String? {
        if let value = numberWords[lower] { return value }
        guard lower.contains(where: \.isNumber) else { return nil }
        // Years and decades ("1990s") keep their letters; pure numbers lose grouping and trailing zeros.
        var digits = lower.replacingOccurrences(of: ",", with: "")
        guard digits.allSatisfy({ $0.isNumber || $0 == "." }) else { return digits }
        if digits.contains(".") {
            while digits.hasSuffix("0") { digits.removeLast() }
            if digits.hasSuffix(".") { digits.removeLast() }
        }
        while digits.count > 1, digits.hasPrefix("0"), !digits.hasPrefix("0.") { digits.removeFirst() }
        return digits
    }

    static func isWordScalar(_ c: Unicode.Scalar) -> Bool {
        c.properties.isAlphabetic || c.properties.numericType != nil
    }

    static func isDigit(_ c: Unicode.Scalar) -> Bool { c.properties.numericType == .decimal }

    static func isJoiner(_ c: Unicode.Scalar) -> Bool { c == "," || c == "." || c == "'" || c == "’" || c == "-" }

    static let negationWords: Set<String> = [
        "not", "no", "never", "none", "nor", "neither", "nobody", "nothing", "nowhere", "without", "cannot",
    ]

    static let numberWords: [String: String] = [
        "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
        "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13",
        "fourteen": "14", "fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18",
        "nineteen": "19", "twenty": "20", "thirty": "30", "forty": "40", "fifty": "50", "sixty": "60",
        "seventy": "70", "eighty": "80", "ninety": "90", "first": "1st", "second": "2nd", "third": "3rd",
        "fourth": "4th", "fifth": "5th",
    ]

    static let months: [String: String] = {
        let names = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
                     "october", "november", "december"]
        var map: [String: String] = [:]
        for name in names where name != "may" && name != "march" { map[name] = name; map[String(name.prefix(3))] = name }
        map["sept"] = "september"
        map["march"] = "march"
        return map
    }()

    /// English function words: they carry no checkable content.
    static let stopWords: Set<String> = [
        "a", "an", "the", "and", "or", "but", "if", "then", "else", "so", "than", "that", "this", "these",
        "those", "there", "here", "of", "in", "on", "at", "by", "for", "with", "from", "to", "into", "onto",
        "about", "over", "under", "as", "is", "are", "was", "were", "be", "been", "being", "am", "do", "does",
        "did", "doing", "done", "have", "has", "had", "having", "will", "would", "shall", "should", "can",
        "could", "may", "might", "must", "it", "its", "he", "him", "his", "she", "her", "hers", "they", "them",
        "their", "theirs", "we", "us", "our", "you", "your", "i", "me", "my", "who", "whom", "whose", "which",
        "what", "when", "where", "why", "how", "also", "too", "very", "just", "only", "both", "each", "all",
        "any", "some", "such", "other", "another", "more", "most", "many", "much", "own", "same", "s", "t",
        "up", "down", "out", "off", "again", "further", "once", "while", "during", "before", "after", "above",
        "below", "between", "through", "because", "until", "against", "among", "per", "via", "yes", "itself",
        "himself", "herself", "themselves", "one's", "st", "mr", "mrs", "ms", "dr", "yet", "however",
        "not", "no", "never", "nor", "none", "neither", "without", "cannot", "known", "called", "named",
    ]
}
