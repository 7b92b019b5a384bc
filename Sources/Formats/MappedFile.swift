#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A read-only memory map of a whole file. Checkpoint tensors are read in place from it, never copied.
///
/// The mapping lives as long as this object; views handed out by readers keep it alive.
public final class MappedFile: @unchecked Sendable {
    /// The file that was mapped.
    public let path: String
    /// The mapped bytes (empty for an empty file).
    public let bytes: UnsafeRawBufferPointer

    /// Maps `path` read-only.
    /// - Throws: `FormatError.cannotOpen` when the file cannot be opened, stat-ed or mapped.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw FormatError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw FormatError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw FormatError.cannotOpen(path: path, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw FormatError.cannotOpen(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}

/// Errors raised while reading checkpoint and metadata files. Each names the file and, where it applies,
/// the byte offset and the field that was wrong.
public enum FormatError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case badMagic(path: String, found: String)
    case unsupportedVersion(path: String, version: UInt32)
    case truncated(path: String, field: String, offset: Int, needed: Int, fileSize: Int)
    case invalidValue(path: String, field: String, offset: Int, reason: String)
    case tensorOutOfBounds(path: String, tensor: String, offset: Int, bytes: Int, limit: Int)
    case unsupportedTensorType(path: String, tensor: String, type: String)
    case missingTensor(path: String, tensor: String)
    case missingKey(path: String, key: String)
    case badJSON(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason):
            "\(path): cannot open: \(reason)"
        case let .badMagic(path, found):
            "\(path): not a GGUF file (magic is \(found), expected \"GGUF\")"
        case let .unsupportedVersion(path, version):
            "\(path): GGUF version \(version) is not supported (2 and 3 are)"
        case let .truncated(path, field, offset, needed, fileSize):
            "\(path): truncated at offset \(offset) reading \(field): needs \(needed) bytes, file has \(fileSize)"
        case let .invalidValue(path, field, offset, reason):
            "\(path): invalid \(field) at offset \(offset): \(reason)"
        case let .tensorOutOfBounds(path, tensor, offset, bytes, limit):
            "\(path): tensor '\(tensor)' at offset \(offset) with \(bytes) bytes runs past the end of the data (\(limit))"
        case let .unsupportedTensorType(path, tensor, type):
            "\(path): tensor '\(tensor)' has type \(type), which dera cannot compute with"
        case let .missingTensor(path, tensor):
            "\(path): missing tensor '\(tensor)'"
        case let .missingKey(path, key):
            "\(path): missing metadata key '\(key)'"
        case let .badJSON(path, reason):
            "\(path): \(reason)"
        }
    }
}

extension FormatError: LocalizedError {
    public var errorDescription: String? { description }
}
