import Foundation
import Testing
@testable import Retrieval

/// Lists folders like the file system, except that the chosen ones fail as a permission error would
/// (the tests run as root, whom permissions never stop).
struct FailingLister: FolderLister {
    let failing: Set<String>

    func entries(of folder: String) throws -> [String] {
        if failing.contains(folder) { throw POSIXError(.EACCES) }
        return try FileSystemLister().entries(of: folder)
    }
}

/// `--delete-missing` deletes only what a run proved missing; symbolic links are followed once.
struct DeleteMissingProofTests {
    let deleting = IngestOptions(deleteMissing: true)

    func sources(_ store: PassageStore) throws -> [String] {
        try store.contentHashes().keys.sorted()
    }

    @Test func aFolderThatCannotBeListedKeepsEverythingUnderIt() throws {
        let folder = try Fixtures.temporaryFolder()
        try Fixtures.write("Alpha text about lakes.", to: folder, "a.txt")
        try Fixtures.write("Beta text about rivers.", to: folder, "sub/b.txt")
        try Fixtures.write("Gamma text about hills.", to: folder, "sub/c.txt")
        let store = try PassageStore.inMemory()
        #expect(try Ingestor(store: store).ingest(paths: [folder.path]).added == 3)
        try FileManager.default.removeItem(at: folder.appendingPathComponent("a.txt"))

        let sub = folder.appendingPathComponent("sub").path
        let report = try Ingestor(store: store, options: deleting, lister: FailingLister(failing: [sub]))
            .ingest(paths: [folder.path])
        #expect(report.deleted == 1)  // a.txt is gone; b and c were not seen but not proved gone
        #expect(report.failures.count == 1)
        #expect(report.failures.first?.hasPrefix("\(sub): cannot list the folder") == true, "\(report.failures)")
        #expect(try sources(store) == ["\(sub)/b.txt", "\(sub)/c.txt"])

        let unlistedRoot = try Ingestor(store: store, options: deleting, lister: FailingLister(failing: [folder.path]))
            .ingest(paths: [folder.path])
        #expect(unlistedRoot.deleted == 0)
        #expect(unlistedRoot.failures.count == 1)
        #expect(try store.statistics().documents == 2)
    }

    @Test func aDanglingSymbolicLinkIsReportedAndItsDocumentKept() throws {
        let folder = try Fixtures.temporaryFolder()
        let file = try Fixtures.write("Delta text about caves.", to: folder, "x.txt")
        try Fixtures.write("Epsilon text about dunes.", to: folder, "y.txt")
        let store = try PassageStore.inMemory()
        try Ingestor(store: store).ingest(paths: [folder.path])
        // x.txt now cannot be examined: an entry is there, but not a readable file.
        try FileManager.default.removeItem(at: file)
        try FileManager.default.createSymbolicLink(atPath: file.path, withDestinationPath: "/nonexistent/target.txt")

        let report = try Ingestor(store: store, options: deleting).ingest(paths: [folder.path])
        #expect(report.deleted == 0)
        #expect(report.unchanged == 1)
        #expect(report.failures.count == 1)
        #expect(report.failures.first?.contains("x.txt: symbolic link to nothing readable") == true, "\(report.failures)")
        #expect(try store.statistics().documents == 2)
    }

    @Test func aFileWhereTheFolderWasProvesItsDocumentsGone() throws {
        let folder = try Fixtures.temporaryFolder()
        try Fixtures.write("Zeta text about reefs.", to: folder, "sub/z.txt")
        try Fixtures.write("Eta text about glaciers.", to: folder, "keep.txt")
        let store = try PassageStore.inMemory()
        try Ingestor(store: store).ingest(paths: [folder.path])
        try FileManager.default.removeItem(at: folder.appendingPathComponent("sub"))
        try Fixtures.write("now a file without an indexable extension", to: folder, "sub")

        let report = try Ingestor(store: store, options: deleting).ingest(paths: [folder.path])
        #expect(report.failures.isEmpty)
        #expect(report.deleted == 1)
        #expect(try sources(store) == [folder.appendingPathComponent("keep.txt").path])
    }

    @Test func rowsGoneFromAJSONLFileReadWholeAreDeleted() throws {
        let folder = try Fixtures.temporaryFolder()
        let rows = try Fixtures.write(#"{"id": "a", "text": "first row"}"# + "\n" + #"{"id": "b", "text": "second row"}"# + "\n",
                                      to: folder, "rows.jsonl")
        let store = try PassageStore.inMemory()
        let options = IngestOptions(jsonl: JSONLReader(idField: "id"), deleteMissing: true)
        try Ingestor(store: store, options: options).ingest(paths: [folder.path])
        try Fixtures.write(#"{"id": "a", "text": "first row"}"# + "\n", to: folder, "rows.jsonl")
        let report = try Ingestor(store: store, options: options).ingest(paths: [folder.path])
        #expect(report.deleted == 1)
        #expect(try sources(store) == ["\(rows.path)#a"])
    }

    @Test func symbolicLinksToFoldersAreFollowedOnceAndLoopsEnd() throws {
        let real = try Fixtures.temporaryFolder("real")
        try Fixtures.write("Theta text about comets.", to: real, "r1.txt")
        try Fixtures.write("Iota text about moons.", to: real, "deeper/r2.md")
        let root = try Fixtures.temporaryFolder("root")
        try Fixtures.write("Kappa text about tides.", to: root, "own.txt")
        let manager = FileManager.default
        try manager.createSymbolicLink(atPath: root.appendingPathComponent("link").path, withDestinationPath: real.path)
        try manager.createSymbolicLink(atPath: root.appendingPathComponent("zlink").path, withDestinationPath: real.path)
        try manager.createSymbolicLink(atPath: root.appendingPathComponent("loop").path, withDestinationPath: root.path)
        try manager.createSymbolicLink(atPath: real.appendingPathComponent("deeper/up").path, withDestinationPath: real.path)

        let store = try PassageStore.inMemory()
        let report = try Ingestor(store: store).ingest(paths: [root.path])
        #expect(report.failures.isEmpty)
        #expect(report.added == 3)  // own, and r1 and r2 once (through "link", the first name in order)
        #expect(try sources(store) == [root.path + "/link/deeper/r2.md", root.path + "/link/r1.txt", root.path + "/own.txt"])

        // A symbolic link named as the input is a folder like any other.
        let linkStore = try PassageStore.inMemory()
        let viaLink = try Ingestor(store: linkStore).ingest(paths: [root.appendingPathComponent("zlink").path])
        #expect(viaLink.added == 2)
    }
}

/// Two ingestion runs on one store at once: counts stay true and nothing is stored twice.
struct ConcurrentIngestTests {
    /// Holds each run at its first document until both runs got there, so both read the store's
    /// hashes before either writes (the race that made two runs both report every document added).
    final class Rendezvous: @unchecked Sendable {
        private let condition = NSCondition()
        private var arrived = 0

        final class Runner: IngestObserver, @unchecked Sendable {
            let rendezvous: Rendezvous
            private var waited = false
            init(_ rendezvous: Rendezvous) { self.rendezvous = rendezvous }
            func progressed(_ progress: IngestProgress) {
                guard !waited else { return }
                waited = true
                rendezvous.arrive()
            }
        }

        func arrive() {
            condition.lock()
            arrived += 1
            condition.broadcast()
            let deadline = Date().addingTimeInterval(10)
            while arrived < 2, condition.wait(until: deadline) {}
            condition.unlock()
        }
    }

    final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var reports: [IngestReport] = []
        private var errors: [any Error] = []
        func add(_ result: Result<IngestReport, any Error>) {
            lock.withLock {
                switch result {
                case .success(let report): reports.append(report)
                case .failure(let error): errors.append(error)
                }
            }
        }
        var all: ([IngestReport], [any Error]) { lock.withLock { (reports, errors) } }
    }

    @Test func twoRunsAtOnceReportTrueCounts() throws {
        let folder = try Fixtures.temporaryFolder()
        for index in 0..<60 {
            try Fixtures.write("Document \(index) about marker\(index). It has a second sentence.", to: folder,
                               String(format: "d%02d.txt", index))
        }
        let path = try Fixtures.temporaryFolder("store").appendingPathComponent("shared.sqlite").path
        _ = try PassageStore(path: path)  // create the schema once, so both runs only add documents
        let rendezvous = Rendezvous()
        let results = Results()
        let group = DispatchGroup()
        for _ in 0..<2 {
            let observer = Rendezvous.Runner(rendezvous)
            group.enter()
            Thread.detachNewThread {
                results.add(Result {
                    let store = try PassageStore(path: path)
                    return try Ingestor(store: store, options: IngestOptions(batchSize: 5), observer: observer)
                        .ingest(paths: [folder.path])
                })
                group.leave()
            }
        }
        group.wait()
        let (reports, errors) = results.all
        #expect(errors.isEmpty, "\(errors)")
        #expect(reports.count == 2)
        #expect(reports.map(\.added).reduce(0, +) == 60, "\(reports.map(\.added))")
        #expect(reports.map(\.unchanged).reduce(0, +) == 60, "\(reports.map(\.unchanged))")
        let store = try PassageStore(path: path)
        #expect(try store.statistics().documents == 60)
        #expect(try store.statistics().passages == 60)
        try store.checkIntegrity()
    }
}
