/// Errors raised while building a tokenizer or a chat template. Each names the file and the field that was wrong.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    /// A required field is absent.
    case missingField(path: String, field: String)
    /// A field is present but unusable.
    case invalidField(path: String, field: String, reason: String)
    /// `tokenizer.ggml.model` (or `model.type`) names a tokenizer family dera does not implement.
    case unsupportedModel(path: String, model: String)
    /// `tokenizer.ggml.pre` (or the pre_tokenizer of a tokenizer.json) is not one dera implements.
    case unknownPreTokenizer(path: String, name: String)
    /// Two vocabulary entries have the same text.
    case duplicateToken(path: String, text: String, firstID: Int, secondID: Int)
    /// A merge rule names a piece that is neither in the vocabulary nor produced by an earlier merge.
    case mergeNotInVocabulary(path: String, index: Int, merge: String, piece: String)
    /// A merge rule is not two pieces separated by one space.
    case malformedMerge(path: String, index: Int, merge: String)
    /// A per-token array does not have one entry per token.
    case countMismatch(path: String, field: String, count: Int, expected: Int)
    /// A special token id lies outside the vocabulary.
    case specialTokenOutOfRange(path: String, field: String, id: Int, vocabularySize: Int)
    /// A chat template that is not ChatML.
    case unsupportedChatTemplate(start: String)

    public var description: String {
        switch self {
        case let .missingField(path, field):
            "\(path): missing tokenizer field '\(field)'"
        case let .invalidField(path, field, reason):
            "\(path): invalid '\(field)': \(reason)"
        case let .unsupportedModel(path, model):
            "\(path): tokenizer model '\(model)' is not supported here (Tokenizer reads byte-level BPE, WordPieceTokenizer WordPiece)"
        case let .unknownPreTokenizer(path, name):
            "\(path): unknown pre-tokenizer '\(name)'"
        case let .duplicateToken(path, text, firstID, secondID):
            "\(path): tokens \(firstID) and \(secondID) have the same text '\(text)'"
        case let .mergeNotInVocabulary(path, index, merge, piece):
            "\(path): merge #\(index) '\(merge)' names '\(piece)', which is not in the vocabulary"
        case let .malformedMerge(path, index, merge):
            "\(path): merge #\(index) '\(merge)' is not two pieces separated by a space"
        case let .countMismatch(path, field, count, expected):
            "\(path): '\(field)' has \(count) entries, expected one per token (\(expected))"
        case let .specialTokenOutOfRange(path, field, id, vocabularySize):
            "\(path): '\(field)' = \(id) is outside the vocabulary of \(vocabularySize) tokens"
        case let .unsupportedChatTemplate(start):
            "unsupported chat template (only ChatML is recognised): \"\(start)\""
        }
    }
}
