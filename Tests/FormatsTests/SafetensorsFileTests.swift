import Foundation
import Testing
@testable import Formats

@Suite struct SafetensorsFileTests {
    static func sample() throws -> [UInt8] {
        let floats: [Float] = [1, 2, 3, 4, 5, 6]
        let f32 = floats.withUnsafeBytes(Array.init)
        let f16: [UInt8] = [0x00, 0x3C, 0x00, 0xC0]  // 1.0, -2.0
        return try SafetensorsFile.encode(
            [("w", .f32, [2, 3], f32), ("h", .f16, [2], f16)], metadata: ["format": "pt"])
    }

    @Test func readsTensorsAndMetadata() throws {
        let path = TestPaths.temporaryFile("sample.safetensors")
        try Data(Self.sample()).write(to: URL(fileURLWithPath: path))
        let file = try SafetensorsFile(path: path)
        #expect(file.metadata == ["format": "pt"])
        let (info, bytes) = try file.tensor("w")
        #expect(info.shape == [2, 3])
        #expect(info.dtype == .f32)
        #expect(bytes.loadUnaligned(fromByteOffset: 20, as: Float.self) == 6)
        let half = try file.tensor("h")
        #expect(half.bytes.loadUnaligned(fromByteOffset: 2, as: UInt16.self) == 0xC000)
    }

    @Test func rejectsBadHeaders() throws {
        let path = TestPaths.temporaryFile("bad.safetensors")
        func expectFailure(_ bytes: [UInt8], containing text: String) throws {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                _ = try SafetensorsFile(path: path)
                Issue.record("accepted: \(text)")
            } catch {
                #expect("\(error)".contains(text), "\(error)")
            }
        }
        func file(header: String, data: [UInt8] = []) -> [UInt8] {
            var out = withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian, Array.init)
            out += Array(header.utf8) + data
            return out
        }
        try expectFailure([1, 2, 3], containing: "header length")
        try expectFailure(withUnsafeBytes(of: UInt64(1 << 50).littleEndian, Array.init), containing: "header length")
        try expectFailure(file(header: "{not json"), containing: "not valid JSON")
        try expectFailure(file(header: #"{"w":{"dtype":"Q9","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                          containing: "unknown dtype 'Q9'")
        try expectFailure(file(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [0, 0, 0, 0]),
                          containing: "runs past the end")
        try expectFailure(file(header: #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                          containing: "4 bytes for 3 F32 elements")
        try expectFailure(file(header: #"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                          containing: "missing field 'shape'")
    }

    @Test func survivesRandomByteMutations() throws {
        let original = try Self.sample()
        let path = TestPaths.temporaryFile("mutated.safetensors")
        var generator = SplitMix64(seed: 7)
        for _ in 0..<1500 {
            var bytes = original
            let at = Int(generator.next() % UInt64(bytes.count))
            bytes[at] = UInt8(truncatingIfNeeded: generator.next())
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            if let file = try? SafetensorsFile(path: path) {
                for name in file.tensors.keys { _ = try file.tensor(name) }
            }
        }
    }
}
