import Foundation

/// The JSON Lines file a batch of summaries goes to, one line per document, safe to resume after the process is
/// killed at any point (even `kill -9`).
///
/// Each line is written with one `write` of the whole line, newline included, and synced, so a kill leaves every
/// earlier line whole and at most a torn last line. Opening the file again cuts it back to its last newline
/// (dropping the torn line) and reads the id of every line, so the documents already finished are skipped and no
/// document gets two lines.
public final class SummaryOutput {
    public let path: String
    /// Ids of the documents with a line in the file (a summary or an error).
    public private(set) var finished: Set<String>
    /// Bytes of a torn last line that opening removed (0 when the file ended with a newline).
    public let droppedBytes: Int
    private let descriptor: Int32
    private let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }()

    /// An error line: the document's id and why it has no summary.
    public struct Failure: Codable, Sendable, Equatable {
        public var id: String
        public var source: String?
        public var error: String
        public init(id: String, source: String?, error: String) {
            self.id = id
            self.source = source
            self.error = error
        }
    }

    /// Opens (or creates) `path` for appending, after cutting a torn last line.
    /// - Throws: ``PipelineError/badRow(path:line:reason:)`` when a whole line is not a JSON object with a string
    ///   `id` (the file is not this command's output), or the file cannot be opened.
    public init(path: String) throws {
        self.path = path
        let descriptor = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw PipelineError.missingFile(path: path, hint: "cannot open the output: \(String(cString: strerror(errno)))")
        }
        self.descriptor = descriptor
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            let whole = (data.lastIndex(of: 0x0A).map { $0 + 1 }) ?? data.startIndex
            droppedBytes = data.endIndex - whole
            if droppedBytes > 0, ftruncate(descriptor, off_t(whole - data.startIndex)) != 0 {
                throw PipelineError.badRow(path: path, line: 0, reason: "cannot cut the torn last line: \(String(cString: strerror(errno)))")
            }
            finished = try Self.ids(in: data[data.startIndex..<whole], path: path)
        } catch {
            close(descriptor)
            throw error
        }
    }

    deinit { close(descriptor) }

    /// The `id` of every line.
    static func ids(in data: Data, path: String) throws -> Set<String> {
        struct Line: Decodable { var id: String }
        var ids = Set<String>()
        let decoder = JSONDecoder()
        var number = 0
        for line in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
            number += 1
            if line.isEmpty { continue }
            guard let parsed = try? decoder.decode(Line.self, from: line) else {
                throw PipelineError.badRow(path: path, line: number,
                                           reason: "not a summary line (a JSON object with a string \"id\"); is this the right --out file?")
            }
            ids.insert(parsed.id)
        }
        return ids
    }

    /// Appends `value` as one line, in one write, synced to disk, and counts its id as finished.
    public func append(_ value: some Encodable, id: String) throws {
        var line = try encoder.encode(value)
        line.append(0x0A)
        try line.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw PipelineError.badRow(path: path, line: 0, reason: "cannot write: \(String(cString: strerror(errno)))")
                }
                offset += written
            }
        }
        fsync(descriptor)
        finished.insert(id)
    }
}
