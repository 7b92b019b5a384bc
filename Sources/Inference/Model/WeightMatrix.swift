import CKernels
import Formats

/// A named weight matrix read in place from a checkpoint: a ``QuantizedMatrix`` view (`rows` output features,
/// each a row of `columns` input features encoded in `type`) plus the mapping that keeps its bytes alive.
/// `y = W x` reads row r for output r.
public struct WeightMatrix: @unchecked Sendable {
    public let name: String
    public let matrix: QuantizedMatrix
    /// Keeps the memory map (or owned buffer) alive while the view is used.
    let owner: AnyObject

    /// - Throws: `ModelError.unsupportedTensorType` when the kernels cannot compute with `type` or the row
    ///   length is not a whole number of its blocks.
    public init(name: String, type: GGMLType, rows: Int, columns: Int, base: UnsafeRawPointer, owner: AnyObject,
                path: String = "") throws {
        do {
            matrix = try QuantizedMatrix(type: type, rows: rows, cols: columns, base: base)
        } catch {
            throw ModelError.unsupportedTensorType(path: path, tensor: name, type: "\(type) (\(error))")
        }
        self.name = name
        self.owner = owner
    }

    public var type: GGMLType { matrix.type }
    public var rows: Int { matrix.rows }
    public var columns: Int { matrix.cols }
    public var rowBytes: Int { matrix.rowBytes }
    public var base: UnsafeRawPointer { matrix.base }

    /// Writes row `index` as floats into `destination` (which holds `columns` floats).
    public func dequantizeRow(_ index: Int, into destination: UnsafeMutablePointer<Float>) {
        matrix.dequantizeRow(index, into: destination)
    }
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
        return try WeightMatrix(name: name, type: type, rows: rows, columns: columns, base: data.baseAddress!,
                                owner: owner, path: path)
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
