import Foundation

/// Reads HTML with libxml2's forgiving parser and keeps the readable text.
///
/// Boilerplate is dropped: `script`, `style`, `nav`, `noscript`, `template`, `svg`, `iframe`, `form`,
/// `aside`, `footer`, elements marked `role="navigation"`/`banner`/`contentinfo` or
/// `aria-hidden="true"`, and elements whose class or id is a common boilerplate name (`footer`,
/// `sidebar`, `navbar`, `breadcrumb`, `toc`, Sphinx `headerlink`, ...). `<pre>` keeps its line breaks
/// and indentation. Entities are decoded by the parser. The encoding comes from a byte-order mark
/// or `<meta charset>`/`http-equiv` declaration; without one, UTF-8 if the bytes are valid UTF-8,
/// else Windows-1252 (what browsers assume for undeclared Latin-1 pages).
/// The title is `<title>`, else the first `<h1>`, else the file name.
public struct HTMLReader: DocumentReader {
    /// Attribute, nesting and parse-work caps (see ``ReadLimits``).
    public var limits: ReadLimits

    public init(limits: ReadLimits = ReadLimits()) { self.limits = limits }

    static let rules = MarkupTree.Rules(
        skipped: ["script", "style", "nav", "noscript", "template", "svg", "math", "iframe", "object",
                  "embed", "form", "button", "select", "aside", "footer", "canvas"],
        blocks: ["p", "div", "section", "article", "main", "header", "h1", "h2", "h3", "h4", "h5", "h6",
                 "ul", "ol", "dl", "table", "blockquote", "pre", "hr", "figure", "figcaption", "address",
                 "details", "summary", "body", "fieldset", "caption"],
        lines: ["br", "li", "dt", "dd", "tr", "td", "th"],
        titleOnly: ["title"],
        otherElementsEndLines: false,
        preformatted: ["pre", "textarea"],
        checksBoilerplateAttributes: true,
        boilerplateClasses: ["footer", "site-footer", "sidebar", "sphinxsidebar", "navbar", "navbox",
                             "breadcrumb", "breadcrumbs", "skip-link", "headerlink", "mw-editsection",
                             "cookie-banner", "cookie-notice", "toc"])

    public func documents(in data: Data, source: String) throws -> [ExtractedDocument] {
        if data.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
            // libxml2 returns no document at all for empty input.
            return [ExtractedDocument(source: source, title: Self.fallbackTitle(for: source), text: "")]
        }
        let encoding = HTMLReader.encoding(of: data)
        let tree: MarkupTree
        do {
            tree = try MarkupTree.html(data, encoding: encoding, file: source, limits: limits)
        } catch where encoding != nil {
            // An encoding name libxml2 does not know: let it detect one instead.
            tree = try MarkupTree.html(data, encoding: nil, file: source, limits: limits)
        }
        let (text, title) = try tree.text(rules: HTMLReader.rules, titleElements: ["title", "h1"],
                                          maximumNesting: limits.maximumNesting, file: source)
        return [ExtractedDocument(source: source, title: title ?? Self.fallbackTitle(for: source), text: text)]
    }

    /// The encoding to hand libxml2: declared charset, else UTF-8 or Windows-1252 by validity.
    /// `nil` when a byte-order mark is present (libxml2 reads those itself).
    static func encoding(of data: Data) -> String? {
        let head = [UInt8](data.prefix(4))
        if head.starts(with: [0xEF, 0xBB, 0xBF]) || head.starts(with: [0xFF, 0xFE]) || head.starts(with: [0xFE, 0xFF]) {
            return nil
        }
        if let declared = declaredCharset(in: data.prefix(4096)) {
            // HTML5: the Latin-1 labels mean Windows-1252.
            let latin1Labels: Set<String> = ["iso-8859-1", "iso8859-1", "latin1", "l1", "us-ascii", "ascii", "cp819"]
            return latin1Labels.contains(declared) ? "windows-1252" : declared
        }
        return String(validating: data, as: UTF8.self) != nil ? "UTF-8" : "windows-1252"
    }

    /// The value after `charset=` in the first bytes, lowercased; only name characters are kept.
    static func declaredCharset(in head: Data) -> String? {
        let lowered = String(decoding: head.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
        guard let range = lowered.range(of: "charset") else { return nil }
        var rest = lowered[range.upperBound...].drop { $0 == " " }
        guard rest.first == "=" else { return nil }
        rest = rest.dropFirst().drop { $0 == " " || $0 == "\"" || $0 == "'" }
        let name = rest.prefix { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ":" || $0 == "." }
        return name.isEmpty ? nil : String(name)
    }
}
