import Foundation

/// Reads command-line text that may be too long for an argument (Linux allows 128 KiB per argument):
/// `-` is standard input, `@PATH` the contents of a file, `@@text` the literal `@text`, anything else
/// the text itself. One final line break of standard input or a file is dropped.
///
/// ```swift
/// var reader = TextArgumentReader()
/// let question = try reader.text(of: question, argument: "QUESTION")   // "-", "@q.txt" or the text
/// ```
struct TextArgumentReader {
    /// Largest text read from standard input or a file, in bytes.
    var maximumBytes: Int
    /// Where `-` reads from.
    var standardInput: Int32
    private var consumedStandardInput = false

    static let defaultMaximumBytes = 16 << 20

    init(maximumBytes: Int = TextArgumentReader.defaultMaximumBytes, standardInput: Int32 = STDIN_FILENO) {
        self.maximumBytes = maximumBytes
        self.standardInput = standardInput
    }

    /// The text `value` stands for.
    /// - Parameter argument: the option or argument name, for error messages (e.g. `--answer`).
    /// - Throws: ``TextArgumentError`` naming the argument and the file: unreadable, too large, not
    ///   UTF-8 (with the byte offset), or standard input asked for twice.
    mutating func text(of value: String, argument: String) throws -> String {
        if value == "-" {
            guard !consumedStandardInput else {
                throw TextArgumentError(argument: argument, reason: "standard input (-) was already read by another argument")
            }
            consumedStandardInput = true
            return try decode(read(standardInput, what: "standard input", argument: argument), argument: argument,
                              what: "standard input")
        }
        if value.hasPrefix("@@") { return String(value.dropFirst()) }
        guard value.hasPrefix("@"), value.count > 1 else { return value }
        let path = String(value.dropFirst())
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw TextArgumentError(argument: argument, reason: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        return try decode(read(descriptor, what: path, argument: argument), argument: argument, what: path)
    }

    /// Every byte until the end, failing once more than `maximumBytes` arrive.
    private func read(_ descriptor: Int32, what: String, argument: String) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { Foundation.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw TextArgumentError(argument: argument, reason: "cannot read \(what): \(String(cString: strerror(errno)))")
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: buffer[0..<count])
            guard bytes.count <= maximumBytes else {
                throw TextArgumentError(argument: argument, reason: "\(what) is larger than the limit of \(maximumBytes) bytes")
            }
        }
    }

    private func decode(_ bytes: [UInt8], argument: String, what: String) throws -> String {
        if let offset = TextArgumentReader.firstInvalidUTF8(bytes) {
            throw TextArgumentError(argument: argument, reason: "\(what) is not UTF-8 (invalid byte at offset \(offset))")
        }
        var text = String(decoding: bytes, as: UTF8.self)
        if text.hasSuffix("\r\n") { text.removeLast(1) }  // "\r\n" is one Character
        else if text.hasSuffix("\n") { text.removeLast() }
        return text
    }

    /// The byte offset of the first byte that does not start a valid UTF-8 sequence, or `nil`.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded): offset += encoded.count
            case .error: return offset
            case .emptyInput: return nil
            }
        }
    }
}

/// A text argument that could not be read; names the argument and the file.
struct TextArgumentError: Error, CustomStringConvertible {
    var argument: String
    var reason: String
    var description: String { "\(argument): \(reason)" }
}

/// swift-argument-parser takes time that grows faster than the square of the number of arguments
/// (debug build: 2,040 took 3.8 s, 5,000 took 17 s): refuse very long command lines before parsing them.
enum ArgumentCount {
    static let maximum = 1_024

    /// A message when `arguments` (program name included) are too many, else `nil`.
    static func problem(_ arguments: [String]) -> String? {
        guard arguments.count - 1 > maximum else { return nil }
        return """
            dera: \(arguments.count - 1) arguments is more than the \(maximum) this tool accepts; \
            pass long text as - (standard input) or @FILE, and many files as a folder
            """
    }
}
