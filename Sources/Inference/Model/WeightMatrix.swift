import CKernels
import Formats

/// A weight matrix read in place from a checkpoint: `rows` output features, each a row of `columns` input
/// features encoded in `type` (quantised blocks or plain floats). `y = W x` reads row r for output r.
public struct WeightMatrix: @unchecked Sendable {
    public let name: String
    public let type: GGMLType
    public let rows: Int
    public let columns: Int
    public let rowBytes: Int
    public let base: UnsafeRawPointer
    /// Keeps the memory map (or owned buffer) alive while the view is used.
    let owner: AnyObject

    public init(name: String, type: GGMLType, rows: Int, columns: Int, base: UnsafeRawPointer, owner: AnyObject) {
        self.name = name
        self.type = type
        self.rows = rows
        self.columns = columns
        self.rowBytes = type.byteCount(elements: columns) ?? 0
        self.base = base
        self.owner = owner
    }

    @inlinable public func row(_ index: Int) -> UnsafeRawPointer { base + index * rowBytes }

    /// Writes row `index` as floats into `destination` (which holds `columns` floats).
    public func dequantizeRow(_ index: Int, into destination: UnsafeMutablePointer<Float>) {
        dera_dequantize_row(type.rawValue, row(index), destination, Int64(columns))
    }
}

/// An owned, aligned float buffer for weights that had to be converted (for example transposed or merged).
final class FloatStorage: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }
    deinit { pointer.deallocate() }
}

/// Where a model's tensors come from: a GGUF file or a Hugging Face folder, behind one interface.
public protocol TensorSource: Sendable {
    var path: String { get }
    /// Dimensions innermost first (GGUF order) and the element type, or nil when absent.
    func describe(_ name: String) -> (dimensions: [Int], type: GGMLType)?
    func bytes(_ name: String) throws -> UnsafeRawBufferPointer
    var owner: AnyObject { get }
}

extension TensorSource {
    public func has(_ name: String) -> Bool { describe(name) != nil }

    /// A 2-D tensor as a matrix of `rows` x `columns`, checked against the expected shape.
    public func matrix(_ name: String, rows: Int, columns: Int) throws -> WeightMatrix {
        guard let (dimensions, type) = describe(name) else { throw FormatError.missingTensor(path: path, tensor: name) }
        guard dimensions == [columns, rows] else {
            throw ModelError.badTensorShape(path: path, tensor: name, expected: [columns, rows], found: dimensions)
        }
        guard type.isSupportedForCompute else {
            throw ModelError.unsupportedTensorType(path: path, tensor: name, type: type.description)
        }
        let data = try bytes(name)
        return WeightMatrix(name: name, type: type, rows: rows, columns: columns, base: data.baseAddress!, owner: owner)
    }

    /// A 1-D tensor (norm weights, biases) converted to floats.
    public func vector(_ name: String, count: Int) throws -> [Float] {
        guard let (dimensions, type) = describe(name) else { throw FormatError.missingTensor(path: path, tensor: name) }
        guard dimensions == [count] else {
            throw ModelError.badTensorShape(path: path, tensor: name, expected: [count], found: dimensions)
        }
        guard type.isSupportedForCompute, count % type.blockLength == 0 else {
            throw ModelError.unsupportedTensorType(path: path, tensor: name, type: type.description)
        }
        let data = try bytes(name)
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            dera_dequantize_row(type.rawValue, data.baseAddress!, buffer.baseAddress!, Int64(count))
            initialized = count
        }
    }
}

extension GGUFFile: TensorSource {
    public func describe(_ name: String) -> (dimensions: [Int], type: GGMLType)? {
        info(name).map { ($0.dimensions, $0.type) }
    }
    public func bytes(_ name: String) throws -> UnsafeRawBufferPointer { try tensor(name).bytes }
    public var owner: AnyObject { mapping }
}

extension HFModelFolder: TensorSource {
    public var path: String { directory }
    public func describe(_ name: String) -> (dimensions: [Int], type: GGMLType)? {
        guard let info = try? tensor(name).info, let type = info.dtype.ggmlType else { return nil }
        return (info.shape.reversed(), type)
    }
    public func bytes(_ name: String) throws -> UnsafeRawBufferPointer { try tensor(name).bytes }
    public var owner: AnyObject { shards as AnyObject }
}
