import Foundation

/// One file to ingest, found from the paths the user named.
struct InputFile: Equatable {
    /// Absolute, standardized path: the document source (or its prefix, for JSONL rows).
    var path: String
    var format: InputFormat
    var size: Int

    /// Expands files and folders into input files, sorted by path within each folder.
    /// Folders are walked recursively, skipping hidden entries and files of unknown format; a file
    /// named explicitly with an unknown extension is read as plain text.
    /// - Returns: the files, and each named path made absolute (the scope of `deleteMissing`).
    static func resolve(_ paths: [String]) throws -> (files: [InputFile], roots: [String]) {
        let manager = FileManager.default
        var files: [InputFile] = []
        var roots: [String] = []
        var seen = Set<String>()
        for path in paths {
            let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: absolute, isDirectory: &isDirectory) else {
                throw DocumentReadError(file: path, reason: "no such file or directory")
            }
            roots.append(absolute)
            if isDirectory.boolValue {
                let folder = URL(fileURLWithPath: absolute, isDirectory: true)
                guard let walker = manager.enumerator(
                    at: folder, includingPropertiesForKeys: [.isRegularFileKey, .fileSizeKey],
                    options: [.skipsHiddenFiles])
                else { throw DocumentReadError(file: path, reason: "cannot list the folder") }
                var found: [InputFile] = []
                for case let url as URL in walker {
                    let values = try? url.resourceValues(forKeys: [.isRegularFileKey, .fileSizeKey])
                    guard values?.isRegularFile == true,
                          let format = InputFormat(extension: url.pathExtension) else { continue }
                    found.append(InputFile(path: url.standardizedFileURL.path, format: format,
                                           size: values?.fileSize ?? 0))
                }
                for file in found.sorted(by: { $0.path < $1.path }) where seen.insert(file.path).inserted {
                    files.append(file)
                }
            } else if seen.insert(absolute).inserted {
                let size = (try? manager.attributesOfItem(atPath: absolute)[.size] as? Int) ?? 0
                let format = InputFormat(extension: (absolute as NSString).pathExtension) ?? .text
                files.append(InputFile(path: absolute, format: format, size: size))
            }
        }
        return (files, roots)
    }

    /// Whether a stored source belongs under `root` (a folder, a file, or a JSONL file's rows).
    static func source(_ source: String, isWithin root: String) -> Bool {
        source == root || source.hasPrefix(root.hasSuffix("/") ? root : root + "/") || source.hasPrefix(root + "#")
    }
}
