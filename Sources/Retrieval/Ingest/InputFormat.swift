/// The kinds of input file ingestion understands, chosen by file extension.
public enum InputFormat: String, Sendable, CaseIterable {
    case text, markdown, html, xml, jsonl

    /// The format for a file extension (case-insensitive), or `nil` when the extension is unknown.
    public init?(extension fileExtension: String) {
        switch fileExtension.lowercased() {
        case "txt", "text": self = .text
        case "md", "markdown", "mdown", "mkd": self = .markdown
        case "html", "htm", "xhtml": self = .html
        case "xml": self = .xml
        case "jsonl", "ndjson": self = .jsonl
        default: return nil
        }
    }

    func reader(options: IngestOptions) -> any DocumentReader {
        switch self {
        case .text: PlainTextReader()
        case .markdown: MarkdownReader()
        case .html: HTMLReader(limits: options.limits)
        case .xml: XMLReader(limits: options.limits)
        case .jsonl: options.jsonl
        }
    }
}
