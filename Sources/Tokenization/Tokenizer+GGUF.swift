import Formats

extension Tokenizer {
    /// Reads the tokenizer a GGUF file carries (`tokenizer.ggml.*`), as llama.cpp would.
    ///
    /// - Throws: `TokenizerError` naming the file and field when the tokenizer is not byte-level BPE (`gpt2`), the
    ///   pre-tokenizer is unknown, per-token arrays and the token list disagree, a merge names an unknown piece, or a
    ///   special token id is out of range; `FormatError` when a field has the wrong type.
    public init(gguf file: GGUFFile) throws {
        let path = file.path
        guard let model = file.string("tokenizer.ggml.model") else {
            throw TokenizerError.missingField(path: path, field: "tokenizer.ggml.model")
        }
        guard model == "gpt2" else { throw TokenizerError.unsupportedModel(path: path, model: model) }
        guard let texts = try file.strings("tokenizer.ggml.tokens") else {
            throw TokenizerError.missingField(path: path, field: "tokenizer.ggml.tokens")
        }
        var attributes = [TokenAttributes](repeating: .normal, count: texts.count)
        if let types = try file.numbers("tokenizer.ggml.token_type") {
            guard types.count == texts.count else {
                throw TokenizerError.countMismatch(path: path, field: "tokenizer.ggml.token_type", count: types.count,
                                                   expected: texts.count)
            }
            attributes = try types.enumerated().map { index, type in
                // A float array holding NaN or 1e30 would trap in Int(_:).
                guard let whole = Int(exactly: type) else {
                    throw TokenizerError.invalidField(path: path, field: "tokenizer.ggml.token_type",
                                                      reason: "entry \(index) is \(type), not an integer token type")
                }
                return TokenAttributes(ggufTokenType: whole)
            }
        }
        if let scores = try file.numbers("tokenizer.ggml.scores"), scores.count != texts.count {
            throw TokenizerError.countMismatch(path: path, field: "tokenizer.ggml.scores", count: scores.count,
                                               expected: texts.count)
        }
        guard let rawMerges = try file.strings("tokenizer.ggml.merges") else {
            throw TokenizerError.missingField(path: path, field: "tokenizer.ggml.merges")
        }
        var merges: [(String, String)] = []
        merges.reserveCapacity(rawMerges.count)
        for (index, merge) in rawMerges.enumerated() {
            // llama.cpp splits at the first space after the first byte.
            let utf8 = merge.utf8
            guard let space = utf8.dropFirst().firstIndex(of: 0x20) else {
                throw TokenizerError.malformedMerge(path: path, index: index, merge: merge)
            }
            merges.append((String(merge[..<space]), String(merge[merge.index(after: space)...])))
        }
        let preName = file.string("tokenizer.ggml.pre") ?? "default"
        guard let preTokenizer = PreTokenizer(name: preName) else {
            throw TokenizerError.unknownPreTokenizer(path: path, name: preName)
        }

        func specialID(_ key: String, default fallback: Int? = nil) throws -> Int? {
            guard let value = file.metadata[key] else {
                return fallback.flatMap { $0 < texts.count ? $0 : nil }
            }
            guard let id = value.intValue else {
                throw TokenizerError.invalidField(path: path, field: key, reason: "expected an integer token id")
            }
            guard id >= 0, id < texts.count else {
                throw TokenizerError.specialTokenOutOfRange(path: path, field: key, id: id,
                                                            vocabularySize: texts.count)
            }
            return id
        }
        // llama.cpp's defaults for BPE vocabularies are 11 for both BOS and EOS.
        let specials = DeclaredSpecialTokens(
            bos: try specialID("tokenizer.ggml.bos_token_id", default: 11),
            eos: try specialID("tokenizer.ggml.eos_token_id", default: 11),
            eot: try specialID("tokenizer.ggml.eot_token_id"),
            eom: try specialID("tokenizer.ggml.eom_token_id"),
            fimPad: try specialID("tokenizer.ggml.fim_pad_token_id"),
            fimRep: try specialID("tokenizer.ggml.fim_rep_token_id"),
            fimSep: try specialID("tokenizer.ggml.fim_sep_token_id"))
        try self.init(path: path, texts: texts, attributes: attributes, merges: merges, rawMerges: rawMerges,
                      preTokenizer: preTokenizer, specials: specials,
                      addBOS: file.bool("tokenizer.ggml.add_bos_token"),
                      addEOS: file.bool("tokenizer.ggml.add_eos_token"))
    }
}
