import Foundation

/// Records appended one JSON line at a time, so an interrupted run keeps what it finished and a re-run resumes.
enum JSONLRecords {
    /// The records already in `path` (none when it does not exist). A last line cut short by an interruption is
    /// dropped (and cut from the file) so appending continues on a clean line.
    /// - Throws: ``PipelineError/badRow(path:line:reason:)`` naming the line that is not a `T`.
    static func read<T: Decodable>(_ type: T.Type, from path: String, what: String) throws -> [T] {
        guard var data = FileManager.default.contents(atPath: path), !data.isEmpty else { return [] }
        if data.last != UInt8(ascii: "\n") {
            let keep = (data.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 }) ?? 0
            data = data.prefix(keep)
            try data.write(to: URL(fileURLWithPath: path))
        }
        var records: [T] = []
        let decoder = JSONDecoder()
        for (n, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated()
        where !line.isEmpty {
            do {
                records.append(try decoder.decode(T.self, from: Data(line)))
            } catch {
                throw PipelineError.badRow(path: path, line: n + 1,
                                           reason: "not \(what) (\(error)); move the file away to start over")
            }
        }
        return records
    }

    /// A handle that appends to `path`, creating it and its folder.
    static func openForAppending(_ path: String) throws -> FileHandle {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw PipelineError.badRow(path: path, line: 0, reason: "cannot create the file")
            }
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        return handle
    }

    /// One compact JSON line per record, written with a single call so a kill leaves at most one partial line.
    static func append<T: Encodable>(_ records: [T], to handle: FileHandle) throws {
        try handle.write(contentsOf: lines(records))
    }

    /// Replaces the file with `records` atomically (a temporary file renamed into place).
    static func replace<T: Encodable>(_ path: String, with records: [T]) throws {
        try lines(records).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    static func lines<T: Encodable>(_ records: [T]) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = Data()
        for record in records {
            data += try encoder.encode(record)
            data.append(UInt8(ascii: "\n"))
        }
        return data
    }
}
