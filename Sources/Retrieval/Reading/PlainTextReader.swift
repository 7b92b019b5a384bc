import Foundation

/// Reads a plain text file: UTF-8 (with or without a byte-order mark), UTF-16 with a byte-order mark,
/// or Windows-1252 when the bytes are not valid UTF-8. The title is the file name.
public struct PlainTextReader: DocumentReader {
    public init() {}

    public func documents(in data: Data, source: String) throws -> [ExtractedDocument] {
        let text = PlainTextReader.decode(data)
        return [ExtractedDocument(source: source, title: Self.fallbackTitle(for: source),
                                  text: PlainTextReader.normaliseLineEnds(text))]
    }

    /// Decodes text bytes: BOM-marked UTF-16/UTF-8 first, then strict UTF-8, then Windows-1252.
    static func decode(_ data: Data) -> String {
        let bytes = [UInt8](data.prefix(3))
        if bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF]),
           let text = String(data: data, encoding: .utf16) {
            return text
        }
        let body = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? data.dropFirst(3) : data[...]
        if let text = String(validating: body, as: UTF8.self) { return text }
        return String(data: Data(body), encoding: .windowsCP1252)
            ?? String(decoding: body, as: UTF8.self)
    }

    static func normaliseLineEnds(_ text: String) -> String {
        guard text.contains("\r") else { return text }
        return text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
    }
}
