/// Why an input could not be turned into text, naming the file and, where it applies, the line and field.
public struct DocumentReadError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The input file path.
    public var file: String
    /// 1-based line (JSONL row, or the XML parser's line), when known.
    public var line: Int?
    /// The JSON field involved, when there is one.
    public var field: String?
    /// What was wrong.
    public var reason: String

    public init(file: String, line: Int? = nil, field: String? = nil, reason: String) {
        self.file = file
        self.line = line
        self.field = field
        self.reason = reason
    }

    public var description: String {
        var place = file
        if let line { place += ":\(line)" }
        if let field { place += " (field \"\(field)\")" }
        return "\(place): \(reason)"
    }
}
