import Foundation

/// Element types of a safetensors tensor.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

    public var byteSize: Int {
        switch self {
        case .f64, .i64: 8
        case .f32, .i32: 4
        case .f16, .bf16, .i16: 2
        case .i8, .u8, .bool: 1
        }
    }

    /// The matching GGML type for the float types dera computes with.
    public var ggmlType: GGMLType? {
        switch self {
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        default: nil
        }
    }
}

/// One tensor entry of a safetensors header.
public struct SafetensorsTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafetensorsDType
    /// Outermost first, as safetensors (and PyTorch) order them: `[rows, columns]`.
    public let shape: [Int]
    /// Byte range relative to the start of the data (just after the header).
    public let range: Range<Int>
}

/// A safetensors file opened by memory map: an 8-byte little-endian header length, a JSON header, then data.
/// Every entry is checked: known dtype, shape matching byte length, range inside the file.
public struct SafetensorsFile: Sendable {
    public let path: String
    public let tensors: [String: SafetensorsTensorInfo]
    /// The `__metadata__` string map, if any.
    public let metadata: [String: String]
    public let dataOffset: Int
    public let mapping: MappedFile

    /// Largest header accepted (the format's own limit is 100 MB).
    static let maximumHeaderBytes = 100_000_000

    public init(path: String) throws {
        let mapping = try MappedFile(path: path)
        self.mapping = mapping
        self.path = path
        var reader = ByteReader(bytes: mapping.bytes, path: path)
        let headerLength = try reader.read(UInt64.self, field: "header length")
        guard headerLength <= UInt64(min(reader.remaining, Self.maximumHeaderBytes)) else {
            throw FormatError.invalidValue(path: path, field: "header length", offset: 0,
                                           reason: "\(headerLength) bytes, but \(reader.remaining) remain")
        }
        let header = try reader.bytes(Int(headerLength), field: "JSON header")
        dataOffset = 8 + Int(headerLength)
        let dataSize = mapping.bytes.count - dataOffset
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(header))
        } catch {
            throw FormatError.badJSON(path: path, reason: "header is not valid JSON: \(error.localizedDescription)")
        }
        guard let object = json as? [String: Any] else {
            throw FormatError.badJSON(path: path, reason: "header is not a JSON object")
        }
        var tensors: [String: SafetensorsTensorInfo] = [:]
        var metadata: [String: String] = [:]
        for (name, entry) in object {
            if name == "__metadata__" {
                guard let map = entry as? [String: Any] else {
                    throw FormatError.badJSON(path: path, reason: "__metadata__ is not an object")
                }
                for (key, value) in map {
                    guard let string = value as? String else {
                        throw FormatError.badJSON(path: path, reason: "__metadata__.\(key) is not a string")
                    }
                    metadata[key] = string
                }
                continue
            }
            guard let fields = entry as? [String: Any] else {
                throw FormatError.badJSON(path: path, reason: "tensor '\(name)': entry is not an object")
            }
            guard let dtypeName = fields["dtype"] as? String else {
                throw FormatError.badJSON(path: path, reason: "tensor '\(name)': missing field 'dtype'")
            }
            guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
                throw FormatError.badJSON(path: path, reason: "tensor '\(name)': unknown dtype '\(dtypeName)'")
            }
            guard let shapeValues = fields["shape"] as? [Any] else {
                throw FormatError.badJSON(path: path, reason: "tensor '\(name)': missing field 'shape'")
            }
            var shape: [Int] = []
            var elements = 1
            for value in shapeValues {
                guard let number = value as? NSNumber, let dimension = Int(exactly: number.doubleValue),
                      dimension >= 0, dimension < 1 << 40 else {
                    throw FormatError.badJSON(path: path, reason: "tensor '\(name)': bad shape entry \(value)")
                }
                let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
                guard !overflow, product < 1 << 42 else {
                    throw FormatError.badJSON(path: path, reason: "tensor '\(name)': shape overflows")
                }
                elements = product
                shape.append(dimension)
            }
            guard let offsets = fields["data_offsets"] as? [Any], offsets.count == 2,
                  let begin = (offsets[0] as? NSNumber).flatMap({ Int(exactly: $0.doubleValue) }),
                  let end = (offsets[1] as? NSNumber).flatMap({ Int(exactly: $0.doubleValue) }) else {
                throw FormatError.badJSON(path: path, reason: "tensor '\(name)': 'data_offsets' must be [begin, end]")
            }
            guard begin >= 0, begin <= end, end <= dataSize else {
                throw FormatError.tensorOutOfBounds(path: path, tensor: name, offset: dataOffset + begin,
                                                    bytes: end - begin, limit: mapping.bytes.count)
            }
            guard end - begin == elements * dtype.byteSize else {
                throw FormatError.invalidValue(path: path, field: "data_offsets of '\(name)'", offset: dataOffset + begin,
                                               reason: "\(end - begin) bytes for \(elements) \(dtypeName) elements")
            }
            tensors[name] = SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, range: begin..<end)
        }
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The tensor's bytes, in place in the mapping.
    public func tensor(_ name: String) throws -> (info: SafetensorsTensorInfo, bytes: UnsafeRawBufferPointer) {
        guard let info = tensors[name] else { throw FormatError.missingTensor(path: path, tensor: name) }
        let start = mapping.bytes.baseAddress! + dataOffset + info.range.lowerBound
        return (info, UnsafeRawBufferPointer(start: start, count: info.range.count))
    }

    /// Encodes tensors as a safetensors file (used for adapters and test fixtures).
    public static func encode(_ tensors: [(name: String, dtype: SafetensorsDType, shape: [Int], bytes: [UInt8])],
                              metadata: [String: String] = [:]) throws -> [UInt8] {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for tensor in tensors {
            header[tensor.name] = ["dtype": tensor.dtype.rawValue, "shape": tensor.shape,
                                   "data_offsets": [offset, offset + tensor.bytes.count]] as [String: Any]
            offset += tensor.bytes.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = [UInt8]()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: json)
        for tensor in tensors { out.append(contentsOf: tensor.bytes) }
        return out
    }
}
