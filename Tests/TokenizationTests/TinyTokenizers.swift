import Formats
import Foundation
@testable import Tokenization

/// Small hand-made tokenizers whose ids can be worked out on paper.
///
/// Vocabulary: the bytes "h e l o w r d" and the space ("Ġ"), then merges
/// `h e` → he, `l l` → ll, `he ll` → hell, `hell o` → hello, `Ġ w` → Ġw, `Ġw o` → Ġwo.
enum TinyTokenizers {
    static let texts = ["h", "e", "l", "o", "Ġ", "w", "r", "d", "he", "ll", "hell", "hello", "Ġw", "Ġwo",
                        "<|end|>", "<x>", "<|end|>x"]
    // 1 normal, 3 control, 4 user-defined
    static let types = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 4, 3]
    static let merges = ["h e", "l l", "he ll", "hell o", "Ġ w", "Ġw o"]

    static func ggufWriter(pre: String = "gpt-2") -> GGUFWriter {
        var writer = GGUFWriter()
        writer.set("general.architecture", .string("llama"))
        writer.set("tokenizer.ggml.model", .string("gpt2"))
        writer.set("tokenizer.ggml.pre", .string(pre))
        writer.set("tokenizer.ggml.tokens", .array(texts.map { .string($0) }))
        writer.set("tokenizer.ggml.token_type", .array(types.map { .int32(Int32($0)) }))
        writer.set("tokenizer.ggml.merges", .array(merges.map { .string($0) }))
        writer.set("tokenizer.ggml.bos_token_id", .uint32(14))
        writer.set("tokenizer.ggml.eos_token_id", .uint32(14))
        return writer
    }

    static func write(_ writer: GGUFWriter, name: String) throws -> String {
        let path = TestPaths.temporaryFile(name)
        try writer.write(to: path)
        return path
    }

    static func gguf(pre: String = "gpt-2") throws -> Tokenizer {
        try Tokenizer(gguf: GGUFFile(path: write(ggufWriter(pre: pre), name: "tiny-\(pre).gguf")))
    }
}
