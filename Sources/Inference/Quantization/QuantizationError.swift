import Formats

/// Why a quantised matrix view could not be made.
public enum QuantizationError: Error, Equatable, CustomStringConvertible {
    /// dera's kernels cannot compute with this element type.
    case unsupportedType(GGMLType)
    /// The row length is not a whole number of the type's blocks.
    case misalignedColumns(type: GGMLType, cols: Int)
    /// The row stride is smaller than one packed row.
    case rowBytesTooSmall(rowBytes: Int, needed: Int)
    /// Negative or overflowing shape.
    case invalidShape(rows: Int, cols: Int)

    public var description: String {
        switch self {
        case .unsupportedType(let t): "element type \(t) is not supported by the kernels"
        case .misalignedColumns(let t, let cols): "\(cols) columns is not a multiple of the \(t) block length \(t.blockLength)"
        case .rowBytesTooSmall(let rowBytes, let needed): "row stride \(rowBytes) B is smaller than one row (\(needed) B)"
        case .invalidShape(let rows, let cols): "invalid matrix shape \(rows) x \(cols)"
        }
    }
}
