import Foundation

extension Tokenizer {
    /// Reads a Hugging Face `tokenizer.json` holding a byte-level BPE model, mapping it to the same representation as
    /// a GGUF tokenizer: `model.vocab`, `model.merges` (`"a b"` strings or `["a", "b"]` pairs), `added_tokens`
    /// (`special: true` become control tokens, others user-defined) and a `pre_tokenizer` made of `Split` regexes
    /// dera implements, `Digits` and `ByteLevel`. BOS / EOS and `add_bos_token` come from a `tokenizer_config.json`
    /// beside it when there is one.
    public init(tokenizerJSONPath path: String) throws {
        let root = try Self.readJSON(path)
        guard let model = root["model"], model.object != nil else {
            throw TokenizerError.missingField(path: path, field: "model")
        }
        let type = model["type"]?.string ?? "BPE"
        guard type == "BPE" else { throw TokenizerError.unsupportedModel(path: path, model: type) }
        guard let vocab = model["vocab"]?.object else {
            throw TokenizerError.missingField(path: path, field: "model.vocab")
        }

        var entries: [Int: (String, TokenAttributes)] = [:]
        var largest = (id: -1, field: "model.vocab")
        for (text, value) in vocab {
            guard let id = value.int, id >= 0 else {
                throw TokenizerError.invalidField(path: path, field: "model.vocab", reason: "'\(text)' has no id")
            }
            if let other = entries[id] {
                throw TokenizerError.duplicateToken(path: path, text: "\(other.0)' and '\(text)", firstID: id,
                                                    secondID: id)
            }
            entries[id] = (text, .normal)
            if id > largest.id { largest = (id, "model.vocab") }
        }
        for (index, item) in (root["added_tokens"]?.array ?? []).enumerated() {
            guard let id = item["id"]?.int, id >= 0, let content = item["content"]?.string else {
                throw TokenizerError.invalidField(path: path, field: "added_tokens[\(index)]",
                                                  reason: "needs an id and a content")
            }
            let special = item["special"]?.bool ?? false
            entries[id] = (content, special ? .control : .userDefined)
            if id > largest.id { largest = (id, "added_tokens[\(index)]") }
        }
        // Ids no entry names become placeholder tokens. As many of them as there are real tokens (and 1024 more)
        // is generous for a real vocabulary; a 100-byte file naming id 3,000,000,000 must not allocate 48 GB.
        let count = largest.id + 1
        let allowedHoles = entries.count + 1024
        guard count - entries.count <= allowedHoles else {
            throw TokenizerError.invalidField(
                path: path, field: largest.field,
                reason: "id \(largest.id) would leave \(count - entries.count) of the ids below it unnamed, "
                    + "more than the \(allowedHoles) allowed for \(entries.count) tokens")
        }
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
        for (index, item) in (model["merges"]?.array ?? []).enumerated() {
            if let pair = item.array, pair.count == 2, let left = pair[0].string, let right = pair[1].string {
                merges.append((left, right))
            } else if let text = item.string, let space = text.dropFirst().firstIndex(of: " ") {
                merges.append((String(text[..<space]), String(text[text.index(after: space)...])))
            } else {
                throw TokenizerError.malformedMerge(path: path, index: index, merge: "\(item)")
            }
        }

        let ignoresMerges = model["ignore_merges"]?.bool ?? false
        let preTokenizer = try Self.preTokenizer(root["pre_tokenizer"], path: path, ignoresMerges: ignoresMerges)

        var specials = DeclaredSpecialTokens()
        var addBOS: Bool?
        var addEOS: Bool?
        let configPath = URL(fileURLWithPath: path).deletingLastPathComponent()
            .appendingPathComponent("tokenizer_config.json").path
        if FileManager.default.fileExists(atPath: configPath) {
            let config = try Self.readJSON(configPath)
            func tokenID(_ key: String) throws -> Int? {
                let value = config[key]
                guard let text = value?.string ?? value?["content"]?.string else { return nil }
                guard let id = texts.firstIndex(of: text) else {
                    throw TokenizerError.invalidField(path: configPath, field: key,
                                                      reason: "'\(text)' is not in the vocabulary")
                }
                return id
            }
            specials.bos = try tokenID("bos_token")
            specials.eos = try tokenID("eos_token")
            addBOS = config["add_bos_token"]?.bool
            addEOS = config["add_eos_token"]?.bool
        }
        try self.init(path: path, texts: texts, attributes: attributes, merges: merges, rawMerges: nil,
                      preTokenizer: preTokenizer, specials: specials, addBOS: addBOS, addEOS: addEOS)
    }

    static func readJSON(_ path: String) throws -> JSONValue {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw TokenizerError.invalidField(path: path, field: "file", reason: "cannot read: \(error.localizedDescription)")
        }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw TokenizerError.invalidField(path: path, field: "file", reason: "not JSON: \(error)")
        }
        guard value.object != nil else {
            throw TokenizerError.invalidField(path: path, field: "file", reason: "not a JSON object")
        }
        return value
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
    static func preTokenizer(_ value: JSONValue?, path: String, ignoresMerges: Bool) throws -> PreTokenizer {
        var rules: [SplitRule] = []
        var names: [String] = []
        func add(_ node: JSONValue) throws {
            let type = node["type"]?.string ?? "?"
            switch type {
            case "Sequence":
                for child in node["pretokenizers"]?.array ?? [] { try add(child) }
            case "Split":
                let pattern = node["pattern"]?["Regex"]?.string ?? node["pattern"]?["String"]?.string ?? ""
                guard let rule = knownSplitPatterns[pattern] else {
                    throw TokenizerError.unknownPreTokenizer(path: path, name: "Split \(pattern)")
                }
                rules.append(rule)
                names.append("Split")
            case "Digits":
                let individual = node["individual_digits"]?.bool ?? false
                rules.append(individual ? .each(.number) : .runs(.number))
                names.append("Digits")
            case "ByteLevel":
                if node["use_regex"]?.bool ?? true { rules.append(.gpt2) }
                names.append("ByteLevel")
            default:
                throw TokenizerError.unknownPreTokenizer(path: path, name: type)
            }
        }
        guard let node = value, node.object != nil else {
            throw TokenizerError.missingField(path: path, field: "pre_tokenizer")
        }
        try add(node)
        return PreTokenizer(name: "tokenizer.json " + names.joined(separator: "+"), rules: rules,
                            ignoresMerges: ignoresMerges)
    }
}
