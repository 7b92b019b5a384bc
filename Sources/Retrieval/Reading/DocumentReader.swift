import Foundation

/// Turns the bytes of one input file into one or more plain-text documents.
public protocol DocumentReader: Sendable {
    /// - Parameters:
    ///   - data: the file's bytes, in whatever encoding the file uses.
    ///   - source: the file's absolute path, used as the store key (JSONL appends `#key` per row).
    /// - Throws: ``DocumentReadError`` naming the file and, where known, the line and field.
    func documents(in data: Data, source: String) throws -> [ExtractedDocument]
}

extension DocumentReader {
    /// The file name without its extension: the title when the content has none.
    static func fallbackTitle(for source: String) -> String {
        let name = (source as NSString).lastPathComponent
        let stem = (name as NSString).deletingPathExtension
        return stem.isEmpty ? name : stem
    }
}
