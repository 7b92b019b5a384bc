import Foundation

/// Errors of the pipelines, naming the file or value at fault.
public enum PipelineError: Error, Equatable, CustomStringConvertible {
    case noChatTemplate(model: String)
    case badRow(path: String, line: Int, reason: String)
    case autoNeedsChecker
    case missingFile(path: String, hint: String)
    case samplesNeedOneLambda

    public var description: String {
        switch self {
        case let .noChatTemplate(model): "\(model) has no chat template; grounded answering needs a chat model"
        case let .badRow(path, line, reason): "\(path):\(line): \(reason)"
        case let .missingFile(path, hint): "not found: \(path) (\(hint))"
        case .samplesNeedOneLambda: "sampling several answers needs one fixed lambda (or the model alone), not auto"
        case .autoNeedsChecker: "lambda auto chooses among candidates with the checker; give the answerer a self-check"
        }
    }
}
