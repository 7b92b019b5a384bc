#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A byte-level BPE tokenizer that gives the same token ids as llama.cpp for the same model.
///
/// ```swift
/// let tokenizer = try Tokenizer(gguf: GGUFFile(path: "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
/// let ids = tokenizer.encode("Hello world, it's 2026!")  // [19556, 905, 28, 357, 506, 216, 34, 32, 34, 38, 17]
/// tokenizer.decode(ids)                                   // "Hello world, it's 2026!"
/// ```
public struct Tokenizer: Sendable {
    let vocabulary: Vocabulary
    let model: BytePairModel
    /// The pre-tokenizer chosen by `tokenizer.ggml.pre`.
    public let preTokenizer: PreTokenizer
    /// Control, user-defined and unknown tokens, longest text first: the order llama.cpp splits them out of text.
    let specialTokens: [Int32]
    let cache = WordCache()

    public let bosID: Int?
    public let eosID: Int?
    /// Tokens that end generation: EOS, EOT, EOM and the texts llama.cpp recognises (`<|im_end|>`, `<|endoftext|>`, ...).
    public let endOfGenerationIDs: Set<Int>
    /// Whether `encode(_:addSpecial: true)` starts with BOS (`tokenizer.ggml.add_bos_token`).
    public let addsBOS: Bool
    /// Whether `encode(_:addSpecial: true)` ends with EOS (`tokenizer.ggml.add_eos_token`).
    public let addsEOS: Bool

    public var vocabularySize: Int { vocabulary.count }

    /// The raw vocabulary entry of a token (byte-level spelling for normal tokens); empty for an id out of range.
    public func tokenText(_ id: Int) -> String {
        vocabulary.texts.indices.contains(id) ? vocabulary.texts[id] : ""
    }

    /// The attributes of a token; empty for an id out of range.
    public func attributes(of id: Int) -> TokenAttributes {
        vocabulary.attributes.indices.contains(id) ? vocabulary.attributes[id] : []
    }

    /// The id of a vocabulary entry given its raw text.
    public func id(forTokenText text: String) -> Int? {
        vocabulary.idForText[text].map(Int.init)
    }

    /// Everything that must match for two models to be mixed token by token (vocab texts, specials).
    public func isCompatible(with other: Tokenizer) -> Bool { incompatibility(with: other) == nil }

    /// Why two tokenizers cannot be mixed token by token (the first difference found), or nil when they can.
    public func incompatibility(with other: Tokenizer) -> String? {
        let (a, b) = (vocabulary.texts, other.vocabulary.texts)
        if a.count != b.count { return "the vocabularies have \(a.count) and \(b.count) tokens" }
        if let id = a.indices.first(where: { a[$0] != b[$0] }) {
            return "token \(id) is \(String(reflecting: a[id])) in one and \(String(reflecting: b[id])) in the other"
        }
        if let id = a.indices.first(where: { vocabulary.attributes[$0] != other.vocabulary.attributes[$0] }) {
            return "token \(id) (\(String(reflecting: a[id]))) is special in one and not in the other"
        }
        if bosID != other.bosID { return "BOS differs (\(bosID.map(String.init) ?? "none") and \(other.bosID.map(String.init) ?? "none"))" }
        if eosID != other.eosID { return "EOS differs (\(eosID.map(String.init) ?? "none") and \(other.eosID.map(String.init) ?? "none"))" }
        if endOfGenerationIDs != other.endOfGenerationIDs {
            return "end-of-generation tokens differ (\(endOfGenerationIDs.sorted()) and \(other.endOfGenerationIDs.sorted()))"
        }
        return nil
    }

    // MARK: Encoding

    /// The token ids of `text`, as llama.cpp's `llama_tokenize` gives them.
    /// - Parameters:
    ///   - addSpecial: add BOS / EOS when the model asks for them.
    ///   - parseSpecial: recognise control tokens such as `<|im_start|>` written in the text. User-defined tokens are
    ///     recognised either way, as in llama.cpp.
    public func encode(_ text: String, addSpecial: Bool = true, parseSpecial: Bool = true) -> [Int] {
        var output: [Int32] = []
        output.reserveCapacity(text.utf8.count / 3 + 2)
        if addSpecial, addsBOS, let bosID { output.append(Int32(bosID)) }
        let bytes = Array(text.utf8)
        bytes.withUnsafeBufferPointer { buffer in
            var scratch = BytePairModel.Scratch()
            for fragment in fragments(of: buffer, parseSpecial: parseSpecial) {
                switch fragment {
                case let .token(id):
                    output.append(id)
                case let .text(range):
                    encodeText(UnsafeBufferPointer(rebasing: buffer[range]), into: &output, scratch: &scratch)
                }
            }
        }
        if addSpecial, addsEOS, let eosID { output.append(Int32(eosID)) }
        return output.map(Int.init)
    }

    enum Fragment: Equatable {
        case text(Range<Int>)
        case token(Int32)
    }

    /// Splits special tokens out of the text the way llama.cpp's `tokenizer_st_partition` does: for each special token,
    /// longest first, every occurrence in the text still unclaimed becomes that token.
    func fragments(of bytes: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [Fragment] {
        guard !bytes.isEmpty else { return [] }
        var fragments: [Fragment] = [.text(0..<bytes.count)]
        for special in specialTokens {
            let attributes = vocabulary.attributes[Int(special)]
            if !parseSpecial && !attributes.isDisjoint(with: [.control, .unknown]) { continue }
            let needle = Array(vocabulary.texts[Int(special)].utf8)
            guard !needle.isEmpty else { continue }
            var split: [Fragment] = []
            split.reserveCapacity(fragments.count)
            var changed = false
            for fragment in fragments {
                guard case var .text(range) = fragment else { split.append(fragment); continue }
                while let match = Self.find(needle, in: bytes, range) {
                    changed = true
                    if match > range.lowerBound { split.append(.text(range.lowerBound..<match)) }
                    split.append(.token(special))
                    range = (match + needle.count)..<range.upperBound
                }
                if !range.isEmpty { split.append(.text(range)) }
            }
            if changed { fragments = split }
        }
        return fragments
    }

    private static func find(_ needle: [UInt8], in bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int? {
        guard range.count >= needle.count, let base = bytes.baseAddress else { return nil }
        return needle.withUnsafeBytes { needleBytes -> Int? in
            let first = Int32(needle[0])
            var start = range.lowerBound
            let lastStart = range.upperBound - needle.count
            while start <= lastStart {
                guard let hit = memchr(base + start, first, lastStart - start + 1) else { return nil }
                let offset = UnsafeRawPointer(hit) - UnsafeRawPointer(base)
                if memcmp(base + offset, needleBytes.baseAddress!, needle.count) == 0 { return offset }
                start = offset + 1
            }
            return nil
        }
    }

    private func encodeText(_ text: UnsafeBufferPointer<UInt8>, into output: inout [Int32],
                            scratch: inout BytePairModel.Scratch) {
        for range in preTokenizer.words(in: text) {
            let word = UnsafeBufferPointer(rebasing: text[range])
            if let cached = cache.tokens(for: word) {
                output.append(contentsOf: cached)
                continue
            }
            let start = output.count
            if preTokenizer.ignoresMerges, let id = vocabulary.idForText[ByteLevel.encode(word)] {
                output.append(id)
            } else {
                model.encode(word, into: &output, scratch: &scratch)
            }
            cache.store(Array(output[start...]), for: word)
        }
    }

    // MARK: Decoding

    /// The text of `ids`. Control tokens are written as their text unless `skipSpecial`; invalid UTF-8 (a character
    /// cut between tokens) becomes U+FFFD. Ids outside the vocabulary are ignored.
    public func decode(_ ids: [Int], skipSpecial: Bool = false) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids { appendPiece(id, skipSpecial: skipSpecial, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The bytes one token decodes to (what llama.cpp's `token_to_piece` gives).
    public func pieceBytes(_ id: Int, skipSpecial: Bool = false) -> [UInt8] {
        var bytes: [UInt8] = []
        appendPiece(id, skipSpecial: skipSpecial, to: &bytes)
        return bytes
    }

    func appendPiece(_ id: Int, skipSpecial: Bool, to bytes: inout [UInt8]) {
        guard id >= 0, id < vocabulary.count else { return }
        if skipSpecial && vocabulary.isHiddenSpecial(id) { return }
        bytes.append(contentsOf: vocabulary.piece(id))
    }
}
