/// Special token ids as a model file declares them (nil where it does not).
struct DeclaredSpecialTokens {
    var bos: Int?
    var eos: Int?
    var eot: Int?
    var eom: Int?
    var fimPad: Int?
    var fimRep: Int?
    var fimSep: Int?
}

extension Tokenizer {
    /// Texts llama.cpp treats as end-of-turn when the file names no EOT token.
    static let endOfTurnTexts: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
        "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>",
    ]
    /// Texts llama.cpp adds to the end-of-generation set (and makes control tokens).
    static let endOfGenerationTexts: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
        "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
        "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[",
    ]
    static let fimPadTexts: Set<String> = ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"]
    static let fimRepTexts: Set<String> = ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"]
    static let fimSepTexts: Set<String> = ["<|file_sep|>"]
    /// FIM prefix / suffix / middle texts: llama.cpp only makes them control tokens.
    static let otherFIMTexts: [Set<String>] = [
        ["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>",
         "<|prefix|>"],
        ["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>",
         "<|suffix|>"],
        ["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>",
         "<|middle|>"],
    ]

    /// Builds a tokenizer from what a GGUF file or a tokenizer.json declares, completing it the way llama.cpp's
    /// `llama_vocab::load` does: end-of-generation tokens found by text, control attributes forced on them,
    /// unused control tokens marked, and the special-token split order.
    init(path: String, texts: [String], attributes declared: [TokenAttributes], merges: [(String, String)],
         rawMerges: [String]?, preTokenizer: PreTokenizer, specials: DeclaredSpecialTokens,
         addBOS: Bool?, addEOS: Bool?) throws {
        var attributes = declared
        var specials = specials
        // Every text looked for below starts with one of these bytes ("▁" is E2 96 81); scanning only such tokens
        // keeps a 150k vocabulary quick to load.
        let markerTokens = texts.indices.filter { id in
            guard let first = texts[id].utf8.first, texts[id].utf8.count <= 32 else { return false }
            return first == UInt8(ascii: "<") || first == UInt8(ascii: "[") || first == UInt8(ascii: "_")
                || first == 0xE2
        }
        func firstID(in candidates: Set<String>) -> Int? {
            markerTokens.first { candidates.contains(texts[$0]) }
        }
        func makeControl(_ id: Int) { attributes[id].insert(.control) }

        if specials.eot == nil, let id = firstID(in: Self.endOfTurnTexts) { specials.eot = id; makeControl(id) }
        if specials.eom == nil, let id = firstID(in: ["<|eom_id|>"]) { specials.eom = id; makeControl(id) }
        for set in Self.otherFIMTexts { if let id = firstID(in: set) { makeControl(id) } }
        if specials.fimPad == nil, let id = firstID(in: Self.fimPadTexts) { specials.fimPad = id; makeControl(id) }
        if specials.fimRep == nil, let id = firstID(in: Self.fimRepTexts) { specials.fimRep = id; makeControl(id) }
        if specials.fimSep == nil, let id = firstID(in: Self.fimSepTexts) { specials.fimSep = id; makeControl(id) }
        for id in texts.indices where attributes[id].contains(.control) && texts[id].utf8.count >= 6
            && texts[id].contains("unused") {
            attributes[id].insert(.unused)
        }

        var endOfGeneration = Set([specials.fimPad, specials.fimRep, specials.fimSep].compactMap { $0 })
        for id in markerTokens where Self.endOfGenerationTexts.contains(texts[id]) {
            endOfGeneration.insert(id)
            makeControl(id)
        }
        for id in markerTokens
        where ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"].contains(texts[id]) {
            attributes[id] = .userDefined
        }
        for id in [specials.eos, specials.eot, specials.eom].compactMap({ $0 }) { endOfGeneration.insert(id) }
        // gpt-oss and solar-open: "<|end|>" ends a message, not generation, when "<|return|>" / "<|calls|>" exist.
        let eogTexts = Set(endOfGeneration.map { texts[$0] })
        if (eogTexts.contains("<|return|>") && eogTexts.contains("<|call|>") && eogTexts.contains("<|end|>"))
            || ((eogTexts.contains("<|call|>") || eogTexts.contains("<|calls|>")) && eogTexts.contains("<|flush|>")
                && eogTexts.contains("<|end|>")),
            let end = endOfGeneration.first(where: { texts[$0] == "<|end|>" }) {
            endOfGeneration.remove(end)
            attributes[end] = .userDefined
        }
        if eogTexts.contains("<|tool_response>") || eogTexts.contains("<|plamo:eos|>"),
           let end = endOfGeneration.first(where: { texts[$0] == "</s>" }) {
            endOfGeneration.remove(end)
            attributes[end] = .normal
        }

        let vocabulary = try Vocabulary(path: path, texts: texts, attributes: attributes)
        self.vocabulary = vocabulary
        self.model = try BytePairModel(path: path, vocabulary: vocabulary, merges: merges, rawMerges: rawMerges)
        self.preTokenizer = preTokenizer
        self.specialTokens = texts.indices
            .filter { !attributes[$0].isDisjoint(with: [.control, .userDefined, .unknown]) }
            .sorted { (texts[$0].utf8.count, $1) > (texts[$1].utf8.count, $0) }
            .map { Int32($0) }
        self.bosID = specials.bos
        self.eosID = specials.eos
        self.endOfGenerationIDs = endOfGeneration
        self.addsBOS = (addBOS ?? preTokenizer.addsBOSByDefault) && specials.bos != nil
        self.addsEOS = (addEOS ?? false) && specials.eos != nil
    }
}
