import Foundation
import Formats
@testable import Inference

/// A small decoder with random weights and real shapes scaled down, written by the test as a GGUF file.
struct TinyModel {
    var architecture = "qwen2"
    var embedding = 64
    var feedForward = 96
    var layers = 2
    var heads = 4
    var keyValueHeads = 2
    var vocabulary = 97
    var seed: UInt64 = 1
    /// Element type of the big matrices (F32 or a quantised type with 32-element blocks).
    var matrixType: GGMLType = .f32

    func write(to path: String) throws {
        var random = SplitMix64(seed: seed)
        var writer = GGUFWriter()
        let a = architecture
        writer.set("general.architecture", .string(a))
        writer.set("\(a).embedding_length", .uint32(UInt32(embedding)))
        writer.set("\(a).feed_forward_length", .uint32(UInt32(feedForward)))
        writer.set("\(a).block_count", .uint32(UInt32(layers)))
        writer.set("\(a).attention.head_count", .uint32(UInt32(heads)))
        writer.set("\(a).attention.head_count_kv", .uint32(UInt32(keyValueHeads)))
        writer.set("\(a).context_length", .uint32(256))
        writer.set("\(a).vocab_size", .uint32(UInt32(vocabulary)))
        writer.set("\(a).rope.freq_base", .float32(10_000))
        writer.set("\(a).attention.layer_norm_rms_epsilon", .float32(1e-6))
        let headDimension = embedding / heads
        let kv = keyValueHeads * headDimension
        func matrix(_ name: String, rows: Int, columns: Int, scale: Float = 0.3) {
            let values = (0..<(rows * columns)).map { _ in random.uniform() * scale }
            if matrixType == .f32 {
                writer.addTensor(name, dimensions: [columns, rows], floats: values)
            } else {
                writer.addTensor(name, type: matrixType, dimensions: [columns, rows],
                                 bytes: TestQuantizer.encode(values, as: matrixType))
            }
        }
        func vector(_ name: String, _ count: Int, around center: Float) {
            writer.addTensor(name, dimensions: [count], floats: (0..<count).map { _ in center + random.uniform() * 0.2 })
        }
        matrix("token_embd.weight", rows: vocabulary, columns: embedding, scale: 1)
        vector("output_norm.weight", embedding, around: 1)
        for i in 0..<layers {
            vector("blk.\(i).attn_norm.weight", embedding, around: 1)
            matrix("blk.\(i).attn_q.weight", rows: embedding, columns: embedding)
            matrix("blk.\(i).attn_k.weight", rows: kv, columns: embedding)
            matrix("blk.\(i).attn_v.weight", rows: kv, columns: embedding)
            if architecture == "qwen2" {
                vector("blk.\(i).attn_q.bias", embedding, around: 0)
                vector("blk.\(i).attn_k.bias", kv, around: 0)
                vector("blk.\(i).attn_v.bias", kv, around: 0)
            }
            matrix("blk.\(i).attn_output.weight", rows: embedding, columns: embedding)
            vector("blk.\(i).ffn_norm.weight", embedding, around: 1)
            matrix("blk.\(i).ffn_gate.weight", rows: feedForward, columns: embedding)
            matrix("blk.\(i).ffn_up.weight", rows: feedForward, columns: embedding)
            matrix("blk.\(i).ffn_down.weight", rows: embedding, columns: feedForward)
        }
        try writer.write(to: path)
    }
}

extension SplitMix64 {
    /// Uniform values in [-1, 1).
    mutating func uniform() -> Float { Float(Double(next() >> 11) / Double(1 << 53)) * 2 - 1 }
}

/// Encodes floats as Q8_0 blocks (scale = max|x| / 127), enough to exercise the quantised path end to end.
enum TestQuantizer {
    static func encode(_ values: [Float], as type: GGMLType) -> [UInt8] {
        precondition(type == .q8_0, "only Q8_0 is encoded by the test quantizer")
        var out: [UInt8] = []
        for block in stride(from: 0, to: values.count, by: 32) {
            let chunk = values[block..<(block + 32)]
            let amax = chunk.map(abs).max() ?? 0
            let scale = amax / 127
            let half = Float16(scale)
            withUnsafeBytes(of: half.bitPattern.littleEndian) { out.append(contentsOf: $0) }
            let inverse = scale == 0 ? 0 : 1 / Float(half)
            for v in chunk { out.append(UInt8(bitPattern: Int8(max(-127, min(127, (v * inverse).rounded()))))) }
        }
        return out
    }
}
