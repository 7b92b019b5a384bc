import Foundation

/// Reads Markdown into plain text: heading markers, emphasis, inline code ticks, list and quote
/// markers, table pipes and link/image syntax are removed (link and image text is kept); fenced code
/// is kept without its fences; YAML front matter is dropped except its `title:`. Headings become
/// their own paragraphs. The title is front-matter `title:`, else the first heading, else the file name.
public struct MarkdownReader: DocumentReader {
    public init() {}

    public func documents(in data: Data, source: String) throws -> [ExtractedDocument] {
        let markdown = PlainTextReader.normaliseLineEnds(PlainTextReader.decode(data))
        var lines = markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var title: String? = nil

        if lines.first?.trimmingCharacters(in: .whitespaces) == "---",
           let close = lines.dropFirst().firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "---" }) {
            for line in lines[1..<close] where line.lowercased().hasPrefix("title:") {
                title = line.dropFirst(6).trimmingCharacters(in: CharacterSet(charactersIn: " \"'"))
            }
            lines.removeSubrange(0...close)
        }

        var output: [String] = []
        var fence: String? = nil
        var index = 0
        while index < lines.count {
            let line = lines[index]
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            index += 1
            if let open = fence {
                if trimmed.hasPrefix(open) { fence = nil; output.append("") } else { output.append(line) }
                continue
            }
            if trimmed.hasPrefix("```") || trimmed.hasPrefix("~~~") {
                fence = String(trimmed.prefix(3))
                output.append("")
                continue
            }
            if let heading = MarkdownReader.atxHeading(trimmed) {
                let text = MarkdownReader.inline(heading)
                if title == nil, !text.isEmpty { title = text }
                output.append(contentsOf: ["", text, ""])
                continue
            }
            // Setext heading: a text line underlined with === or ---.
            if index < lines.count, !trimmed.isEmpty {
                let under = lines[index].trimmingCharacters(in: .whitespaces)
                if under.count >= 2, under.allSatisfy({ $0 == "=" }) || under.allSatisfy({ $0 == "-" }) {
                    let text = MarkdownReader.inline(trimmed)
                    if title == nil, !text.isEmpty { title = text }
                    output.append(contentsOf: ["", text, ""])
                    index += 1
                    continue
                }
            }
            output.append(MarkdownReader.inline(MarkdownReader.stripBlockMarkers(trimmed)))
        }
        // Headings add blank lines of their own: keep at most one blank line anywhere, none at the ends.
        var text = ""
        var blankRun = 0
        for line in output {
            let blank = line.allSatisfy(\.isWhitespace)
            if blank { blankRun += 1; continue }
            if !text.isEmpty { text += blankRun > 0 ? "\n\n" : "\n" }
            text += line
            blankRun = 0
        }
        return [ExtractedDocument(source: source, title: title ?? Self.fallbackTitle(for: source), text: text)]
    }

    /// The text of `# Heading #`, or `nil` when the line is not an ATX heading.
    static func atxHeading(_ line: String) -> String? {
        let hashes = line.prefix { $0 == "#" }.count
        guard (1...6).contains(hashes) else { return nil }
        let rest = line.dropFirst(hashes)
        guard rest.isEmpty || rest.first == " " || rest.first == "\t" else { return nil }
        var text = rest.trimmingCharacters(in: .whitespaces)
        while text.hasSuffix("#") { text.removeLast() }
        return text.trimmingCharacters(in: .whitespaces)
    }

    /// Removes quote, list and table markers at the start of a trimmed line.
    static func stripBlockMarkers(_ line: String) -> String {
        var rest = Substring(line)
        while rest.hasPrefix(">") { rest = rest.dropFirst().drop { $0 == " " } }
        if let first = rest.first, "-*+".contains(first), rest.dropFirst().first == " " {
            rest = rest.dropFirst(2)
        } else {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            if !digits.isEmpty, digits.count <= 9 {
                let after = rest.dropFirst(digits.count)
                if let mark = after.first, mark == "." || mark == ")", after.dropFirst().first == " " {
                    rest = after.dropFirst(2)
                }
            }
        }
        if rest.hasPrefix("|") || rest.hasSuffix("|") {
            if rest.allSatisfy({ "|-: ".contains($0) }) { return "" }  // table rule
            return rest.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
                .joined(separator: " ")
        }
        return String(rest)
    }

    /// Inline markup to text: `[text](url)` and `![alt](url)` keep their text; `**`, `__`, edge `*`
    /// and `_`, and backticks go. Linear in the line: brackets are matched once with a stack and the
    /// next `)` after every position is precomputed, and link text is read in place (a stack of
    /// "where this link text ends, where to resume") instead of by recursing on a copy, so nested or
    /// unclosed `[` cost nothing extra (they made this quadratic in time and memory).
    static func inline(_ line: String) -> String {
        let characters = Array(line)
        let count = characters.count
        // closing[i]: the `]` matching the `[` at i, or -1.
        var closing = [Int](repeating: -1, count: count)
        var open: [Int] = []
        for index in 0..<count {
            if characters[index] == "[" { open.append(index) }
            else if characters[index] == "]", let opener = open.popLast() { closing[opener] = index }
        }
        // nextParen[i]: the first `)` at or after i, or `count`.
        var nextParen = [Int](repeating: count, count: count + 1)
        for index in stride(from: count - 1, through: 0, by: -1) {
            nextParen[index] = characters[index] == ")" ? index : nextParen[index + 1]
        }

        var result = ""
        result.reserveCapacity(count)
        // The span being read is start..<bound; link text pushes the outer span and where to resume.
        var outer: [(start: Int, bound: Int, resume: Int)] = []
        var start = 0
        var bound = count
        var index = 0
        while true {
            if index >= bound {
                guard let frame = outer.popLast() else { break }
                (start, bound, index) = (frame.start, frame.bound, frame.resume)
                continue
            }
            let character = characters[index]
            if character == "!", index + 1 < bound, characters[index + 1] == "[" {
                index += 1
                continue
            }
            if character == "[" {
                let close = closing[index]
                if close >= 0, close + 1 < bound, characters[close + 1] == "(",
                   close + 2 <= count, nextParen[close + 2] < bound {
                    outer.append((start, bound, nextParen[close + 2] + 1))
                    (start, bound) = (index + 1, close)
                    index += 1
                    continue
                }
            }
            if character == "`" { index += 1; continue }
            if character == "*" || character == "_" {
                let run = emphasis(characters, at: index, within: start..<bound)
                if !run.isMarkup { result.append(contentsOf: characters[index..<run.end]) }
                index = run.end
                continue
            }
            result.append(character)
            index += 1
        }
        return result
    }

    /// A run of `*` or `_` starting at `index`, read within `span`: where it ends, and whether it is
    /// emphasis markup (dropped) rather than text (`snake_case`, a lone ` * `).
    static func emphasis(_ characters: [Character], at index: Int, within span: Range<Int>) -> (end: Int, isMarkup: Bool) {
        let marker = characters[index]
        let before = index > span.lowerBound ? characters[index - 1] : " "
        var run = index
        while run < span.upperBound, characters[run] == marker { run += 1 }
        let after = run < span.upperBound ? characters[run] : " "
        let inWord = before.isLetter || before.isNumber
        let beforeWord = after.isLetter || after.isNumber
        let isMarkup = (run - index >= 2 || !(inWord && beforeWord)) && !(before.isWhitespace && after.isWhitespace)
        return (run, isMarkup)
    }
}
