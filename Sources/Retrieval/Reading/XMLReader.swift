import Foundation

/// Reads XML with libxml2: all text and CDATA content, one element per line, paragraph breaks around
/// common block elements. External entities and DTDs are never loaded (no `NOENT`, `NONET`), so a
/// hostile file cannot reach the network or expand entities. The encoding comes from the XML
/// declaration or byte-order mark; undeclared bytes that are not valid UTF-8 are read as Windows-1252.
/// The title is the first `<title>` element (any namespace), else the file name.
public struct XMLReader: DocumentReader {
    /// Attribute and nesting caps (see ``ReadLimits``).
    public var limits: ReadLimits

    public init(limits: ReadLimits = ReadLimits()) { self.limits = limits }

    static let rules = MarkupTree.Rules(
        skipped: ["script", "style"],
        blocks: ["p", "para", "section", "sect1", "sect2", "chapter", "article", "abstract", "div",
                 "entry", "item", "record", "page", "doc", "document"],
        lines: [],
        titleOnly: [],
        otherElementsEndLines: true)

    public func documents(in data: Data, source: String) throws -> [ExtractedDocument] {
        if data.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
            return [ExtractedDocument(source: source, title: Self.fallbackTitle(for: source), text: "")]
        }
        let tree = try MarkupTree.xml(data, encoding: XMLReader.encoding(of: data), file: source, limits: limits)
        guard tree.hasRoot else {
            let detail = MarkupTree.lastErrorDescription() ?? "no element found"
            throw DocumentReadError(file: source, reason: "not XML: \(detail)")
        }
        let (text, title) = try tree.text(rules: XMLReader.rules, titleElements: ["title"],
                                          maximumNesting: limits.maximumNesting, file: source)
        return [ExtractedDocument(source: source, title: title ?? Self.fallbackTitle(for: source), text: text)]
    }

    /// `nil` (let libxml2 follow the declaration or BOM) unless the bytes are undeclared non-UTF-8.
    static func encoding(of data: Data) -> String? {
        let head = data.prefix(200)
        if let declaration = String(data: head, encoding: .isoLatin1),
           declaration.hasPrefix("<?xml"), let end = declaration.range(of: "?>"),
           declaration[..<end.lowerBound].contains("encoding") {
            return nil
        }
        let bytes = [UInt8](data.prefix(4))
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) || bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF]) {
            return nil
        }
        return String(validating: data, as: UTF8.self) != nil ? nil : "windows-1252"
    }
}
