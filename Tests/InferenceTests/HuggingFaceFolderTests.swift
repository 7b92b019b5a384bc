import Foundation
import Formats
import Testing
@testable import Inference

/// A Hugging Face folder (config.json + safetensors) holding the same weights as a test-written GGUF must
/// give the same logits: this pins the tensor names, the [rows, columns] order and, for llama, the rotary
/// permutation that llama.cpp's converter applies to Q and K.
@Suite struct HuggingFaceFolderTests {
    /// Writes `gguf`'s weights as a Hugging Face folder, undoing llama.cpp's Q/K row permutation for llama.
    static func exportFolder(from ggufPath: String, to directory: String) throws {
        let file = try GGUFFile(path: ggufPath)
        let config = try ModelConfig(gguf: file)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let json: [String: Any] = [
            "model_type": config.architecture.rawValue, "hidden_size": config.embeddingLength,
            "intermediate_size": config.feedForwardLength, "num_hidden_layers": config.layerCount,
            "num_attention_heads": config.headCount, "num_key_value_heads": config.keyValueHeadCount,
            "vocab_size": config.vocabularySize, "rms_norm_eps": Double(config.rmsNormEpsilon),
            "rope_theta": Double(config.ropeBase), "max_position_embeddings": config.contextLength,
            "tie_word_embeddings": true,
        ]
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: directory + "/config.json"))
        var tensors: [(name: String, dtype: SafetensorsDType, shape: [Int], bytes: [UInt8])] = []
        let names = TensorNames.gguf, hf = TensorNames.huggingFace
        func floats(_ name: String) throws -> [Float] {
            let (dimensions, _) = file.describe(name)!
            let count = dimensions.reduce(1, *)
            var out = [Float](repeating: 0, count: count)
            let rows = dimensions.count == 2 ? dimensions[1] : 1
            let matrix = try WeightMatrix(name: name, type: file.info(name)!.type, rows: rows, columns: dimensions[0],
                                      base: try file.bytes(name).baseAddress!, owner: file.mapping)
            out.withUnsafeMutableBufferPointer { p in
                for r in 0..<rows { matrix.dequantizeRow(r, into: p.baseAddress! + r * dimensions[0]) }
            }
            return out
        }
        func add(_ ggufName: String, _ hfName: String, unpermuteHeads heads: Int? = nil) throws {
            var values = try floats(ggufName)
            let dimensions = file.describe(ggufName)!.dimensions
            if let heads, config.architecture == .llama {
                let columns = dimensions[0], hd = dimensions[1] / heads
                var out = values
                for h in 0..<heads {
                    for i in 0..<(hd / 2) {
                        for half in 0..<2 {
                            let from = (h * hd + 2 * i + half) * columns, to = (h * hd + half * (hd / 2) + i) * columns
                            out.replaceSubrange(to..<(to + columns), with: values[from..<(from + columns)])
                        }
                    }
                }
                values = out
            }
            tensors.append((hfName, .f32, dimensions.reversed(), values.withUnsafeBytes(Array.init)))
        }
        try add(names.embedding, hf.embedding)
        try add(names.outputNorm, hf.outputNorm)
        for i in 0..<config.layerCount {
            for tensor in TensorNames.LayerTensor.allCases where file.has(names.layer(i, tensor)) {
                let heads: Int? = switch tensor {
                case .query, .queryBias: config.headCount
                case .key, .keyBias: config.keyValueHeadCount
                default: nil
                }
                try add(names.layer(i, tensor), hf.layer(i, tensor), unpermuteHeads: heads)
            }
        }
        try Data(SafetensorsFile.encode(tensors)).write(to: URL(fileURLWithPath: directory + "/model.safetensors"))
    }

    @Test(arguments: ["qwen2", "llama"])
    func folderGivesTheSameLogitsAsGGUF(architecture: String) throws {
        let base = NSTemporaryDirectory() + "dera-hf-\(getpid())-\(architecture)"
        try TinyModel(architecture: architecture).write(to: base + ".gguf")
        try Self.exportFolder(from: base + ".gguf", to: base)
        let gguf = try DecoderModel(gguf: GGUFFile(path: base + ".gguf"))
        let folder = try DecoderModel(huggingFace: HFModelFolder(directory: base))
        gguf.arithmetic = .float32
        folder.arithmetic = .float32
        #expect(folder.config.ropeStyle == .rotateHalf)
        let tokens = [5, 9, 13, 2, 77, 40]
        let a = try gguf.forward(DecoderBatch(prompt: tokens), caches: [gguf.makeCache(capacity: 16)])
        let b = try folder.forward(DecoderBatch(prompt: tokens), caches: [folder.makeCache(capacity: 16)])
        let difference = zip(a, b).map { abs($0 - $1) }.max()!
        #expect(difference < 1e-4, "\(architecture): \(difference)")
    }

    @Test func missingConfigFieldIsNamed() throws {
        let directory = NSTemporaryDirectory() + "dera-hf-\(getpid())-broken"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(#"{"model_type": "llama", "hidden_size": 64}"#.utf8).write(to: URL(fileURLWithPath: directory + "/config.json"))
        #expect(throws: FormatError.missingKey(path: directory + "/config.json", key: "intermediate_size")) {
            try HFModelFolder(directory: directory)
        }
    }
}
