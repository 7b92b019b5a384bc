import Foundation

/// Writes GGUF version 3 files: used by tests to build small models with real shapes, and by tools that
/// export checkpoints.
///
/// ```swift
/// var writer = GGUFWriter()
/// writer.set("general.architecture", .string("qwen2"))
/// writer.addTensor("token_embd.weight", type: .f32, dimensions: [64, 100], bytes: data)
/// try writer.write(to: "model.gguf")
/// ```
public struct GGUFWriter {
    private var entries: [(String, GGUFValue)] = []
    private var tensors: [(name: String, dimensions: [Int], type: GGMLType, bytes: [UInt8])] = []
    public var alignment = 32

    public init() {}

    public mutating func set(_ key: String, _ value: GGUFValue) {
        entries.removeAll { $0.0 == key }
        entries.append((key, value))
    }

    /// Adds a tensor; `dimensions` innermost first, `bytes` already encoded in `type`.
    public mutating func addTensor(_ name: String, type: GGMLType, dimensions: [Int], bytes: [UInt8]) {
        tensors.append((name, dimensions, type, bytes))
    }

    /// Adds an F32 tensor from floats.
    public mutating func addTensor(_ name: String, dimensions: [Int], floats: [Float]) {
        var bytes = [UInt8]()
        bytes.reserveCapacity(floats.count * 4)
        for value in floats { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        addTensor(name, type: .f32, dimensions: dimensions, bytes: bytes)
    }

    /// The encoded file.
    public func encoded() -> [UInt8] {
        var out = [UInt8]()
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) } }
        func putString(_ s: String) { put(UInt64(s.utf8.count)); out.append(contentsOf: s.utf8) }
        func typeID(_ value: GGUFValue) -> UInt32 {
            switch value {
            case .uint8: 0
            case .int8: 1
            case .uint16: 2
            case .int16: 3
            case .uint32: 4
            case .int32: 5
            case .float32: 6
            case .bool: 7
            case .string: 8
            case .array: 9
            case .uint64: 10
            case .int64: 11
            case .float64: 12
            }
        }
        func putValue(_ value: GGUFValue) {
            switch value {
            case let .uint8(v): put(v)
            case let .int8(v): put(v)
            case let .uint16(v): put(v)
            case let .int16(v): put(v)
            case let .uint32(v): put(v)
            case let .int32(v): put(v)
            case let .float32(v): put(v.bitPattern)
            case let .bool(v): put(UInt8(v ? 1 : 0))
            case let .string(v): putString(v)
            case let .array(elements):
                put(elements.first.map(typeID) ?? 4)
                put(UInt64(elements.count))
                elements.forEach(putValue)
            case let .uint64(v): put(v)
            case let .int64(v): put(v)
            case let .float64(v): put(v.bitPattern)
            }
        }
        out.append(contentsOf: Array("GGUF".utf8))
        put(UInt32(3))
        put(UInt64(tensors.count))
        var allEntries = entries
        if alignment != 32, !allEntries.contains(where: { $0.0 == "general.alignment" }) {
            allEntries.append(("general.alignment", .uint32(UInt32(alignment))))
        }
        put(UInt64(allEntries.count))
        for (key, value) in allEntries {
            putString(key)
            put(typeID(value))
            putValue(value)
        }
        var offset = 0
        var offsets: [Int] = []
        for tensor in tensors {
            offsets.append(offset)
            offset += (tensor.bytes.count + alignment - 1) / alignment * alignment
        }
        for (tensor, tensorOffset) in zip(tensors, offsets) {
            putString(tensor.name)
            put(UInt32(tensor.dimensions.count))
            tensor.dimensions.forEach { put(UInt64($0)) }
            put(tensor.type.rawValue)
            put(UInt64(tensorOffset))
        }
        while out.count % alignment != 0 { out.append(0) }
        for tensor in tensors {
            out.append(contentsOf: tensor.bytes)
            while out.count % alignment != 0 { out.append(0) }
        }
        return out
    }

    public func write(to path: String) throws {
        try Data(encoded()).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
