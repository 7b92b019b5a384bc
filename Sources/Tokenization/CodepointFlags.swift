/// The Unicode classes the pre-tokenizers test, one bit each, as llama.cpp's `unicode_cpt_flags` defines them:
/// the general category collapsed to its major class, plus the White_Space property.
struct CodepointFlags: OptionSet, Sendable {
    let rawValue: UInt16

    static let undefined = CodepointFlags(rawValue: 0x0001)
    static let number = CodepointFlags(rawValue: 0x0002)
    static let letter = CodepointFlags(rawValue: 0x0004)
    static let separator = CodepointFlags(rawValue: 0x0008)
    static let accentMark = CodepointFlags(rawValue: 0x0010)
    static let punctuation = CodepointFlags(rawValue: 0x0020)
    static let symbol = CodepointFlags(rawValue: 0x0040)
    static let control = CodepointFlags(rawValue: 0x0080)
    static let whitespace = CodepointFlags(rawValue: 0x0100)

    /// The flags of a scalar value; empty for values past U+10FFFF (llama.cpp's "out of range").
    @inline(__always)
    static func of(_ value: UInt32) -> CodepointFlags {
        if value < 0x10000 { return CodepointFlags(rawValue: basicPlane[Int(value)]) }
        return compute(value)
    }

    /// The White_Space set, as llama.cpp lists it.
    static let whitespaceScalars: Set<UInt32> = [
        0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680,
        0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A,
        0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
    ]

    private static let basicPlane: [UInt16] = (0..<0x10000).map { compute(UInt32($0)).rawValue }

    private static func compute(_ value: UInt32) -> CodepointFlags {
        guard let scalar = Unicode.Scalar(value) else {
            // Surrogate code points cannot occur in a Swift string; classify them as llama.cpp does.
            return value < 0x110000 ? .control : []
        }
        var flags: CodepointFlags
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            flags = .letter
        case .nonspacingMark, .spacingMark, .enclosingMark:
            flags = .accentMark
        case .decimalNumber, .letterNumber, .otherNumber:
            flags = .number
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            flags = .punctuation
        case .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            flags = .symbol
        case .spaceSeparator, .lineSeparator, .paragraphSeparator:
            flags = .separator
        case .control, .format, .surrogate, .privateUse:
            flags = .control
        case .unassigned:
            flags = .undefined
        @unknown default:
            flags = .undefined
        }
        if whitespaceScalars.contains(value) { flags.insert(.whitespace) }
        return flags
    }
}
