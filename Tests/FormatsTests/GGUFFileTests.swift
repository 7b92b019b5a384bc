import Foundation
import Testing
@testable import Formats

@Suite struct GGUFFileTests {
    /// A small file with every metadata value type, a nested array and three tensors.
    static func sampleWriter() -> GGUFWriter {
        var writer = GGUFWriter()
        writer.set("general.architecture", .string("llama"))
        writer.set("u8", .uint8(200))
        writer.set("i8", .int8(-5))
        writer.set("u16", .uint16(60000))
        writer.set("i16", .int16(-30000))
        writer.set("u32", .uint32(4_000_000_000))
        writer.set("i32", .int32(-2_000_000_000))
        writer.set("f32", .float32(1.5))
        writer.set("bool", .bool(true))
        writer.set("u64", .uint64(1 << 40))
        writer.set("i64", .int64(-(1 << 40)))
        writer.set("f64", .float64(0.125))
        writer.set("tokens", .array([.string("a"), .string("é"), .string("<|im_start|>")]))
        writer.set("nested", .array([.array([.int32(1), .int32(2)]), .array([.int32(3)])]))
        writer.addTensor("a.weight", dimensions: [4, 2], floats: (0..<8).map(Float.init))
        writer.addTensor("b.weight", type: .q8_0, dimensions: [32], bytes: [UInt8](repeating: 1, count: 34))
        writer.addTensor("c.weight", dimensions: [3], floats: [1, 2, 3])
        return writer
    }

    @Test func roundTripsEveryValueType() throws {
        let path = TestPaths.temporaryFile("roundtrip.gguf")
        try Self.sampleWriter().write(to: path)
        let file = try GGUFFile(path: path)
        #expect(file.version == 3)
        #expect(file.metadata["u8"] == .uint8(200))
        #expect(file.metadata["i16"] == .int16(-30000))
        #expect(file.metadata["u32"]?.intValue == 4_000_000_000)
        #expect(file.metadata["f32"]?.doubleValue == 1.5)
        #expect(file.bool("bool") == true)
        #expect(file.int("i64") == -(1 << 40))
        #expect(file.double("f64") == 0.125)
        #expect(try file.strings("tokens") == ["a", "é", "<|im_start|>"])
        #expect(file.metadata["nested"] == .array([.array([.int32(1), .int32(2)]), .array([.int32(3)])]))
        #expect(file.keys.first == "general.architecture")
        let (info, bytes) = try file.tensor("a.weight")
        #expect(info.dimensions == [4, 2])
        #expect(info.type == .f32)
        #expect(bytes.count == 32)
        #expect(bytes.loadUnaligned(fromByteOffset: 12, as: Float.self) == 3)
        #expect(try file.tensor("b.weight").info.byteCount == 34)
        #expect(try file.tensor("c.weight").bytes.loadUnaligned(fromByteOffset: 8, as: Float.self) == 3)
        #expect(file.dataOffset % 32 == 0)
    }

    @Test func rejectsWrongMagic() throws {
        var bytes = Self.sampleWriter().encoded()
        bytes[0] = UInt8(ascii: "X")
        let path = TestPaths.temporaryFile("magic.gguf")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(throws: FormatError.self) { try GGUFFile(path: path) }
        do { _ = try GGUFFile(path: path) } catch {
            #expect("\(error)".contains("not a GGUF file"))
            #expect("\(error)".contains(path))
        }
    }

    @Test func rejectsEveryTruncation() throws {
        let bytes = Self.sampleWriter().encoded()
        let path = TestPaths.temporaryFile("truncated.gguf")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let whole = try GGUFFile(path: path)
        let dataEnd = whole.dataOffset + whole.tensors.map { $0.offset + $0.byteCount }.max()!
        // Every cut inside the header, the directory or the tensor data must fail cleanly (the padding after
        // the last tensor is optional, so cuts there are valid files).
        for cut in 0..<dataEnd {
            try Data(bytes[0..<cut]).write(to: URL(fileURLWithPath: path))
            #expect(throws: FormatError.self, "cut at \(cut)") { try GGUFFile(path: path) }
        }
    }

    @Test func truncationNamesOffsetAndField() throws {
        let bytes = Self.sampleWriter().encoded()
        let path = TestPaths.temporaryFile("truncated-named.gguf")
        // A cut inside the metadata: a truncation naming the field and the offset.
        try Data(bytes[0..<200]).write(to: URL(fileURLWithPath: path))
        do {
            _ = try GGUFFile(path: path)
            Issue.record("a truncated file was accepted")
        } catch let error as FormatError {
            switch error {
            case let .truncated(_, field, offset, _, fileSize):
                #expect(fileSize == 200)
                #expect(offset < 200 && offset > 24)
                #expect(!field.isEmpty)
            case let .invalidValue(_, field, offset, reason):
                #expect(offset < 200 && offset > 24)
                #expect(field.contains("metadata key"))
                #expect(reason.contains("cannot fit"))
            default:
                Issue.record("unexpected error \(error)")
            }
        }
        // A cut inside tensor data names the tensor.
        let file = try GGUFFile(path: { try! Data(bytes).write(to: URL(fileURLWithPath: path)); return path }())
        let cut = file.dataOffset + file.tensors[1].offset + 5
        try Data(bytes[0..<cut]).write(to: URL(fileURLWithPath: path))
        #expect(throws: FormatError.tensorOutOfBounds(path: path, tensor: "b.weight", offset: file.dataOffset + 32,
                                                       bytes: 34, limit: cut)) { try GGUFFile(path: path) }
    }

    @Test func rejectsHugeLengthsAndUnknownTypes() throws {
        let path = TestPaths.temporaryFile("huge.gguf")
        // A tensor count of 2^60 must be refused before any allocation.
        var bytes = Self.sampleWriter().encoded()
        bytes.replaceSubrange(8..<16, with: withUnsafeBytes(of: UInt64(1 << 60).littleEndian, Array.init))
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(throws: FormatError.self) { try GGUFFile(path: path) }

        // An unknown tensor type.
        var writer = GGUFWriter()
        writer.addTensor("x", type: .f32, dimensions: [1], bytes: [0, 0, 0, 0])
        var encoded = writer.encoded()
        // The type field sits just before the u64 offset at the end of the directory entry.
        let typeAt = 4 + 4 + 8 + 8 + 8 + 1 + 4 + 8
        #expect(encoded[typeAt] == 0)
        encoded[typeAt] = 99
        try Data(encoded).write(to: URL(fileURLWithPath: path))
        do {
            _ = try GGUFFile(path: path)
            Issue.record("unknown type accepted")
        } catch {
            #expect("\(error)".contains("unknown tensor type 99"))
        }
    }

    @Test func missingTensorIsNamed() throws {
        let path = TestPaths.temporaryFile("missing.gguf")
        try Self.sampleWriter().write(to: path)
        let file = try GGUFFile(path: path)
        #expect(throws: FormatError.missingTensor(path: path, tensor: "output.weight")) {
            try file.tensor("output.weight")
        }
    }

    /// Mutates a valid file one byte at a time, thousands of times: it must parse or throw, never crash.
    @Test func survivesRandomByteMutations() throws {
        let original = Self.sampleWriter().encoded()
        let path = TestPaths.temporaryFile("mutated.gguf")
        var generator = SplitMix64(seed: 2026)
        var rejected = 0
        for _ in 0..<3000 {
            var bytes = original
            for _ in 0..<Int(generator.next() % 3 + 1) {
                let at = Int(generator.next() % UInt64(bytes.count))
                bytes[at] = UInt8(truncatingIfNeeded: generator.next())
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                let file = try GGUFFile(path: path)
                for info in file.tensors { _ = try file.tensor(info.name) }
            } catch is FormatError {
                rejected += 1
            }
        }
        #expect(rejected > 100)
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: TestPaths.smolLM2)))
    func readsSmolLM2() throws {
        let file = try GGUFFile(path: TestPaths.smolLM2)
        #expect(try file.requireString("general.architecture") == "llama")
        #expect(try file.requireInt("llama.block_count") == 30)
        #expect(try file.requireInt("llama.embedding_length") == 576)
        #expect(try file.strings("tokenizer.ggml.tokens")?.count == 49152)
        #expect(try file.strings("tokenizer.ggml.merges")?.count == 48900)
        let embedding = try file.tensor("token_embd.weight").info
        #expect(embedding.dimensions == [576, 49152])
        let types = Set(file.tensors.map(\.type))
        #expect(types.isSubset(of: [.f32, .q4_1, .q8_0]))
        #expect(file.tensors.allSatisfy { $0.type.isSupportedForCompute })
    }
}

/// A small seeded generator so fuzz tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
