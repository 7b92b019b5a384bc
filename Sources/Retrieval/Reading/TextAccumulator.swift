/// Builds readable text from markup text nodes: runs of whitespace become one space, and block
/// boundaries become a newline or a blank line (a paragraph break), never doubled or leading.
struct TextAccumulator {
    private(set) var text = ""
    private var pendingSpace = false
    private var pendingBreak = 0  // 0 none, 1 line break, 2 paragraph break

    mutating func append(_ content: String) {
        for scalar in content.unicodeScalars {
            if scalar.properties.isWhitespace || scalar == "\u{00A0}" {
                pendingSpace = true
                continue
            }
            if scalar.value < 0x20 || scalar.value == 0x7F { continue }
            flushPending()
            text.unicodeScalars.append(scalar)
        }
    }

    /// Preformatted text: spaces and line breaks are kept (a blank line is a paragraph break), but
    /// nothing leads the whole text.
    mutating func appendVerbatim(_ content: String) {
        var newlines = 0
        for scalar in content.unicodeScalars {
            if scalar == "\n" { newlines += 1; continue }
            if scalar == "\r" { continue }
            if newlines > 0 {
                pendingBreak = max(pendingBreak, min(newlines, 2))
                pendingSpace = false
                newlines = 0
            }
            if scalar == " " || scalar == "\t" {
                if text.isEmpty { continue }
                flushPending()
                text.unicodeScalars.append(scalar)
                continue
            }
            if scalar.value < 0x20 || scalar.value == 0x7F { continue }
            flushPending()
            text.unicodeScalars.append(scalar)
        }
        if newlines > 0 { pendingBreak = max(pendingBreak, min(newlines, 2)) }
    }

    private mutating func flushPending() {
        if !text.isEmpty {
            if pendingBreak == 2 {
                text.unicodeScalars.append(contentsOf: "\n\n".unicodeScalars)
            } else if pendingBreak == 1 {
                text.unicodeScalars.append("\n")
            } else if pendingSpace {
                text.unicodeScalars.append(" ")
            }
        }
        pendingSpace = false
        pendingBreak = 0
    }

    mutating func lineBreak() { pendingBreak = max(pendingBreak, 1) }
    mutating func paragraphBreak() { pendingBreak = 2 }
}
