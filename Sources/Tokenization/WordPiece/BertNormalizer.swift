import Foundation

/// The text clean-up BERT tokenizers apply before splitting (Hugging Face `BertNormalizer`), in its order:
/// drop NUL, U+FFFD and control/format/unassigned/private-use code points (keeping tab, CR, LF) and turn
/// every white space into a plain space; put spaces around CJK ideographs; strip accents (canonical
/// decomposition, then drop non-spacing marks); lowercase code point by code point.
public struct BertNormalizer: Sendable, Hashable {
    public var cleanText: Bool
    public var handleChineseCharacters: Bool
    public var stripAccents: Bool
    public var lowercase: Bool

    /// `stripAccents` nil follows `lowercase`, as in `tokenizers`.
    public init(cleanText: Bool = true, handleChineseCharacters: Bool = true, stripAccents: Bool? = nil,
                lowercase: Bool = true) {
        self.cleanText = cleanText
        self.handleChineseCharacters = handleChineseCharacters
        self.stripAccents = stripAccents ?? lowercase
        self.lowercase = lowercase
    }

    public func normalize(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        var isASCII = true
        for scalar in text.unicodeScalars {
            if cleanText {
                if scalar.value == 0 || scalar.value == 0xFFFD || Self.isControl(scalar) { continue }
                if Self.isWhitespace(scalar) { scalars.append(" "); continue }
            }
            if handleChineseCharacters && Self.isChinese(scalar.value) {
                scalars.append(" "); scalars.append(scalar); scalars.append(" ")
            } else {
                scalars.append(scalar)
            }
            if scalar.value >= 0x80 { isASCII = false }
        }
        var result = String(scalars)
        if stripAccents && !isASCII {
            var stripped = String.UnicodeScalarView()
            for scalar in result.decomposedStringWithCanonicalMapping.unicodeScalars
            where scalar.properties.generalCategory != .nonspacingMark {
                stripped.append(scalar)
            }
            result = String(stripped)
        }
        if lowercase {
            if isASCII { return result.lowercased() }
            var lowered = String.UnicodeScalarView()
            for scalar in result.unicodeScalars { lowered.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars) }
            result = String(lowered)
        }
        return result
    }

    /// Tab, LF and CR count as white space, not control; otherwise general categories Cc, Cf, Cn, Co, Cs.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A, 0x0D: return false
        default:
            switch scalar.properties.generalCategory {
            case .control, .format, .unassigned, .privateUse, .surrogate: return true
            default: return false
            }
        }
    }

    /// The Unicode `White_Space` property (what Rust's `char::is_whitespace` tests).
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value == 0x20 || (scalar.value >= 0x09 && scalar.value <= 0x0D) || scalar.properties.isWhitespace
    }

    /// The CJK Unified Ideographs blocks BERT splits character by character.
    static func isChinese(_ value: UInt32) -> Bool {
        switch value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }
}

/// BERT's pre-tokenizer (Hugging Face `BertPreTokenizer`): split at white space (dropped) and make every
/// punctuation character (ASCII punctuation or a Unicode `P*` category) a word of its own.
public enum BertPreTokenizer {
    /// The words of already normalized text, as arrays of code points.
    public static func words(in text: String) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for scalar in text.unicodeScalars {
            if BertNormalizer.isWhitespace(scalar) {
                if !current.isEmpty { words.append(current); current.removeAll(keepingCapacity: true) }
            } else if isPunctuation(scalar) {
                if !current.isEmpty { words.append(current); current.removeAll(keepingCapacity: true) }
                words.append([scalar])
            } else {
                current.append(scalar)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x80 {
            return (0x21...0x2F).contains(value) || (0x3A...0x40).contains(value) || (0x5B...0x60).contains(value)
                || (0x7B...0x7E).contains(value)
        }
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }
}
