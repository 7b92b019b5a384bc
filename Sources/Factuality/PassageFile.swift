import Foundation

/// Reads the passages `dera check --passages FILE` takes.
///
/// Two forms: JSON Lines, one object per line with a string `text` and an optional `id` (string or number),
/// when the file's first non-blank character is `{`; otherwise plain text, one passage per block of lines
/// separated by a blank line. Passages without an id are numbered from 1 in file order.
public enum PassageFile {
    public static func load(_ path: String) throws -> [Passage] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PassageFileError(path: path, line: nil, reason: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PassageFileError(path: path, line: nil, reason: "not UTF-8 text")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws -> [Passage] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        let firstContent = text.first { !$0.isWhitespace }
        var passages: [Passage] = []
        if firstContent == "{" {
            for (number, line) in lines.enumerated() where !line.allSatisfy(\.isWhitespace) {
                let where_ = number + 1
                guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
                    throw PassageFileError(path: path, line: where_, reason: "not a JSON object")
                }
                guard let text = object["text"] as? String else {
                    throw PassageFileError(path: path, line: where_, reason: "no string field 'text'")
                }
                let id: String
                switch object["id"] {
                case nil: id = "\(passages.count + 1)"
                case let value as String: id = value
                case let value as NSNumber: id = value.stringValue
                default: throw PassageFileError(path: path, line: where_, reason: "'id' must be a string or a number")
                }
                passages.append(Passage(id: id, text: text))
            }
        } else {
            var block: [Substring] = []
            func flush() {
                let text = block.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
                if !text.isEmpty { passages.append(Passage(id: "\(passages.count + 1)", text: text)) }
                block = []
            }
            for line in lines {
                if line.allSatisfy(\.isWhitespace) { flush() } else { block.append(line) }
            }
            flush()
        }
        guard !passages.isEmpty else { throw PassageFileError(path: path, line: nil, reason: "no passages in the file") }
        return passages
    }
}

/// A passages file that cannot be read, naming the file and (1-based) line.
public struct PassageFileError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var line: Int?
    public var reason: String

    public var description: String { "\(path)\(line.map { ":\($0)" } ?? ""): \(reason)" }
}

/// A range of zero-based row numbers written `A..B` (both ends included) or `A..<B`.
public struct RowRange: Sendable, Hashable, CustomStringConvertible {
    public var rows: Range<Int>

    public init(_ rows: Range<Int>) { self.rows = rows }

    public init?(parsing text: String) {
        let halfOpen = text.contains("..<")
        let parts = text.components(separatedBy: halfOpen ? "..<" : "..")
        guard parts.count == 2, let a = Int(parts[0]), let b = Int(parts[1]), a >= 0 else { return nil }
        let upper = halfOpen ? b : b + 1
        guard upper > a else { return nil }
        rows = a..<upper
    }

    public var description: String { "\(rows.lowerBound)..\(rows.upperBound - 1)" }
}
