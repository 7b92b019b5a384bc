import Foundation
import Embedding
import Logging

/// Reads files (or in-memory documents), cuts them into passages and stores them, incrementally.
///
/// Each document's content hash covers its title, text, metadata and the chunker settings. A document
/// whose stored hash matches is skipped; a changed one is replaced (old passages and index entries
/// removed in the same transaction); with ``IngestOptions/deleteMissing``, stored documents under the
/// named paths are removed only when proved missing: their file is gone (or, for a JSONL row, its
/// file was read whole and no longer has the row). A folder that cannot be listed, an entry that cannot
/// be examined and a file that cannot be read prove nothing: what is stored under them stays, and they
/// are reported in ``IngestReport/failures``.
///
/// Several runs (threads or processes) may write one store at once: each batch is one `BEGIN
/// IMMEDIATE` transaction that re-reads the stored hashes it depends on, so the counts each run
/// reports are true and no document is stored twice.
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
    /// Lists folders while inputs are gathered.
    public var lister: any FolderLister
    /// Computes a vector for every passage written, stored in the same transaction; nil stores none.
    public var embedder: (any TextEmbedder)?

    public init(store: PassageStore, options: IngestOptions = IngestOptions(),
                logger: Logger = Logger(label: "dera.retrieval.ingest"), observer: (any IngestObserver)? = nil,
                lister: any FolderLister = FileSystemLister(), embedder: (any TextEmbedder)? = nil) {
        self.embedder = embedder
        self.store = store
        self.options = options
        self.logger = logger
        self.observer = observer
        self.lister = lister
    }

    /// Ingests files and folders. Unreadable files and folders are reported in ``IngestReport/failures``
    /// and the run goes on; store errors and observer errors stop it.
    /// - Throws: ``DocumentReadError`` for a path that does not exist, ``StoreError`` for the store.
    @discardableResult
    public func ingest(paths: [String]) throws -> IngestReport {
        let clock = ContinuousClock()
        let started = clock.now
        let inputs = try InputFile.resolve(paths, lister: lister)
        let files = inputs.files
        var run = try Run(ingestor: self, totalBytes: files.reduce(0) { $0 + $1.size })
        defer { observer?.finished() }
        var protected: [String] = []  // inputs that failed: never delete what they stored before
        var readWhole = Set<String>()  // files read with no error: their rows not seen are gone
        for failure in inputs.unreadable {
            logger.warning("skipping unreadable input", metadata: ["reason": "\(failure)"])
            run.report.failures.append(failure.description)
            protected.append(failure.file)
        }

        for file in files {
            let documents: [ExtractedDocument]
            do {
                // Bad JSONL rows are reported one by one; the file's good rows are still indexed.
                var badRows: [String] = []
                let bytes: Int
                (documents, bytes) = try Ingestor.documents(of: file, options: options) { badRows.append($0.description) }
                if !badRows.isEmpty {
                    logger.warning("skipping unusable JSONL rows", metadata: ["file": "\(file.path)", "rows": "\(badRows.count)"])
                    run.report.failures.append(contentsOf: badRows)
                    protected.append(file.path)
                }
                if protected.last != file.path { readWhole.insert(file.path) }
                run.report.bytesRead += bytes
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
            try run.deleteUnseen(within: inputs.roots, except: protected, readWhole: readWhole)
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

    /// Computes and stores the vectors that stored passages lack (passages indexed without an embedder, or by a run
    /// killed between batches), `batchSize` passages per transaction, so a killed backfill keeps what it finished.
    /// - Parameter progress: called after each batch with the passages done and the total that lacked vectors.
    /// - Returns: how many vectors were stored.
    @discardableResult
    public func backfillVectors(batchSize: Int = 256, progress: ((Int, Int) -> Void)? = nil) throws -> Int {
        guard let embedder else { return 0 }
        let model = VectorModel(identity: embedder.identity, dimension: embedder.dimension)
        let total = try store.vectorCoverage().without
        var done = 0
        var skipped = Set<Int64>()
        while true {
            let batch = try store.passagesWithoutVectors(limit: batchSize + skipped.count)
                .filter { !skipped.contains($0.id) }.prefix(batchSize)
            guard !batch.isEmpty else { break }
            let vectors = try embedder.embed(batch.map(\.text))
            let stored = try store.write { transaction in
                try transaction.recordVectorModel(model)
                return try zip(batch, vectors).map { item, vector in
                    try transaction.storeVector(vector, passageID: item.id, embeddedText: item.text)
                }
            }
            // A passage changed under the backfill is left for the next pass to read afresh.
            for (item, ok) in zip(batch, stored) where !ok { skipped.insert(item.id) }
            done += stored.filter { $0 }.count
            progress?(done, total)
            if stored.allSatisfy({ !$0 }) { break }
        }
        return done
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

    /// The documents of one input file and its size in bytes: each JSONL row that cannot be used goes to
    /// `invalidRow` and the file's other rows are kept; any other format yields its documents or throws.
    static func documents(of file: InputFile, options: IngestOptions, invalidRow: (DocumentReadError) -> Void)
        throws -> (documents: [ExtractedDocument], bytes: Int) {
        let data = try Ingestor.read(file, limits: options.limits)
        if file.format == .jsonl {
            return (options.jsonl.documents(in: data, source: file.path, invalidRow: invalidRow), data.count)
        }
        return (try file.format.reader(options: options).documents(in: data, source: file.path), data.count)
    }

    /// The bytes of `file`, failing as soon as they pass the size limit (a file that grows, or a
    /// named pipe or device, is not read without end).
    static func read(_ file: InputFile, limits: ReadLimits) throws -> Data {
        try limits.checkSize(file.size, file: file.path)
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: file.path))
        defer { try? handle.close() }
        var data = Data()
        data.reserveCapacity(file.size)
        while let chunk = try handle.read(upToCount: 1 << 22), !chunk.isEmpty {
            data.append(chunk)
            try limits.checkSize(data.count, file: file.path)
        }
        return data
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
        var pending: [(document: Document, passages: [Passage])] = []
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
                pending.append((document, passages))
                if pending.count >= ingestor.options.batchSize { try flush() }
            }
            handledDocuments += 1
            ingestor.observer?.progressed(IngestProgress(
                documents: handledDocuments, bytes: finishedBytes + bytesSoFar, totalBytes: totalBytes,
                embedded: report.embedded))
        }

        mutating func finishInput(bytes: Int) {
            finishedBytes += bytes
        }

        /// Writes the pending batch in one `BEGIN IMMEDIATE` transaction. Inside it each document's
        /// stored hash is read again: another writer may have stored the same version meanwhile (then
        /// it counts as unchanged) or a first version (then it counts as replaced).
        mutating func flush() throws {
            guard !pending.isEmpty else { return }
            let batch = pending
            let observer = ingestor.observer
            // Vectors are computed before the transaction so the write lock is held only for the writes.
            let vectors = try ingestor.embedder.map { try embed(batch, with: $0) }
            let model = ingestor.embedder.map { VectorModel(identity: $0.identity, dimension: $0.dimension) }
            let outcomes = try ingestor.store.write { transaction in
                if let model { try transaction.recordVectorModel(model) }
                return try batch.enumerated().map { index, item -> Outcome in
                    let stored = try transaction.contentHash(source: item.document.source)
                    if stored == item.document.contentHash { return .unchanged }
                    try transaction.replace(item.document, passages: item.passages, vectors: vectors?[index])
                    try observer?.stored(item.document, passages: item.passages.count)
                    return stored == nil ? .added : .replaced
                }
            }
            pending.removeAll(keepingCapacity: true)
            for (item, outcome) in zip(batch, outcomes) {
                switch outcome {
                case .added: report.added += 1
                case .replaced: report.replaced += 1
                case .unchanged: report.unchanged += 1; continue
                }
                report.passages += item.passages.count
            }
        }

        enum Outcome { case added, replaced, unchanged }

        /// One vector per passage of each document of the batch: reused from the stored version of the document
        /// when its embedded text is unchanged, computed otherwise (all new texts of the batch in one call).
        mutating func embed(_ batch: [(document: Document, passages: [Passage])],
                            with embedder: any TextEmbedder) throws -> [[[Float]]] {
            let model = VectorModel(identity: embedder.identity, dimension: embedder.dimension)
            let replaced = batch.map(\.document.source).filter { existing[$0] != nil }
            let stored = try ingestor.store.storedVectors(sources: replaced, model: model)
            let texts = batch.map { item in
                item.passages.map { PassageVector.embeddingText(title: item.document.title, text: $0.text) }
            }
            var needed: [String] = []
            var seenNeeded = Set<String>()
            for text in texts.joined() where stored[text] == nil && seenNeeded.insert(text).inserted {
                needed.append(text)
            }
            let clock = ContinuousClock()
            let started = clock.now
            let computed = needed.isEmpty ? [] : try embedder.embed(needed)
            report.embeddingSeconds += Ingestor.seconds(clock.now - started)
            guard computed.count == needed.count, computed.allSatisfy({ $0.count == model.dimension }) else {
                throw StoreError(path: ingestor.store.path, operation: "embedding passages", reason: """
                    the embedder '\(model.identity)' returned \(computed.count) vectors for \(needed.count) texts, \
                    or vectors of another size than \(model.dimension)
                    """)
            }
            let fresh = Dictionary(zip(needed, computed), uniquingKeysWith: { first, _ in first })
            report.embedded += needed.count
            report.vectorsReused += texts.joined().filter { stored[$0] != nil }.count
            return texts.map { $0.map { stored[$0] ?? fresh[$0]! } }
        }

        /// Deletes the stored documents under `roots` that this run proved missing: not seen, not
        /// under an input that failed, and either their file is gone or it was read whole without them.
        mutating func deleteUnseen(within roots: [String], except protected: [String], readWhole: Set<String>) throws {
            let doomed = existing.keys.filter { source in
                guard !seen.contains(source),
                      roots.contains(where: { InputFile.source(source, isWithin: $0) }),
                      !protected.contains(where: { InputFile.source(source, isWithin: $0) })
                else { return false }
                let candidates = InputFile.candidateFiles(of: source)
                if candidates.dropFirst().contains(where: readWhole.contains) { return true }  // a row gone from its file
                return candidates.allSatisfy(InputFile.isGone)
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
