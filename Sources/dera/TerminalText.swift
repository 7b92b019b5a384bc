/// Text that came from outside (documents, file names, model output) made safe to print on a
/// terminal: no escape sequence, cursor movement, bell or bidirectional override in it can act on the
/// terminal; each is shown as a visible escape instead.
///
/// ```swift
/// print(TerminalText.escaped("title\u{1B}[2J"))   // title\x1B[2J
/// ```
enum TerminalText {
    /// `text` with every control character written as `\xHH` (C0 controls, DEL, the C1 controls
    /// U+0080 to U+009F, which some terminals obey as 8-bit escapes) and every bidirectional
    /// formatting character as `\u{HHHH}`. Linear in the text.
    /// - Parameter keepingLineBreaks: leave line feeds and tabs as they are (multi-line output such
    ///   as an answer); otherwise they are escaped too, so one value stays on one line.
    static func escaped(_ text: String, keepingLineBreaks: Bool = false) -> String {
        guard text.unicodeScalars.contains(where: { needsEscape($0, keepingLineBreaks: keepingLineBreaks) }) else {
            return text
        }
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            guard needsEscape(scalar, keepingLineBreaks: keepingLineBreaks) else {
                result.append(scalar)
                continue
            }
            let hex = String(scalar.value, radix: 16, uppercase: true)
            let escape = scalar.value <= 0xFF
                ? "\\x" + (hex.count < 2 ? "0" + hex : hex)
                : "\\u{" + hex + "}"
            result.append(contentsOf: escape.unicodeScalars)
        }
        return String(result)
    }

    static func needsEscape(_ scalar: Unicode.Scalar, keepingLineBreaks: Bool) -> Bool {
        switch scalar.value {
        case 0x0A, 0x09: return !keepingLineBreaks
        case 0x00..<0x20, 0x7F..<0xA0: return true
        // Bidirectional marks, embeddings, overrides and isolates: they reorder what follows.
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }
}
