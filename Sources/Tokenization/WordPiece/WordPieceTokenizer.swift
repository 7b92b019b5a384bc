import Foundation

/// A BERT WordPiece tokenizer read from a Hugging Face `tokenizer.json` (`model.type` "WordPiece"), giving the
/// same ids as the `tokenizers` library: ``BertNormalizer``, ``BertPreTokenizer``, then greedy longest-match-first
/// word pieces (`##` marks a piece that continues a word; a word with no split into known pieces, or longer
/// than `max_input_chars_per_word` code points, becomes `[UNK]`), framed as `[CLS] ... [SEP]`.
///
/// ```swift
/// let tokenizer = try WordPieceTokenizer(tokenizerJSONPath: "models/all-MiniLM-L6-v2/tokenizer.json")
/// tokenizer.encode("Hello, world!")  // [101, 7592, 1010, 2088, 999, 102]
/// ```
public struct WordPieceTokenizer: Sendable {
    /// Token text by id.
    public let texts: [String]
    let ids: [String: Int32]
    public let normalizer: BertNormalizer
    public let continuingPrefix: String
    public let maximumCharactersPerWord: Int
    public let unknownID: Int
    public let classID: Int
    public let separatorID: Int
    public let paddingID: Int

    public var vocabularySize: Int { texts.count }

    public init(tokenizerJSONPath path: String) throws {
        let root = try Tokenizer.readJSON(path)
        guard let model = root["model"], model.object != nil else {
            throw TokenizerError.missingField(path: path, field: "model")
        }
        let type = model["type"]?.string ?? "?"
        guard type == "WordPiece" else { throw TokenizerError.unsupportedModel(path: path, model: type) }
        guard let vocab = model["vocab"]?.object, !vocab.isEmpty else {
            throw TokenizerError.missingField(path: path, field: "model.vocab")
        }
        var entries: [Int: String] = [:]
        for (text, value) in vocab {
            guard let id = value.int, id >= 0, id < 10_000_000 else {
                throw TokenizerError.invalidField(path: path, field: "model.vocab", reason: "'\(text)' has no valid id")
            }
            if let other = entries[id] {
                throw TokenizerError.duplicateToken(path: path, text: "\(other)' and '\(text)", firstID: id, secondID: id)
            }
            entries[id] = text
        }
        let count = (entries.keys.max() ?? -1) + 1
        guard count == entries.count else {
            throw TokenizerError.invalidField(path: path, field: "model.vocab",
                                              reason: "ids are not 0..<\(entries.count) (largest is \(count - 1))")
        }
        texts = (0..<count).map { entries[$0]! }
        var ids: [String: Int32] = [:]
        ids.reserveCapacity(count)
        for (id, text) in texts.enumerated() { ids[text] = Int32(id) }
        self.ids = ids

        continuingPrefix = model["continuing_subword_prefix"]?.string ?? "##"
        maximumCharactersPerWord = model["max_input_chars_per_word"]?.int ?? 100
        func special(_ text: String, field: String) throws -> Int {
            guard let id = ids[text] else {
                throw TokenizerError.invalidField(path: path, field: field, reason: "'\(text)' is not in the vocabulary")
            }
            return Int(id)
        }
        unknownID = try special(model["unk_token"]?.string ?? "[UNK]", field: "model.unk_token")
        classID = try special("[CLS]", field: "post_processor")
        separatorID = try special("[SEP]", field: "post_processor")
        paddingID = try special("[PAD]", field: "padding")

        let normalizer = root["normalizer"]
        switch normalizer?["type"]?.string {
        case "BertNormalizer":
            let lowercase = normalizer?["lowercase"]?.bool ?? true
            self.normalizer = BertNormalizer(
                cleanText: normalizer?["clean_text"]?.bool ?? true,
                handleChineseCharacters: normalizer?["handle_chinese_chars"]?.bool ?? true,
                stripAccents: normalizer?["strip_accents"]?.bool, lowercase: lowercase)
        case let other:
            throw TokenizerError.invalidField(path: path, field: "normalizer",
                                              reason: "'\(other ?? "none")' (only BertNormalizer is supported)")
        }
        let pre = root["pre_tokenizer"]?["type"]?.string
        guard pre == "BertPreTokenizer" else {
            throw TokenizerError.unknownPreTokenizer(path: path, name: pre ?? "none")
        }
    }

    /// The word-piece ids of `text` without `[CLS]`/`[SEP]`.
    public func pieces(_ text: String) -> [Int] {
        var output: [Int] = []
        for word in BertPreTokenizer.words(in: normalizer.normalize(text)) {
            appendPieces(of: word, to: &output)
        }
        return output
    }

    /// `[CLS] pieces [SEP]`, the pieces cut so that the whole is at most `maximumLength` tokens (sentence-transformers
    /// truncates all-MiniLM-L6-v2 input at 256; the position table allows 512).
    public func encode(_ text: String, maximumLength: Int = 256) -> [Int] {
        var pieces = pieces(text)
        let room = max(0, maximumLength - 2)
        if pieces.count > room { pieces.removeLast(pieces.count - room) }
        return [classID] + pieces + [separatorID]
    }

    /// The text of a token id (empty outside the vocabulary).
    public func tokenText(_ id: Int) -> String { texts.indices.contains(id) ? texts[id] : "" }

    func appendPieces(of word: [Unicode.Scalar], to output: inout [Int]) {
        guard word.count <= maximumCharactersPerWord else { output.append(unknownID); return }
        let start = output.count
        var begin = 0
        while begin < word.count {
            var end = word.count
            var found: Int32?
            while begin < end {
                var candidate = begin > 0 ? continuingPrefix : ""
                candidate.unicodeScalars.append(contentsOf: word[begin..<end])
                if let id = ids[candidate] { found = id; break }
                end -= 1
            }
            guard let found else {
                output.removeLast(output.count - start)
                output.append(unknownID)
                return
            }
            output.append(Int(found))
            begin = end
        }
    }
}
