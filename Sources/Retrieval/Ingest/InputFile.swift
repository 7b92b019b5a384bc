import Foundation

/// One file to ingest, found from the paths the user named.
struct InputFile: Equatable {
    /// Absolute, standardized path as the user reached it (through any symbolic links): the document
    /// source (or its prefix, for JSONL rows).
    var path: String
    var format: InputFormat
    var size: Int

    /// What the named paths expand to.
    struct Inputs {
        /// The files to read, sorted by path within each named folder.
        var files: [InputFile] = []
        /// Each named path made absolute: the scope of `deleteMissing`.
        var roots: [String] = []
        /// Folders that could not be listed and entries that could not be examined (a dangling
        /// symbolic link, a permission error). Nothing stored under them may be deleted.
        var unreadable: [DocumentReadError] = []
    }

    /// Expands files and folders into input files.
    ///
    /// Folders are walked recursively, skipping hidden entries and files of unknown format; a file
    /// named explicitly with an unknown extension is read as plain text. Symbolic links are followed;
    /// a folder already walked (same real path: a link loop, or two links to one folder) is not walked
    /// again. The walk is iterative, so deep trees cannot overflow the stack.
    /// - Throws: ``DocumentReadError`` when a named path does not exist at all.
    static func resolve(_ paths: [String], lister: any FolderLister = FileSystemLister()) throws -> Inputs {
        var inputs = Inputs()
        var seenFiles = Set<String>()
        var walkedFolders = Set<String>()  // real paths
        for path in paths {
            let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
            guard let status = FileStatus(absolute) else {
                throw DocumentReadError(file: path, reason: "no such file or directory")
            }
            inputs.roots.append(absolute)
            switch status {
            case .unreadable(let reason):
                inputs.unreadable.append(DocumentReadError(file: absolute, reason: reason))
            case .file(let size), .special(let size):  // a named pipe or device is read if named
                if seenFiles.insert(absolute).inserted {
                    let format = InputFormat(extension: (absolute as NSString).pathExtension) ?? .text
                    inputs.files.append(InputFile(path: absolute, format: format, size: size))
                }
            case .folder:
                var found: [InputFile] = []
                var pending = [absolute]
                while let folder = pending.popLast() {
                    guard walkedFolders.insert(realPath(folder)).inserted else { continue }
                    let names: [String]
                    do {
                        names = try lister.entries(of: folder)
                    } catch {
                        inputs.unreadable.append(DocumentReadError(
                            file: folder, reason: "cannot list the folder: \(error.localizedDescription)"))
                        continue
                    }
                    var subfolders: [String] = []
                    for name in names.sorted() where !name.hasPrefix(".") {
                        let child = folder.hasSuffix("/") ? folder + name : folder + "/" + name
                        switch FileStatus(child) {
                        case nil, .special:
                            continue  // removed while we were listing, or a socket, pipe or device
                        case .unreadable(let reason):
                            inputs.unreadable.append(DocumentReadError(file: child, reason: reason))
                        case .folder:
                            subfolders.append(child)
                        case .file(let size):
                            guard let format = InputFormat(extension: (name as NSString).pathExtension) else { continue }
                            found.append(InputFile(path: child, format: format, size: size))
                        }
                    }
                    pending.append(contentsOf: subfolders.reversed())
                }
                for file in found.sorted(by: { $0.path < $1.path }) where seenFiles.insert(file.path).inserted {
                    inputs.files.append(file)
                }
            }
        }
        return inputs
    }

    /// What a path is, following symbolic links.
    enum FileStatus {
        case file(size: Int)
        case folder
        /// A socket, named pipe or device.
        case special(size: Int)
        /// The entry exists but what it points to cannot be examined.
        case unreadable(String)

        /// `nil` when nothing at all is at `path` (not even a dangling link).
        init?(_ path: String) {
            var target = stat()
            if stat(path, &target) == 0 {
                switch target.st_mode & S_IFMT {
                case S_IFDIR: self = .folder
                case S_IFREG: self = .file(size: Int(target.st_size))
                default: self = .special(size: Int(target.st_size))
                }
                return
            }
            let reason = String(cString: strerror(errno))
            var link = stat()
            guard lstat(path, &link) == 0 else { return nil }
            self = .unreadable((link.st_mode & S_IFMT) == S_IFLNK ? "symbolic link to nothing readable (\(reason))" : reason)
        }
    }

    /// `path` with every symbolic link resolved, or `path` itself when that fails.
    static func realPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Whether a stored source belongs under `root` (a folder, a file, or a JSONL file's rows).
    static func source(_ source: String, isWithin root: String) -> Bool {
        source == root || source.hasPrefix(root.hasSuffix("/") ? root : root + "/") || source.hasPrefix(root + "#")
    }

    /// The paths a stored source may have come from: itself, and (for JSONL rows, `file#key`) the
    /// part before each `#`.
    static func candidateFiles(of source: String) -> [String] {
        var candidates = [source]
        var index = source.startIndex
        while let hash = source[index...].firstIndex(of: "#") {
            candidates.append(String(source[..<hash]))
            index = source.index(after: hash)
        }
        return candidates
    }

    /// Whether nothing is at `path` any more: `lstat` fails because it or a parent folder is gone.
    /// Any other failure (permissions, I/O) proves nothing.
    static func isGone(_ path: String) -> Bool {
        var status = stat()
        if lstat(path, &status) == 0 { return false }
        return errno == ENOENT || errno == ENOTDIR
    }
}
