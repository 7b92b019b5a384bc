import Foundation

/// Errors of the pipelines, naming the file or value at fault.
public enum PipelineError: Error, Equatable, CustomStringConvertible {
    case noChatTemplate(model: String)
    case badRow(path: String, line: Int, reason: String)
    case autoNeedsChecker
    case missingFile(path: String, hint: String)
    case samplesNeedOneLambda
    /// A document with no text to summarize.
    case emptyDocument(id: String)
    /// A document that needs more pieces than allowed to fit the context (0: even a small piece does not fit).
    case documentTooLong(id: String, pieces: Int, limit: Int)
    /// The partial summaries of a long document still did not fit the context after this many passes.
    case summariesDoNotFit(id: String, passes: Int)

    public var description: String {
        switch self {
        case let .noChatTemplate(model): "\(model) has no chat template; grounded answering needs a chat model"
        case let .badRow(path, line, reason): "\(path):\(line): \(reason)"
        case let .missingFile(path, hint): "not found: \(path) (\(hint))"
        case .samplesNeedOneLambda: "sampling several answers needs one fixed lambda (or the model alone), not auto"
        case let .emptyDocument(id): "\(id): the document has no text to summarize"
        case let .documentTooLong(id, pieces, limit):
            pieces == 0 ? "\(id): the document does not fit the context even cut into small pieces"
                : "\(id): the document is too long: \(pieces) pieces to fit the context, more than the limit of \(limit)"
        case let .summariesDoNotFit(id, passes):
            "\(id): the partial summaries still do not fit the context after \(passes) passes; raise --context-tokens or lower --max-tokens"
        case .autoNeedsChecker: "lambda auto chooses among candidates with the checker; give the answerer a self-check"
        }
    }
}
