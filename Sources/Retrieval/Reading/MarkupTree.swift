import CLibXML2
import Foundation

/// A parsed libxml2 document (HTML or XML), freed when the value goes away, with a text extraction
/// walk shared by ``HTMLReader`` and ``XMLReader``.
final class MarkupTree {
    let document: xmlDocPtr

    private init(document: xmlDocPtr) { self.document = document }
    deinit { xmlFreeDoc(document) }

    /// Parses HTML leniently: broken markup is repaired, no network access, no error output.
    ///
    /// libxml2 2.9's HTML parser searches the whole stack of open elements for every end tag that
    /// closes none of them (and reports it as a tag-name mismatch), so deep nesting followed by stray
    /// end tags is quadratic: 20,000 `<table>` then 20,000 `</td>` took 5.7 s. Each such report is
    /// priced at the depth of the stack while the parser runs, and the parse is stopped once the total
    /// passes ``ReadLimits/unmatchedEndTagWorkPerByte`` per input byte.
    /// - Parameter encoding: an IANA charset name, or `nil` to let libxml2 detect it.
    static func html(_ data: Data, encoding: String?, file: String, limits: ReadLimits) throws -> MarkupTree {
        try MarkupScan(limits: limits, html: true).check(data, file: file)
        let options = HTML_PARSE_RECOVER.rawValue | HTML_PARSE_NOERROR.rawValue
            | HTML_PARSE_NOWARNING.rawValue | HTML_PARSE_NONET.rawValue | XML_PARSE_HUGE.rawValue
        let budget = WorkBudget(limit: (1 << 20) + limits.unmatchedEndTagWorkPerByte * data.count, html: true)
        let tree = try budget.parseReportingStop(data, file: file) { buffer, size in
            htmlReadMemory(buffer, size, file, encoding, Int32(options))
        }
        if let (open, line) = budget.exceeded {
            throw DocumentReadError(file: file, line: line > 0 ? line : nil, reason: """
                too many end tags that close no open element (\(open) elements open): parsing would take \
                time quadratic in the file size
                """)
        }
        return tree!
    }

    /// Parses XML without loading external entities or DTDs; recovers from what it can.
    ///
    /// libxml2 2.9 reports every `--` inside a comment with a copy of the comment read so far, so a comment that
    /// is never closed and keeps repeating `<!--` is quadratic: 512 KB of them took 23 s (found by scripts/fuzz).
    /// Each such report is priced at the bytes read so far, under the same per-byte budget as HTML's stray end
    /// tags.
    static func xml(_ data: Data, encoding: String?, file: String, limits: ReadLimits) throws -> MarkupTree {
        try MarkupScan(limits: limits, html: false).check(data, file: file)
        let options = XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue
            | XML_PARSE_RECOVER.rawValue | XML_PARSE_HUGE.rawValue | XML_PARSE_NOCDATA.rawValue
        let budget = WorkBudget(limit: (1 << 20) + limits.unmatchedEndTagWorkPerByte * data.count, html: false)
        let tree = try budget.parseReportingStop(data, file: file) { buffer, size in
            xmlReadMemory(buffer, size, file, encoding, Int32(options))
        }
        if let (_, line) = budget.exceeded {
            throw DocumentReadError(file: file, line: line > 0 ? line : nil, reason: """
                too many "--" inside a comment (a comment never closed?): parsing would take time quadratic in \
                the file size
                """)
        }
        return tree!
    }

    /// Work libxml2 spends recovering from errors whose recovery is not linear, counted while it parses: HTML end
    /// tags that close nothing (priced at the open elements searched), `--` inside XML comments (priced at the
    /// bytes read so far, an upper bound of the comment each report copies). The parse is stopped once the total passes `limit`.
    private final class WorkBudget {
        let limit: Int
        let html: Bool
        var spent = 0
        var exceeded: (depth: Int, line: Int)? = nil
        init(limit: Int, html: Bool) {
            self.limit = limit
            self.html = html
        }

        /// ``parse(_:file:_:)``, but nil instead of an error when the budget stopped the parser (the caller then
        /// reports the budget).
        func parseReportingStop(_ data: Data, file: String, _ read: (UnsafePointer<CChar>, Int32) -> xmlDocPtr?)
            throws -> MarkupTree? {
            do { return try parse(data, file: file, read) } catch where exceeded != nil { return nil }
        }

        /// Runs `read` with this budget as the thread's structured error handler (errors go nowhere else).
        func parse(_ data: Data, file: String, _ read: (UnsafePointer<CChar>, Int32) -> xmlDocPtr?) throws -> MarkupTree {
            let unmanaged = Unmanaged.passRetained(self)
            defer { unmanaged.release() }
            xmlSetStructuredErrorFunc(unmanaged.toOpaque(), { context, error in
                guard let context, let error,
                      let parser = error.pointee.ctxt?.assumingMemoryBound(to: xmlParserCtxt.self) else { return }
                let budget = Unmanaged<WorkBudget>.fromOpaque(context).takeUnretainedValue()
                let price: Int
                if budget.html, error.pointee.code == XML_ERR_TAG_NAME_MISMATCH.rawValue {
                    price = Int(parser.pointee.nameNr)
                } else if !budget.html, error.pointee.code == XML_ERR_HYPHEN_IN_COMMENT.rawValue,
                          let input = parser.pointee.input, let cur = input.pointee.cur, let base = input.pointee.base {
                    // The report copies the comment read so far, which can be everything read so far.
                    price = max(1, cur - base)
                } else {
                    return
                }
                budget.spent += price
                if budget.spent > budget.limit, budget.exceeded == nil {
                    budget.exceeded = (Int(parser.pointee.nameNr), Int(error.pointee.line))
                    xmlStopParser(parser)
                }
            })
            defer { xmlSetStructuredErrorFunc(nil, nil) }
            return try MarkupTree.parse(data, file: file, read)
        }
    }

    fileprivate static func parse(_ data: Data, file: String,
                              _ read: (UnsafePointer<CChar>, Int32) -> xmlDocPtr?) throws -> MarkupTree {
        guard data.count < Int(Int32.max) else {
            throw DocumentReadError(file: file, reason: "file of \(data.count) bytes is larger than libxml2 accepts (2 GiB)")
        }
        xmlResetLastError()
        let document: xmlDocPtr? = data.withUnsafeBytes { raw in
            // libxml2 wants a non-null pointer even for an empty buffer.
            let fallback: [CChar] = [0]
            guard let base = raw.baseAddress, raw.count > 0 else {
                return fallback.withUnsafeBufferPointer { read($0.baseAddress!, 0) }
            }
            return read(base.assumingMemoryBound(to: CChar.self), Int32(raw.count))
        }
        guard let document else {
            if let error = xmlGetLastError() {
                let message = error.pointee.message.map { String(cString: $0) }?
                    .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown error"
                throw DocumentReadError(file: file, line: error.pointee.line > 0 ? Int(error.pointee.line) : nil,
                                        reason: "libxml2 could not parse it: \(message)")
            }
            throw DocumentReadError(file: file, reason: "libxml2 could not parse it")
        }
        return MarkupTree(document: document)
    }

    /// Whether the parsed document has a root element at all (recovery can leave none).
    var hasRoot: Bool { xmlDocGetRootElement(document) != nil }

    /// The parser's last error message, if any.
    static func lastErrorDescription() -> String? {
        guard let error = xmlGetLastError(), let message = error.pointee.message else { return nil }
        let text = String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
        return error.pointee.line > 0 ? "line \(error.pointee.line): \(text)" : text
    }

    /// How the walk treats element names (lowercased local names).
    struct Rules {
        /// Elements dropped with everything inside.
        var skipped: Set<String>
        /// Elements that start and end a paragraph.
        var blocks: Set<String>
        /// Elements that start and end a line.
        var lines: Set<String>
        /// Elements whose text is only used as the title, never as body text.
        var titleOnly: Set<String> = []
        /// Every other element ends a line (XML records) instead of flowing inline (HTML).
        var otherElementsEndLines: Bool
        /// Elements whose whitespace is kept as written (HTML `pre`).
        var preformatted: Set<String> = []
        /// Drop elements marked as boilerplate by `role`, `aria-hidden`, or a `class`/`id` token in
        /// `boilerplateClasses` (HTML only; XML attributes mean nothing of the sort).
        var checksBoilerplateAttributes = false
        var boilerplateClasses: Set<String> = []
    }

    /// Readable text of the tree and the text of the first element named `titleElement`.
    /// - Throws: ``DocumentReadError`` when elements nest deeper than `maximumNesting`.
    func text(rules: Rules, titleElements: [String], maximumNesting: Int, file: String) throws -> (text: String, title: String?) {
        var output = TextAccumulator()
        var preDepth = 0
        var depth = 1  // of `node`, the root being 1
        var titles: [String: String] = [:]
        guard let root = xmlDocGetRootElement(document) else { return ("", nil) }

        var node: xmlNodePtr? = root
        var titleCapture: (name: String, text: TextAccumulator, node: xmlNodePtr)? = nil
        while let current = node {
            var descend = false
            switch current.pointee.type {
            case XML_ELEMENT_NODE:
                let name = MarkupTree.localName(current)
                if rules.skipped.contains(name)
                    || (rules.checksBoilerplateAttributes && MarkupTree.isBoilerplate(current, classes: rules.boilerplateClasses)) {
                    break
                }
                if titleCapture == nil, titles[name] == nil, titleElements.contains(name) {
                    titleCapture = (name, TextAccumulator(), current)
                }
                open(name, rules: rules, into: &output, preDepth: &preDepth)
                descend = current.pointee.children != nil
                if !descend { close(name, rules: rules, into: &output, preDepth: &preDepth) }
            case XML_TEXT_NODE, XML_CDATA_SECTION_NODE:
                if let content = current.pointee.content {
                    let piece = String(cString: content)
                    titleCapture?.text.append(piece)
                    // A page <title> is metadata, not body text.
                    let titleOnly = titleCapture.map { rules.titleOnly.contains($0.name) } ?? false
                    if !titleOnly {
                        if preDepth > 0 { output.appendVerbatim(piece) } else { output.append(piece) }
                    }
                }
            default:
                break  // comments, processing instructions, entity references (never expanded)
            }
            if descend {
                depth += 1
                guard depth <= maximumNesting else {
                    throw DocumentReadError(file: file, line: Int(xmlGetLineNo(current)) > 0 ? Int(xmlGetLineNo(current)) : nil,
                                            reason: "elements nest more than \(maximumNesting) deep")
                }
                node = current.pointee.children
                continue
            }
            // Leave finished elements until one has a next sibling.
            var climb = current
            node = nil
            while true {
                if let capture = titleCapture, capture.node == climb {
                    titles[capture.name] = capture.text.text
                    titleCapture = nil
                }
                if let next = climb.pointee.next {
                    node = next
                    break
                }
                // Never climb above the root element (its siblings are comments or DTD nodes).
                guard climb != root, let parent = climb.pointee.parent,
                      parent.pointee.type == XML_ELEMENT_NODE else { break }
                climb = parent
                depth -= 1
                close(MarkupTree.localName(parent), rules: rules, into: &output, preDepth: &preDepth)
                if parent == root { break }
            }
            if climb == root { break }
        }
        let title = titleElements.lazy.compactMap { titles[$0] }.first { !$0.isEmpty }
        return (output.text, title)
    }

    private func open(_ name: String, rules: Rules, into output: inout TextAccumulator, preDepth: inout Int) {
        if rules.preformatted.contains(name) { preDepth += 1 }
        if rules.blocks.contains(name) { output.paragraphBreak() }
        else if rules.lines.contains(name) { output.lineBreak() }
    }

    private func close(_ name: String, rules: Rules, into output: inout TextAccumulator, preDepth: inout Int) {
        if rules.preformatted.contains(name) { preDepth = max(0, preDepth - 1) }
        if rules.blocks.contains(name) { output.paragraphBreak() }
        else if rules.lines.contains(name) || rules.otherElementsEndLines { output.lineBreak() }
    }

    static func localName(_ node: xmlNodePtr) -> String {
        guard let name = node.pointee.name else { return "" }
        return String(cString: name).lowercased()
    }

    /// `role="navigation"`, `aria-hidden="true"` or a boilerplate class or id (`footer`, `sidebar`,
    /// ...) mark boilerplate as clearly as `<nav>` does.
    static func isBoilerplate(_ node: xmlNodePtr, classes: Set<String>) -> Bool {
        guard node.pointee.properties != nil else { return false }
        func attribute(_ name: String) -> String? {
            guard let value = xmlGetProp(node, name) else { return nil }
            defer { dera_xml_free(value) }
            return String(cString: value).lowercased()
        }
        let role = attribute("role")
        if role == "navigation" || role == "banner" || role == "contentinfo" || attribute("aria-hidden") == "true" {
            return true
        }
        guard !classes.isEmpty else { return false }
        let tokens = (attribute("class") ?? "").split(whereSeparator: \.isWhitespace) + [Substring(attribute("id") ?? "")]
        return tokens.contains { classes.contains(String($0)) }
    }
}
