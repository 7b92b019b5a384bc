import Foundation

/// One document of the inputs a command was given, read exactly as ``Ingestor`` reads it but not stored: for
/// commands that process each document themselves (`dera summarize`).
public struct InputDocument: Sendable {
    /// The document as the user named it: the path given (relative stays relative), the part under a named
    /// folder, and `#key` for a JSONL row (`#L<line>`, or the id field's value). The same command run from the
    /// same folder names the same documents on any machine, whatever the absolute paths.
    public var name: String
    /// The document, or why it could not be read (an unreadable file, a folder that cannot be listed, a JSONL
    /// row without its text field).
    public var content: Result<ExtractedDocument, DocumentReadError>

    public init(name: String, content: Result<ExtractedDocument, DocumentReadError>) {
        self.name = name
        self.content = content
    }

    /// Every document under `paths` (files and folders walked as `dera index` walks them, in the same order; a
    /// file reached twice is read once).
    /// - Throws: ``DocumentReadError`` for a path that does not exist at all; everything else that cannot be read
    ///   is an entry with a failure.
    public static func read(_ paths: [String], options: IngestOptions = IngestOptions(),
                            lister: any FolderLister = FileSystemLister()) throws -> [InputDocument] {
        var result: [InputDocument] = []
        var seen = Set<String>()
        for path in paths {
            let root = URL(fileURLWithPath: path).standardizedFileURL.path
            let named = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
            func name(_ absolute: String) -> String {
                absolute.hasPrefix(root) ? named + absolute.dropFirst(root.count) : absolute
            }
            let inputs = try InputFile.resolve([path], lister: lister)
            for failure in inputs.unreadable where seen.insert(failure.file).inserted {
                result.append(InputDocument(name: name(failure.file), content: .failure(failure)))
            }
            for file in inputs.files where seen.insert(file.path).inserted {
                var badRows: [DocumentReadError] = []
                do {
                    let (documents, _) = try Ingestor.documents(of: file, options: options) { badRows.append($0) }
                    result += documents.map { InputDocument(name: name($0.source), content: .success($0)) }
                } catch {
                    let failure = error as? DocumentReadError
                        ?? DocumentReadError(file: file.path, reason: error.localizedDescription)
                    result.append(InputDocument(name: name(file.path), content: .failure(failure)))
                }
                result += badRows.map { row in
                    InputDocument(name: name(file.path) + "#L\(row.line ?? 0)", content: .failure(row))
                }
            }
        }
        return result
    }
}
