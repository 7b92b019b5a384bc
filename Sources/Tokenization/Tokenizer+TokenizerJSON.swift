import Foundation

extension Tokenizer {
    /// Reads a Hugging Face `tokenizer.json` holding a byte-level BPE model, mapping it to the same representation as
    /// a GGUF tokenizer: `model.vocab`, `model.merges` (`"a b"` strings or `["a", "b"]` pairs), `added_tokens`
    /// (`special: true` become control tokens, others user-defined) and a `pre_tokenizer` made of `Split` regexes
    /// dera implements, `Digits` and `ByteLevel`. BOS / EOS and `add_bos_token` come from a `tokenizer_config.json`
    /// beside it when there is one.
    public init(tokenizerJSONPath path: String) throws {
        let root = try Self.readJSONObject(path)
        guard let model = root["model"] as? [String: Any] else {
            throw TokenizerError.missingField(path: path, field: "model")
        }
        let type = model["type"] as? String ?? "BPE"
        guard type == "BPE" else { throw TokenizerError.unsupportedModel(path: path, model: type) }
        guard let vocab = model["vocab"] as? [String: Any] else {
            throw TokenizerError.missingField(path: path, field: "model.vocab")
        }

        var entries: [Int: (String, TokenAttributes)] = [:]
        for (text, value) in vocab {
            guard let id = (value as? NSNumber)?.intValue, id >= 0 else {
                throw TokenizerError.invalidField(path: path, field: "model.vocab", reason: "'\(text)' has no id")
            }
            if let other = entries[id] {
                throw TokenizerError.duplicateToken(path: path, text: "\(other.0)' and '\(text)", firstID: id,
                                                    secondID: id)
            }
            entries[id] = (text, .normal)
        }
        for (index, item) in (root["added_tokens"] as? [[String: Any]] ?? []).enumerated() {
            guard let id = (item["id"] as? NSNumber)?.intValue, id >= 0, let content = item["content"] as? String else {
                throw TokenizerError.invalidField(path: path, field: "added_tokens[\(index)]",
                                                  reason: "needs an id and a content")
            }
            let special = (item["special"] as? NSNumber)?.boolValue ?? false
            entries[id] = (content, special ? .control : .userDefined)
        }
        let count = (entries.keys.max() ?? -1) + 1
        var texts: [String] = []
        var attributes: [TokenAttributes] = []
        texts.reserveCapacity(count)
        attributes.reserveCapacity(count)
        for id in 0..<count {
            let entry = entries[id] ?? ("[PAD\(id)]", .unused)
            texts.append(entry.0)
            attributes.append(entry.1)
        }

        var merges: [(String, String)] = []
        for (index, item) in (model["merges"] as? [Any] ?? []).enumerated() {
            if let pair = item as? [String], pair.count == 2 {
                merges.append((pair[0], pair[1]))
            } else if let text = item as? String, let space = text.dropFirst().firstIndex(of: " ") {
                merges.append((String(text[..<space]), String(text[text.index(after: space)...])))
            } else {
                throw TokenizerError.malformedMerge(path: path, index: index, merge: "\(item)")
            }
        }

        let ignoresMerges = (model["ignore_merges"] as? NSNumber)?.boolValue ?? false
        let preTokenizer = try Self.preTokenizer(root["pre_tokenizer"], path: path, ignoresMerges: ignoresMerges)

        var specials = DeclaredSpecialTokens()
        var addBOS: Bool?
        var addEOS: Bool?
        let configPath = URL(fileURLWithPath: path).deletingLastPathComponent()
            .appendingPathComponent("tokenizer_config.json").path
        if FileManager.default.fileExists(atPath: configPath) {
            let config = try Self.readJSONObject(configPath)
            func tokenID(_ key: String) throws -> Int? {
                let value = config[key]
                guard let text = value as? String ?? (value as? [String: Any])?["content"] as? String else { return nil }
                guard let id = texts.firstIndex(of: text) else {
                    throw TokenizerError.invalidField(path: configPath, field: key,
                                                      reason: "'\(text)' is not in the vocabulary")
                }
                return id
            }
            specials.bos = try tokenID("bos_token")
            specials.eos = try tokenID("eos_token")
            addBOS = (config["add_bos_token"] as? NSNumber)?.boolValue
            addEOS = (config["add_eos_token"] as? NSNumber)?.boolValue
        }
        try self.init(path: path, texts: texts, attributes: attributes, merges: merges, rawMerges: nil,
                      preTokenizer: preTokenizer, specials: specials, addBOS: addBOS, addEOS: addEOS)
    }

    private static func readJSONObject(_ path: String) throws -> [String: Any] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw TokenizerError.invalidField(path: path, field: "file", reason: "cannot read: \(error.localizedDescription)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TokenizerError.invalidField(path: path, field: "file", reason: "not a JSON object")
        }
        return object
    }

    /// Split regexes of tokenizer.json files that dera implements by hand.
    static let knownSplitPatterns: [String: SplitRule] = [
        #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"#: .gpt2,
        #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#: .gpt2,
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#:
            .llama3(maxDigits: 3, marksJoinLetters: false),
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#:
            .llama3(maxDigits: 1, marksJoinLetters: false),
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#:
            .llama3(maxDigits: 1, marksJoinLetters: true),
    ]

    /// Maps a tokenizer.json `pre_tokenizer` to split rules.
    static func preTokenizer(_ value: Any?, path: String, ignoresMerges: Bool) throws -> PreTokenizer {
        var rules: [SplitRule] = []
        var names: [String] = []
        func add(_ node: [String: Any]) throws {
            let type = node["type"] as? String ?? "?"
            switch type {
            case "Sequence":
                for child in node["pretokenizers"] as? [[String: Any]] ?? [] { try add(child) }
            case "Split":
                let pattern = (node["pattern"] as? [String: Any])?["Regex"] as? String
                    ?? (node["pattern"] as? [String: Any])?["String"] as? String ?? ""
                guard let rule = knownSplitPatterns[pattern] else {
                    throw TokenizerError.unknownPreTokenizer(path: path, name: "Split \(pattern)")
                }
                rules.append(rule)
                names.append("Split")
            case "Digits":
                let individual = (node["individual_digits"] as? NSNumber)?.boolValue ?? false
                rules.append(individual ? .each(.number) : .runs(.number))
                names.append("Digits")
            case "ByteLevel":
                if (node["use_regex"] as? NSNumber)?.boolValue ?? true { rules.append(.gpt2) }
                names.append("ByteLevel")
            default:
                throw TokenizerError.unknownPreTokenizer(path: path, name: type)
            }
        }
        guard let node = value as? [String: Any] else {
            throw TokenizerError.missingField(path: path, field: "pre_tokenizer")
        }
        try add(node)
        return PreTokenizer(name: "tokenizer.json " + names.joined(separator: "+"), rules: rules,
                            ignoresMerges: ignoresMerges)
    }
}
