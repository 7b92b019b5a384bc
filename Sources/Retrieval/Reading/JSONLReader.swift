import Foundation

/// Reads JSON Lines: each non-blank line is one JSON object and becomes one document.
///
/// `textField` holds the text (required on every row), `titleField` the title (optional), and
/// `idField`, when given and present, the key that makes the row's source `path#id`; otherwise the
/// source is `path#L<line>`. Every other field becomes string metadata (numbers and booleans as
/// written, arrays and objects as JSON). Errors name the file, the 1-based line and the field.
public struct JSONLReader: DocumentReader, Hashable {
    public var textField: String
    public var titleField: String
    public var idField: String?

    public init(textField: String = "text", titleField: String = "title", idField: String? = nil) {
        self.textField = textField
        self.titleField = titleField
        self.idField = idField
    }

    public func documents(in data: Data, source: String) throws -> [ExtractedDocument] {
        try documents(in: data, source: source, invalidRow: { throw $0 })
    }

    /// Reads every usable row; each unusable one is handed to `invalidRow` (which may throw to stop)
    /// and skipped, so one bad line does not cost a whole corpus.
    public func documents(in data: Data, source: String,
                          invalidRow: (DocumentReadError) throws -> Void) rethrows -> [ExtractedDocument] {
        var documents: [ExtractedDocument] = []
        var seenSources = Set<String>()
        let decoder = JSONDecoder()
        var lineNumber = 0
        var lineStart = data.startIndex
        while lineStart < data.endIndex {
            lineNumber += 1
            let lineEnd = data[lineStart...].firstIndex(of: 0x0A) ?? data.endIndex
            let line = data[lineStart..<lineEnd]
            lineStart = lineEnd < data.endIndex ? data.index(after: lineEnd) : data.endIndex
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }

            guard var fields = try? decoder.decode([String: JSONValue].self, from: line) else {
                // Decoding as an object failed: say whether it is bad JSON or just not an object.
                let reason: String
                do {
                    _ = try decoder.decode(JSONValue.self, from: line)
                    reason = "expected a JSON object"
                } catch {
                    reason = "not valid JSON: \(JSONLReader.describe(error))"
                }
                try invalidRow(DocumentReadError(file: source, line: lineNumber, reason: reason))
                continue
            }
            guard let textValue = fields.removeValue(forKey: textField) else {
                let available = fields.keys.sorted().joined(separator: ", ")
                try invalidRow(DocumentReadError(file: source, line: lineNumber, field: textField,
                                                 reason: "missing text field (fields present: \(available.isEmpty ? "none" : available))"))
                continue
            }
            guard case .string(let text) = textValue else {
                try invalidRow(DocumentReadError(file: source, line: lineNumber, field: textField,
                                                 reason: "text field is not a string"))
                continue
            }
            // The id is looked up before the title is taken out: the id field may be the title field.
            var key = "L\(lineNumber)"
            if let idField, let idValue = fields[idField] { key = idValue.metadataText }
            var title = ""
            if let titleValue = fields.removeValue(forKey: titleField) { title = titleValue.metadataText }
            var rowSource = "\(source)#\(key)"
            if !seenSources.insert(rowSource).inserted {
                // Two rows with one id: keep both, told apart by line.
                rowSource = "\(source)#\(key)@L\(lineNumber)"
                seenSources.insert(rowSource)
            }
            let metadata = fields.mapValues(\.metadataText)
            documents.append(ExtractedDocument(source: rowSource, title: title, text: text, metadata: metadata))
        }
        return documents
    }

    static func describe(_ error: Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return underlying ?? context.debugDescription
        }
        return "\(error)"
    }
}
