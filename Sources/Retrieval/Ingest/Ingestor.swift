import Foundation
import Logging

/// Reads files (or in-memory documents), cuts them into passages and stores them, incrementally.
///
/// Each document's content hash covers its title, text, metadata and the chunker settings. A document
/// whose stored hash matches is skipped; a changed one is replaced (old passages and index entries
/// removed in the same transaction); with ``IngestOptions/deleteMissing``, stored documents under the
/// named paths that were not seen are removed at the end of a run that read every input.
/// Documents are written in transactions of ``IngestOptions/batchSize``: a run killed part way leaves
/// whole documents only, and running it again stores the rest without duplicating any passage.
///
/// ```swift
/// let report = try Ingestor(store: store).ingest(paths: ["docs/"])
/// ```
public struct Ingestor: Sendable {
    public var store: PassageStore
    public var options: IngestOptions
    public var logger: Logger
    public var observer: (any IngestObserver)?

    public init(store: PassageStore, options: IngestOptions = IngestOptions(),
                logger: Logger = Logger(label: "dera.retrieval.ingest"), observer: (any IngestObserver)? = nil) {
        self.store = store
        self.options = options
        self.logger = logger
        self.observer = observer
    }

    /// Ingests files and folders. Unreadable files are reported in ``IngestReport/failures`` and the
    /// run goes on; store errors and observer errors stop it.
    /// - Throws: ``DocumentReadError`` for a path that does not exist, ``StoreError`` for the store.
    @discardableResult
    public func ingest(paths: [String]) throws -> IngestReport {
        let clock = ContinuousClock()
        let started = clock.now
        let (files, roots) = try InputFile.resolve(paths)
        var run = try Run(ingestor: self, totalBytes: files.reduce(0) { $0 + $1.size })
        defer { observer?.finished() }
        var protected: [String] = []  // inputs that failed: never delete what they stored before

        for file in files {
            let documents: [ExtractedDocument]
            do {
                let data = try Data(contentsOf: URL(fileURLWithPath: file.path))
                if file.format == .jsonl {
                    // Bad rows are reported one by one; the file's good rows are still indexed.
                    var badRows: [String] = []
                    documents = options.jsonl.documents(in: data, source: file.path) { badRows.append($0.description) }
                    if !badRows.isEmpty {
                        logger.warning("skipping unusable JSONL rows", metadata: ["file": "\(file.path)", "rows": "\(badRows.count)"])
                        run.report.failures.append(contentsOf: badRows)
                        protected.append(file.path)
                    }
                } else {
                    documents = try file.format.reader(options: options).documents(in: data, source: file.path)
                }
                run.report.bytesRead += data.count
            } catch {
                let reason = (error as? DocumentReadError)?.description ?? "\(file.path): \(error.localizedDescription)"
                logger.warning("skipping unreadable input", metadata: ["reason": "\(reason)"])
                run.report.failures.append(reason)
                protected.append(file.path)
                run.finishInput(bytes: file.size)
                continue
            }
            for (index, document) in documents.enumerated() {
                try run.add(document, bytesSoFar: file.size * (index + 1) / max(1, documents.count))
            }
            run.finishInput(bytes: file.size)
        }
        try run.flush()
        if options.deleteMissing {
            try run.deleteUnseen(within: roots, except: protected)
        }
        run.report.seconds = Ingestor.seconds(clock.now - started)
        return run.report
    }

    /// Ingests documents already in memory. With `deleteMissing`, stored documents whose source
    /// starts with `scope` and that are not among `documents` are removed.
    @discardableResult
    public func ingest(documents: [ExtractedDocument], scope: String? = nil) throws -> IngestReport {
        let clock = ContinuousClock()
        let started = clock.now
        let totalBytes = documents.reduce(0) { $0 + $1.text.utf8.count }
        var run = try Run(ingestor: self, totalBytes: totalBytes)
        defer { observer?.finished() }
        for document in documents {
            let bytes = document.text.utf8.count
            run.report.bytesRead += bytes
            try run.add(document, bytesSoFar: bytes)
            run.finishInput(bytes: bytes)
        }
        try run.flush()
        if options.deleteMissing, let scope {
            try run.deleteUnseen(prefix: scope)
        }
        run.report.seconds = Ingestor.seconds(clock.now - started)
        return run.report
    }

    /// The content hash of a document under these options.
    public func contentHash(of document: ExtractedDocument) -> String {
        var hasher = SHA256()
        let metadata = document.metadata.sorted { $0.key < $1.key }
            .map { "\($0.key)\u{1F}\($0.value)" }.joined(separator: "\u{1E}")
        for part in [options.chunker.signature, document.title, metadata, document.text] {
            hasher.update(part.utf8)
            hasher.update([0])
        }
        return hasher.finalizeHex()
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// State of one run: what is stored, what was seen, the batch waiting to be written.
    private struct Run {
        let ingestor: Ingestor
        let existing: [String: String]
        let totalBytes: Int
        var seen = Set<String>()
        var pending: [(document: Document, passages: [Passage], replacing: Bool)] = []
        var report = IngestReport()
        var handledDocuments = 0
        var finishedBytes = 0

        init(ingestor: Ingestor, totalBytes: Int) throws {
            self.ingestor = ingestor
            self.existing = try ingestor.store.contentHashes()
            self.totalBytes = totalBytes
        }

        mutating func add(_ extracted: ExtractedDocument, bytesSoFar: Int) throws {
            seen.insert(extracted.source)
            let hash = ingestor.contentHash(of: extracted)
            if existing[extracted.source] == hash {
                report.unchanged += 1
            } else {
                let passages = ingestor.options.chunker.passages(of: extracted.text)
                let document = Document(source: extracted.source, title: extracted.title, contentHash: hash,
                                        metadata: extracted.metadata)
                pending.append((document, passages, existing[extracted.source] != nil))
                if pending.count >= ingestor.options.batchSize { try flush() }
            }
            handledDocuments += 1
            ingestor.observer?.progressed(IngestProgress(
                documents: handledDocuments, bytes: finishedBytes + bytesSoFar, totalBytes: totalBytes))
        }

        mutating func finishInput(bytes: Int) {
            finishedBytes += bytes
        }

        /// Writes the pending batch in one transaction.
        mutating func flush() throws {
            guard !pending.isEmpty else { return }
            let batch = pending
            let observer = ingestor.observer
            try ingestor.store.write { transaction in
                for item in batch {
                    try transaction.replace(item.document, passages: item.passages)
                    try observer?.stored(item.document, passages: item.passages.count)
                }
            }
            pending.removeAll(keepingCapacity: true)
            for item in batch {
                if item.replacing { report.replaced += 1 } else { report.added += 1 }
                report.passages += item.passages.count
            }
        }

        mutating func deleteUnseen(within roots: [String], except protected: [String]) throws {
            let doomed = existing.keys.filter { source in
                !seen.contains(source)
                    && roots.contains { InputFile.source(source, isWithin: $0) }
                    && !protected.contains { InputFile.source(source, isWithin: $0) }
            }
            try delete(doomed.sorted())
        }

        mutating func deleteUnseen(prefix: String) throws {
            try delete(existing.keys.filter { !seen.contains($0) && $0.hasPrefix(prefix) }.sorted())
        }

        private mutating func delete(_ sources: [String]) throws {
            guard !sources.isEmpty else { return }
            let removed = try ingestor.store.write { transaction in
                try sources.reduce(0) { count, source in count + (try transaction.delete(source: source) ? 1 : 0) }
            }
            report.deleted += removed
        }
    }
}
