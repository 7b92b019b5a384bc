import Foundation

/// One row of a retrieval benchmark: a document text, and a question whose answer is in that text.
public struct EvaluationCase: Sendable, Hashable {
    /// The document the question should retrieve.
    public var text: String
    /// Optional title indexed with the text.
    public var title: String
    /// The question asked of the index.
    public var question: String

    public init(text: String, title: String = "", question: String) {
        self.text = text
        self.title = title
        self.question = question
    }

    /// Loads cases from JSONL where `textField` holds the document and `questionField` the question
    /// (HaluEval QA: `knowledge` and `question`). Rows whose question is empty are kept but never
    /// sampled as queries.
    /// - Throws: ``DocumentReadError`` naming the file, line and field.
    public static func load(jsonl path: String, textField: String = "knowledge", questionField: String = "question",
                            titleField: String? = nil) throws -> [EvaluationCase] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw DocumentReadError(file: path, reason: "cannot read: \(error.localizedDescription)")
        }
        let reader = JSONLReader(textField: textField, titleField: titleField ?? "\u{0}no title field")
        let documents = try reader.documents(in: data, source: path)
        return try documents.enumerated().map { index, document in
            guard let question = document.metadata[questionField] else {
                throw DocumentReadError(file: path, line: nil, field: questionField,
                                        reason: "row \(index + 1) has no question field")
            }
            return EvaluationCase(text: document.text, title: document.title, question: question)
        }
    }
}

