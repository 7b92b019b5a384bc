import Foundation

/// Lists the entries of a folder while inputs are gathered.
///
/// A parameter of ``Ingestor`` so that tests can make a folder fail to list: they run as root, for
/// whom file permissions never deny a read.
public protocol FolderLister: Sendable {
    /// The names of the entries of `folder` (without `.` and `..`).
    /// - Throws: when the folder cannot be listed; everything under it then counts as unreadable.
    func entries(of folder: String) throws -> [String]
}

/// Lists folders with the file system.
public struct FileSystemLister: FolderLister {
    public init() {}

    public func entries(of folder: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder)
    }
}
