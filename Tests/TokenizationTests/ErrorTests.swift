import Formats
import Testing
@testable import Tokenization

@Suite struct ErrorTests {
    private func load(_ writer: GGUFWriter, _ name: String) throws -> Tokenizer {
        try Tokenizer(gguf: GGUFFile(path: TinyTokenizers.write(writer, name: name)))
    }

    @Test func mergeNamingAPieceOutsideTheVocabulary() throws {
        var writer = TinyTokenizers.ggufWriter()
        writer.set("tokenizer.ggml.merges", .array((TinyTokenizers.merges + ["q u"]).map { .string($0) }))
        #expect {
            try load(writer, "bad-merge.gguf")
        } throws: { error in
            guard case let TokenizerError.mergeNotInVocabulary(path, index, merge, piece) = error else { return false }
            return path.hasSuffix("bad-merge.gguf") && index == 6 && merge == "q u" && piece == "q"
                && "\(error)".contains("not in the vocabulary")
        }
    }

    @Test func mergeWithoutASpace() throws {
        var writer = TinyTokenizers.ggufWriter()
        writer.set("tokenizer.ggml.merges", .array(["he"].map { .string($0) }))
        #expect(throws: TokenizerError.malformedMerge(path: TestPaths.temporaryFile("no-space.gguf"), index: 0,
                                                      merge: "he")) {
            try load(writer, "no-space.gguf")
        }
    }

    @Test func unknownPreTokenizer() throws {
        let writer = TinyTokenizers.ggufWriter(pre: "no-such-pre")
        #expect {
            try load(writer, "unknown-pre.gguf")
        } throws: { error in
            "\(error)".contains("unknown pre-tokenizer 'no-such-pre'")
        }
    }

    @Test func tokenTypeCountMismatch() throws {
        var writer = TinyTokenizers.ggufWriter()
        writer.set("tokenizer.ggml.token_type", .array([.int32(1), .int32(1)]))
        #expect {
            try load(writer, "types.gguf")
        } throws: { error in
            guard case let TokenizerError.countMismatch(_, field, count, expected) = error else { return false }
            return field == "tokenizer.ggml.token_type" && count == 2 && expected == TinyTokenizers.texts.count
        }
    }

    /// Found by reading the loader while writing scripts/fuzz: `Int(_:)` of a NaN or 1e30 token type trapped.
    @Test func tokenTypeThatIsNotAWholeNumber() throws {
        for bad in [Float.nan, 1e30, 1.5] {
            var writer = TinyTokenizers.ggufWriter()
            var types = TinyTokenizers.types.map { GGUFValue.float32(Float($0)) }
            types[3] = .float32(bad)
            writer.set("tokenizer.ggml.token_type", .array(types))
            #expect {
                try load(writer, "float-types.gguf")
            } throws: { error in
                guard case let TokenizerError.invalidField(_, field, reason) = error else { return false }
                return field == "tokenizer.ggml.token_type" && reason.contains("entry 3")
            }
        }
        // Whole numbers stored as floats are still token types.
        var writer = TinyTokenizers.ggufWriter()
        writer.set("tokenizer.ggml.token_type", .array(TinyTokenizers.types.map { .float32(Float($0)) }))
        #expect(try load(writer, "whole-float-types.gguf").attributes(of: 14).contains(.control))
    }

    @Test func bosOutOfRange() throws {
        var writer = TinyTokenizers.ggufWriter()
        writer.set("tokenizer.ggml.bos_token_id", .uint32(500))
        #expect {
            try load(writer, "bos.gguf")
        } throws: { error in
            guard case let TokenizerError.specialTokenOutOfRange(_, field, id, size) = error else { return false }
            return field == "tokenizer.ggml.bos_token_id" && id == 500 && size == TinyTokenizers.texts.count
        }
    }

    @Test func duplicateTokenText() throws {
        var writer = TinyTokenizers.ggufWriter()
        var texts = TinyTokenizers.texts
        texts[7] = "h"
        writer.set("tokenizer.ggml.tokens", .array(texts.map { .string($0) }))
        #expect {
            try load(writer, "duplicate.gguf")
        } throws: { error in
            error as? TokenizerError
                == .duplicateToken(path: TestPaths.temporaryFile("duplicate.gguf"), text: "h", firstID: 0, secondID: 7)
        }
    }

    @Test func sentencePieceModelIsRefused() throws {
        var writer = TinyTokenizers.ggufWriter()
        writer.set("tokenizer.ggml.model", .string("llama"))
        #expect {
            try load(writer, "spm.gguf")
        } throws: { error in
            "\(error)".contains("tokenizer model 'llama' is not supported")
        }
    }

    @Test func missingTokens() throws {
        var writer = GGUFWriter()
        writer.set("tokenizer.ggml.model", .string("gpt2"))
        #expect {
            try load(writer, "no-tokens.gguf")
        } throws: { error in
            "\(error)".contains("missing tokenizer field 'tokenizer.ggml.tokens'")
        }
    }
}
