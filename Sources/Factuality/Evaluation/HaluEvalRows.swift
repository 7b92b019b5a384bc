import Foundation

/// One HaluEval row as two binary examples: the same source text with a faithful and a hallucinated output.
public struct HaluEvalRow: Sendable, Hashable {
    /// Zero-based line number in the file.
    public var index: Int
    /// The knowledge (QA) or the document (summarization).
    public var source: String
    /// The question (QA only).
    public var question: String?
    public var faithful: String
    public var hallucinated: String
}

/// The HaluEval tasks the checker is evaluated on, and how their rows are read.
public enum HaluEvalTask: String, Sendable, CaseIterable, Codable {
    case qa
    case summarization

    /// The file corpora/fetch.sh puts the task's rows in.
    public var defaultPath: String { "data/halueval/dataset_halueval_\(rawValue).jsonl" }

    var fields: (source: String, question: String?, faithful: String, hallucinated: String) {
        switch self {
        case .qa: return ("knowledge", "question", "right_answer", "hallucinated_answer")
        case .summarization: return ("document", nil, "right_summary", "hallucinated_summary")
        }
    }

    /// Reads the rows whose zero-based line numbers fall in `rows` (all rows when nil).
    /// - Throws: ``HaluEvalError`` naming the file and the line of a missing file, bad JSON or a missing field.
    public func load(path: String, rows: Range<Int>? = nil) throws -> [HaluEvalRow] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw HaluEvalError(path: path, line: nil,
                                reason: "cannot read the file (fetch it with corpora/fetch.sh)")
        }
        var result: [HaluEvalRow] = []
        var lineNumber = 0
        var start = data.startIndex
        let newline = UInt8(ascii: "\n")
        while start < data.endIndex {
            let end = data[start...].firstIndex(of: newline) ?? data.endIndex
            defer { start = end < data.endIndex ? end + 1 : end; lineNumber += 1 }
            if let rows, lineNumber >= rows.upperBound { break }
            if let rows, !rows.contains(lineNumber) { continue }
            let line = data[start..<end]
            if line.allSatisfy({ $0 == 32 || $0 == 13 || $0 == 9 }) { continue }
            result.append(try row(line, number: lineNumber, path: path))
        }
        if let rows, result.count < rows.count {
            throw HaluEvalError(path: path, line: nil,
                                reason: "asked for rows \(rows.lowerBound)..<\(rows.upperBound), the file has \(lineNumber) lines")
        }
        return result
    }

    private func row(_ line: Data, number: Int, path: String) throws -> HaluEvalRow {
        let object: [String: Any]
        do {
            guard let parsed = try JSONSerialization.jsonObject(with: line) as? [String: Any] else {
                throw HaluEvalError(path: path, line: number + 1, reason: "not a JSON object")
            }
            object = parsed
        } catch let error as HaluEvalError {
            throw error
        } catch {
            throw HaluEvalError(path: path, line: number + 1, reason: "invalid JSON")
        }
        func field(_ name: String) throws -> String {
            guard let value = object[name] as? String else {
                throw HaluEvalError(path: path, line: number + 1, reason: "no string field '\(name)'")
            }
            return value
        }
        let f = fields
        return HaluEvalRow(index: number, source: try field(f.source), question: try f.question.map(field),
                           faithful: try field(f.faithful), hallucinated: try field(f.hallucinated))
    }
}

/// A HaluEval file that cannot be read, with the file and (1-based) line.
public struct HaluEvalError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var line: Int?
    public var reason: String

    public var description: String { "\(path)\(line.map { ":\($0)" } ?? ""): \(reason)" }
}
