import Foundation

/// A GGUF checkpoint opened by memory map: metadata, tensor directory, and tensor bytes in place.
///
/// Every length and offset is checked against the file size while parsing, so a truncated or corrupt file
/// throws a ``FormatError`` naming the offset and the field instead of crashing.
///
/// ```swift
/// let file = try GGUFFile(path: "models/SmolLM2-135M-Instruct.Q4_1.gguf")
/// let layers = try file.requireInt("llama.block_count")
/// let embedding = try file.tensor("token_embd.weight")
/// ```
public struct GGUFFile: Sendable {
    public let path: String
    public let version: UInt32
    /// Metadata keys in file order.
    public let keys: [String]
    public let metadata: [String: GGUFValue]
    /// Tensor directory in file order.
    public let tensors: [GGUFTensorInfo]
    /// Start of the aligned data section.
    public let dataOffset: Int
    public let alignment: Int
    public let mapping: MappedFile
    private let tensorIndex: [String: Int]

    /// Deepest array nesting accepted; real files use 1.
    static let maximumArrayDepth = 3

    /// Opens and validates a GGUF file.
    public init(path: String) throws {
        try self.init(mapping: MappedFile(path: path))
    }

    public init(mapping: MappedFile) throws {
        self.mapping = mapping
        self.path = mapping.path
        var reader = ByteReader(bytes: mapping.bytes, path: mapping.path)
        let magic = try reader.bytes(4, field: "magic")
        guard Array(magic) == Array("GGUF".utf8) else {
            throw FormatError.badMagic(path: path, found: magic.map { String(format: "%02x", $0) }.joined(separator: " "))
        }
        version = try reader.read(UInt32.self, field: "version")
        guard version == 2 || version == 3 else { throw FormatError.unsupportedVersion(path: path, version: version) }
        let tensorCount = try reader.count(field: "tensor_count", minimumBytesEach: 24)
        let keyCount = try reader.count(field: "metadata_kv_count", minimumBytesEach: 12)

        var keys: [String] = []
        var metadata: [String: GGUFValue] = [:]
        keys.reserveCapacity(keyCount)
        for index in 0..<keyCount {
            let keyOffset = reader.offset
            let key = try reader.string(field: "metadata key #\(index)")
            let rawType = try reader.read(UInt32.self, field: "type of '\(key)'")
            let value = try reader.value(rawType: rawType, field: key, depth: 0)
            guard metadata.updateValue(value, forKey: key) == nil else {
                throw FormatError.invalidValue(path: path, field: key, offset: keyOffset, reason: "duplicate metadata key")
            }
            keys.append(key)
        }
        self.keys = keys
        self.metadata = metadata

        let alignmentValue = metadata["general.alignment"]?.intValue ?? 32
        guard alignmentValue > 0, alignmentValue <= 1 << 20, alignmentValue & (alignmentValue - 1) == 0 else {
            throw FormatError.invalidValue(path: path, field: "general.alignment", offset: 0,
                                           reason: "\(alignmentValue) is not a power of two")
        }
        alignment = alignmentValue

        var infos: [GGUFTensorInfo] = []
        var index: [String: Int] = [:]
        infos.reserveCapacity(tensorCount)
        for number in 0..<tensorCount {
            let infoOffset = reader.offset
            let name = try reader.string(field: "tensor #\(number) name")
            let dimensionCount = try reader.read(UInt32.self, field: "dimension count of '\(name)'")
            guard (1...4).contains(dimensionCount) else {
                throw FormatError.invalidValue(path: path, field: "dimension count of '\(name)'", offset: infoOffset,
                                               reason: "\(dimensionCount) dimensions (1 to 4 allowed)")
            }
            var dimensions: [Int] = []
            var elements = 1
            for axis in 0..<Int(dimensionCount) {
                let at = reader.offset
                let raw = try reader.read(UInt64.self, field: "dimension \(axis) of '\(name)'")
                guard raw > 0, raw < 1 << 40 else {
                    throw FormatError.invalidValue(path: path, field: "dimension \(axis) of '\(name)'", offset: at,
                                                   reason: "size \(raw)")
                }
                let (product, overflow) = elements.multipliedReportingOverflow(by: Int(raw))
                guard !overflow, product < 1 << 42 else {
                    throw FormatError.invalidValue(path: path, field: "shape of '\(name)'", offset: at,
                                                   reason: "element count overflows")
                }
                elements = product
                dimensions.append(Int(raw))
            }
            let typeOffset = reader.offset
            let rawType = try reader.read(UInt32.self, field: "type of '\(name)'")
            guard let type = GGMLType(rawValue: rawType) else {
                throw FormatError.invalidValue(path: path, field: "type of '\(name)'", offset: typeOffset,
                                               reason: "unknown tensor type \(rawType)")
            }
            guard dimensions[0] % type.blockLength == 0, let byteCount = type.byteCount(elements: elements) else {
                throw FormatError.invalidValue(path: path, field: "shape of '\(name)'", offset: typeOffset,
                                               reason: "row length \(dimensions[0]) is not a multiple of the \(type) block (\(type.blockLength))")
            }
            let offsetAt = reader.offset
            let rawOffset = try reader.read(UInt64.self, field: "data offset of '\(name)'")
            guard rawOffset < UInt64(mapping.bytes.count), Int(rawOffset) % alignmentValue == 0 else {
                throw FormatError.invalidValue(path: path, field: "data offset of '\(name)'", offset: offsetAt,
                                               reason: "offset \(rawOffset) is beyond the file or not aligned to \(alignmentValue)")
            }
            guard index.updateValue(infos.count, forKey: name) == nil else {
                throw FormatError.invalidValue(path: path, field: "tensor name", offset: infoOffset,
                                               reason: "duplicate tensor '\(name)'")
            }
            infos.append(GGUFTensorInfo(name: name, dimensions: dimensions, type: type,
                                        offset: Int(rawOffset), byteCount: byteCount))
        }
        let padded = (reader.offset + alignmentValue - 1) / alignmentValue * alignmentValue
        dataOffset = padded
        let dataSize = mapping.bytes.count - min(padded, mapping.bytes.count)
        for info in infos {
            let (end, overflow) = info.offset.addingReportingOverflow(info.byteCount)
            guard !overflow, end <= dataSize else {
                throw FormatError.tensorOutOfBounds(path: path, tensor: info.name, offset: padded + info.offset,
                                                    bytes: info.byteCount, limit: mapping.bytes.count)
            }
        }
        tensors = infos
        tensorIndex = index
    }

    /// The directory entry of a tensor, if present.
    public func info(_ name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The tensor's bytes, in place in the mapping.
    /// - Throws: `FormatError.missingTensor` when there is no such tensor.
    public func tensor(_ name: String) throws -> (info: GGUFTensorInfo, bytes: UnsafeRawBufferPointer) {
        guard let info = info(name) else { throw FormatError.missingTensor(path: path, tensor: name) }
        let start = mapping.bytes.baseAddress! + dataOffset + info.offset
        return (info, UnsafeRawBufferPointer(start: start, count: info.byteCount))
    }

    public func requireInt(_ key: String) throws -> Int {
        guard let value = metadata[key] else { throw FormatError.missingKey(path: path, key: key) }
        guard let int = value.intValue else {
            throw FormatError.invalidValue(path: path, field: key, offset: 0, reason: "expected an integer, found \(value)")
        }
        return int
    }

    public func requireString(_ key: String) throws -> String {
        guard let value = metadata[key] else { throw FormatError.missingKey(path: path, key: key) }
        guard let string = value.stringValue else {
            throw FormatError.invalidValue(path: path, field: key, offset: 0, reason: "expected a string")
        }
        return string
    }

    public func double(_ key: String) -> Double? { metadata[key]?.doubleValue }
    public func int(_ key: String) -> Int? { metadata[key]?.intValue }
    public func string(_ key: String) -> String? { metadata[key]?.stringValue }
    public func bool(_ key: String) -> Bool? { metadata[key]?.boolValue }

    /// A string array such as `tokenizer.ggml.tokens`.
    public func strings(_ key: String) throws -> [String]? {
        try array(key, expected: "expected an array of strings", \.stringValue)
    }

    /// A numeric array such as `tokenizer.ggml.token_type` or `tokenizer.ggml.scores`.
    public func numbers(_ key: String) throws -> [Double]? {
        try array(key, expected: "expected a numeric array", \.doubleValue)
    }

    /// An array whose every element converts with `element`; nil when the key is absent.
    private func array<T>(_ key: String, expected: String, _ element: (GGUFValue) -> T?) throws -> [T]? {
        guard let value = metadata[key] else { return nil }
        let reject = FormatError.invalidValue(path: path, field: key, offset: 0, reason: expected)
        guard let array = value.arrayValue else { throw reject }
        return try array.map {
            guard let converted = element($0) else { throw reject }
            return converted
        }
    }
}

/// A bounds-checked little-endian cursor over mapped bytes.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let path: String
    private(set) var offset = 0

    init(bytes: UnsafeRawBufferPointer, path: String) {
        self.bytes = bytes
        self.path = path
    }

    var remaining: Int { bytes.count - offset }

    mutating func bytes(_ count: Int, field: String) throws -> UnsafeRawBufferPointer {
        guard count >= 0, count <= remaining else {
            throw FormatError.truncated(path: path, field: field, offset: offset, needed: count, fileSize: bytes.count)
        }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
        offset += count
        return slice
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, field: String) throws -> T {
        let raw = try bytes(MemoryLayout<T>.size, field: field)
        return T(littleEndian: raw.loadUnaligned(as: T.self))
    }

    /// A u64 element count, refused when that many elements of at least `minimumBytesEach` could not fit.
    mutating func count(field: String, minimumBytesEach: Int) throws -> Int {
        let at = offset
        let raw = try read(UInt64.self, field: field)
        guard raw <= UInt64(remaining / max(minimumBytesEach, 1)) else {
            throw FormatError.invalidValue(path: path, field: field, offset: at,
                                           reason: "count \(raw) cannot fit in the \(remaining) bytes left")
        }
        return Int(raw)
    }

    mutating func string(field: String) throws -> String {
        let length = try count(field: "length of \(field)", minimumBytesEach: 1)
        let at = offset
        let raw = try bytes(length, field: field)
        guard let string = String(validating: raw, as: UTF8.self) else {
            throw FormatError.invalidValue(path: path, field: field, offset: at, reason: "string is not valid UTF-8")
        }
        return string
    }

    mutating func value(rawType: UInt32, field: String, depth: Int) throws -> GGUFValue {
        switch rawType {
        case 0: return .uint8(try read(UInt8.self, field: field))
        case 1: return .int8(try read(Int8.self, field: field))
        case 2: return .uint16(try read(UInt16.self, field: field))
        case 3: return .int16(try read(Int16.self, field: field))
        case 4: return .uint32(try read(UInt32.self, field: field))
        case 5: return .int32(try read(Int32.self, field: field))
        case 6: return .float32(Float(bitPattern: try read(UInt32.self, field: field)))
        case 7:
            let at = offset
            let byte = try read(UInt8.self, field: field)
            guard byte <= 1 else {
                throw FormatError.invalidValue(path: path, field: field, offset: at, reason: "bool byte \(byte)")
            }
            return .bool(byte == 1)
        case 8: return .string(try string(field: field))
        case 9:
            let at = offset
            guard depth < GGUFFile.maximumArrayDepth else {
                throw FormatError.invalidValue(path: path, field: field, offset: at, reason: "arrays nested too deeply")
            }
            let elementType = try read(UInt32.self, field: "element type of \(field)")
            let size = Self.minimumSize(of: elementType)
            guard size > 0 else {
                throw FormatError.invalidValue(path: path, field: field, offset: at,
                                               reason: "unknown array element type \(elementType)")
            }
            let count = try count(field: "length of \(field)", minimumBytesEach: size)
            var elements: [GGUFValue] = []
            elements.reserveCapacity(count)
            for _ in 0..<count {
                elements.append(try value(rawType: elementType, field: field, depth: depth + 1))
            }
            return .array(elements)
        case 10: return .uint64(try read(UInt64.self, field: field))
        case 11: return .int64(try read(Int64.self, field: field))
        case 12: return .float64(Double(bitPattern: try read(UInt64.self, field: field)))
        default:
            throw FormatError.invalidValue(path: path, field: field, offset: offset - 4,
                                           reason: "unknown metadata value type \(rawType)")
        }
    }

    /// Smallest encoding of a value of this type (0 for an unknown type).
    static func minimumSize(of type: UInt32) -> Int {
        switch type {
        case 0, 1, 7: 1
        case 2, 3: 2
        case 4, 5, 6: 4
        case 8: 8
        case 9: 12
        case 10, 11, 12: 8
        default: 0
        }
    }
}
