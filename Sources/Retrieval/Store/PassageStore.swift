import Foundation
import GRDB

/// Documents, their passages and an FTS5 index over them, in one SQLite file.
///
/// ```swift
/// let store = try PassageStore(path: "index.sqlite")
/// let hits = try store.search("capital of France", options: SearchOptions(limit: 5))
/// ```
///
/// All writes go through ``write(_:)``, one SQLite transaction per call: a process killed mid-write
/// leaves the file as it was before that call.
///
/// Commands that only read open the store with ``init(readOnlyPath:verify:)``: SQLite opens the file
/// read-only, so nothing (no table, no journal mode) is ever written to it, and a file that is not
/// a dera store is refused. Both initialisers refuse a SQLite file that holds other tables, and by
/// default run `PRAGMA quick_check` so that a store with corrupt pages fails at once with an error
/// instead of answering from whatever pages still read.
public struct PassageStore: Sendable {
    /// The SQLite file, or `:memory:`.
    public let path: String
    /// Opened with ``init(readOnlyPath:verify:)``: every write fails.
    public let isReadOnly: Bool
    let queue: DatabaseQueue
    let frequencies = ClauseFrequencyCache()
    let vectors = DenseIndexCache()

    /// Opens the store at `path` for reading and writing and brings its schema up to date.
    /// - Parameters:
    ///   - createIfMissing: when `false`, a missing file is an error instead of a new empty store.
    ///   - verify: run `PRAGMA quick_check` (reads every page once) and fail on corruption.
    /// - Throws: ``StoreError`` for a missing file (when not created), a file that is not SQLite, a
    ///   SQLite file that holds other tables than a passage store's, or corruption.
    public init(path: String, createIfMissing: Bool = true, verify: Bool = true) throws {
        if !createIfMissing { try PassageStore.requireFile(path) }
        self.path = path
        self.isReadOnly = false
        queue = try PassageStore.open(path, readOnly: false, verify: verify)
    }

    /// Opens an existing store read-only (`SQLITE_OPEN_READONLY`): for `search`, `ask`, `check`.
    /// - Parameter verify: run `PRAGMA quick_check` (reads every page once) and fail on corruption.
    /// - Throws: ``StoreError`` when the file is missing, is not SQLite, is a SQLite file but not a
    ///   passage store (never created by `dera index`), or is corrupt.
    public init(readOnlyPath path: String, verify: Bool = true) throws {
        try PassageStore.requireFile(path)
        self.path = path
        self.isReadOnly = true
        queue = try PassageStore.open(path, readOnly: true, verify: verify)
    }

    private static func requireFile(_ path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError(path: path, operation: "opening the passage store",
                             reason: "no such file (build it with `dera index`)")
        }
    }

    /// Opens the SQLite file, refuses what is not a passage store, and (read-write) brings the
    /// schema up to date in write-ahead-log mode.
    private static func open(_ path: String, readOnly: Bool, verify: Bool) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.readonly = readOnly
        configuration.foreignKeysEnabled = !readOnly
        // A second writer (another `dera index` on the same file) waits instead of failing at once.
        configuration.busyMode = .timeout(30)
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            try queue.inDatabase { db in
                try checkIsStore(db, path: path, allowEmpty: !readOnly)
                if verify { try quickCheck(db, path: path) }
                guard !readOnly else { return }
                // Write-ahead log with NORMAL sync: a commit needs no fsync (ingestion was waiting on
                // disk for over 70% of its wall time), a killed process still loses no committed batch,
                // and a power cut can only lose the last batches, which a re-run stores again.
                try db.execute(sql: "PRAGMA journal_mode = WAL")
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
            }
            if !readOnly { try StoreSchema.migrator.migrate(queue) }
            return queue
        } catch let error as DatabaseError {
            throw StoreError(path: path, operation: "opening the passage store", reason: "\(error)")
        }
    }

    /// Refuses a SQLite file that is not a passage store: one with other tables, or (read-only) one
    /// without the store's tables and migrations.
    static func checkIsStore(_ db: Database, path: String, allowEmpty: Bool) throws {
        let tables = try String.fetchAll(db, sql: """
            SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'
            """)
        if tables.isEmpty, allowEmpty { return }
        let required = ["grdb_migrations", "documents", "passages", "passages_fts"]
        let missing = required.filter { !tables.contains($0) }
        // A store written by an older dera lacks later migrations; it reads fine (without vectors) and is
        // upgraded the first time it is opened for writing.
        let applied = (try? StoreSchema.migrator.appliedIdentifiers(db)) ?? []
        let complete = missing.isEmpty && applied.contains(StoreSchema.baseMigration)
        guard complete else {
            let found = tables.isEmpty ? "no tables" : "tables " + tables.sorted().prefix(8).joined(separator: ", ")
                + (tables.count > 8 ? ", ..." : "")
            throw StoreError(path: path, operation: "opening the passage store", reason: """
                not a dera passage store (it has \(found); missing \(missing.isEmpty ? "migrations" : missing.joined(separator: ", "))); \
                build one with `dera index`
                """)
        }
    }

    /// `PRAGMA quick_check`: every page's b-tree structure; throws on the first problems found.
    static func quickCheck(_ db: Database, path: String) throws {
        let report: [String]
        do {
            report = try String.fetchAll(db, sql: "PRAGMA quick_check(5)")
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CORRUPT || error.resultCode == .SQLITE_NOTADB {
            throw StoreError(path: path, operation: "checking the passage store",
                             reason: "the file is corrupt: \(error.message ?? "\(error)")")
        }
        guard report == ["ok"] else {
            throw StoreError(path: path, operation: "checking the passage store",
                             reason: "the file is corrupt: " + report.joined(separator: "; "))
        }
    }

    /// A store that lives in memory only, for tests and throwaway indexes.
    public static func inMemory() throws -> PassageStore {
        try PassageStore(queue: DatabaseQueue(), path: ":memory:")
    }

    private init(queue: DatabaseQueue, path: String) throws {
        self.path = path
        self.isReadOnly = false
        self.queue = queue
        try StoreSchema.migrator.migrate(queue)
    }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction (GRDB's default for a writable connection):
    /// it holds the write lock from its first statement, so what it reads cannot change under it, and
    /// everything it wrote is committed together or not at all.
    /// - Throws: ``StoreError`` on a read-only store.
    public func write<T>(_ body: (StoreTransaction) throws -> T) throws -> T {
        guard !isReadOnly else {
            throw StoreError(path: path, operation: "writing", reason: "the store was opened read-only")
        }
        defer {
            frequencies.removeAll()
            vectors.removeAll()
        }
        return try queue.write { db in try body(StoreTransaction(db: db, path: path)) }
    }

    /// The content hash of every stored document, by source.
    public func contentHashes() throws -> [String: String] {
        try queue.read { db in
            var hashes: [String: String] = [:]
            let rows = try Row.fetchCursor(db, sql: "SELECT source, content_hash FROM documents")
            while let row = try rows.next() { hashes[row[0]] = row[1] }
            return hashes
        }
    }

    /// The stored document with this source, if any.
    public func document(source: String) throws -> Document? {
        try queue.read { db in
            try Row.fetchOne(db, sql: """
                SELECT id, source, title, content_hash, metadata, ingested_at FROM documents WHERE source = ?
                """, arguments: [source]).map(PassageStore.document(from:))
        }
    }

    /// The passages of the document stored under `source`, in order.
    public func passages(source: String) throws -> [Passage] {
        try queue.read { db in
            try Row.fetchAll(db, sql: """
                SELECT p.id, p.document_id, p.ordinal, p.text, p.span_start, p.span_end
                FROM passages p JOIN documents d ON d.id = p.document_id
                WHERE d.source = ? ORDER BY p.ordinal
                """, arguments: [source]).map(PassageStore.passage(from:))
        }
    }

    /// Counts of stored rows, and the size of the database file.
    public func statistics() throws -> StoreStatistics {
        try queue.read { db in
            let documents = try Int.fetchOne(db, sql: "SELECT count(*) FROM documents") ?? 0
            let passages = try Int.fetchOne(db, sql: "SELECT count(*) FROM passages") ?? 0
            let characters = try Int.fetchOne(db, sql: "SELECT coalesce(sum(length(text)), 0) FROM passages") ?? 0
            let pageCount = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            let pageSize = try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 0
            return StoreStatistics(documents: documents, passages: passages,
                                   passageCharacters: characters, fileBytes: pageCount * pageSize)
        }
    }

    /// Checks SQLite's own integrity, that every passage vector belongs to a passage and has the recorded size,
    /// and that the FTS5 index matches the passages exactly (the FTS5
    /// check is issued as a write, so a read-only store skips it).
    /// - Throws: ``StoreError`` naming the first problem found.
    public func checkIntegrity() throws {
        do {
            try queue.read { db in
                let report = try String.fetchAll(db, sql: "PRAGMA integrity_check")
                guard report == ["ok"] else {
                    throw StoreError(path: path, operation: "integrity check",
                                     reason: report.joined(separator: "; "))
                }
                let orphans = try Int.fetchOne(db, sql: """
                    SELECT count(*) FROM passages WHERE document_id NOT IN (SELECT id FROM documents)
                    """) ?? 0
                guard orphans == 0 else {
                    throw StoreError(path: path, operation: "integrity check",
                                     reason: "\(orphans) passages without a document")
                }
                guard try Self.hasVectorTables(db) else { return }
                let strayVectors = try Int.fetchOne(db, sql: """
                    SELECT count(*) FROM passage_vectors WHERE passage_id NOT IN (SELECT id FROM passages)
                    """) ?? 0
                guard strayVectors == 0 else {
                    throw StoreError(path: path, operation: "integrity check",
                                     reason: "\(strayVectors) passage vectors without a passage")
                }
                if let model = try vectorModel(db) {
                    let wrong = try Int.fetchOne(db, sql: "SELECT count(*) FROM passage_vectors WHERE length(vector) != ?",
                                                 arguments: [model.dimension * 2]) ?? 0
                    guard wrong == 0 else {
                        throw StoreError(path: path, operation: "integrity check",
                                         reason: "\(wrong) passage vectors are not \(model.dimension) half floats")
                    }
                } else if try Int.fetchOne(db, sql: "SELECT count(*) FROM passage_vectors") ?? 0 > 0 {
                    throw StoreError(path: path, operation: "integrity check",
                                     reason: "passage vectors are stored but no vector model is recorded")
                }
            }
            guard !isReadOnly else { return }
            try queue.write { db in
                try db.execute(sql: "INSERT INTO passages_fts (passages_fts) VALUES ('integrity-check')")
            }
        } catch let error as DatabaseError {
            throw StoreError(path: path, operation: "integrity check", reason: "\(error)")
        }
    }

    /// Searches with arbitrary user text, turned into a safe query by `builder`.
    public func search(_ text: String, options: SearchOptions = SearchOptions(),
                       builder: QueryBuilder = QueryBuilder()) throws -> [SearchHit] {
        try search(builder.query(for: text), options: options)
    }

    /// Runs a built query: BM25 top-k over title and text, with snippets and metadata filters.
    public func search(_ query: FTSQuery, options: SearchOptions = SearchOptions()) throws -> [SearchHit] {
        try search(query, options: options, snippets: true)
    }

    /// The same search without snippets (each hit's `snippet` is empty): a candidate list to fuse, where most
    /// hits are never shown and FTS5's snippet() was the costliest part of the query.
    func search(_ query: FTSQuery, options: SearchOptions, snippets: Bool) throws -> [SearchHit] {
        guard !query.isEmpty, options.limit > 0 else { return [] }
        let query = try options.commonClauseCutoff.map { try pruned(query, cutoff: $0) } ?? query
        let weights = [options.titleWeight, options.textWeight].map { weight in
            weight.isFinite && weight >= 0 ? weight : 0
        }
        let rank = "bm25(\(weights[0]), \(weights[1]))"
        var sql = """
            SELECT p.id, p.document_id, p.ordinal, p.text, p.span_start, p.span_end,
                   d.source, d.title, d.metadata, passages_fts.rank,
                   \(snippets ? "snippet(passages_fts, 1, '[', ']', '…', ?)" : "NULL") AS snippet
            FROM passages_fts
            JOIN passages p ON p.id = passages_fts.rowid
            JOIN documents d ON d.id = p.document_id
            WHERE passages_fts MATCH ? AND passages_fts.rank MATCH ?
            """
        var arguments: StatementArguments = snippets ? [max(1, min(64, options.snippetTokens))] : []
        arguments += [query.expression, rank]
        for filter in options.filters {
            sql += "\n AND EXISTS (SELECT 1 FROM json_each(d.metadata) WHERE json_each.key = ? AND json_each.value = ?)"
            arguments += [filter.key, filter.value]
        }
        sql += "\nORDER BY passages_fts.rank LIMIT ?"
        arguments += [options.limit]
        do {
            return try queue.read { db in
                try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments).map { row in
                    SearchHit(passage: PassageStore.passage(from: row),
                              source: row[6], title: row[7],
                              metadata: PassageStore.decodeMetadata(row[8]),
                              score: -(row[9] as Double), snippet: row[10] ?? "")
                }
            }
        } catch let error as DatabaseError {
            throw StoreError(path: path, operation: "searching for \(query.expression)", reason: "\(error)")
        }
    }

    /// FTS5 snippets of the passages `ids` for `query` (passages it does not match have none).
    func snippets(_ query: FTSQuery, ids: [Int64], tokens: Int) throws -> [Int64: String] {
        guard !query.isEmpty, !ids.isEmpty else { return [:] }
        let marks = Array(repeating: "?", count: ids.count).joined(separator: ", ")
        var arguments: StatementArguments = [max(1, min(64, tokens)), query.expression]
        arguments += StatementArguments(ids)
        do {
            return try queue.read { db in
                var found: [Int64: String] = [:]
                for row in try Row.fetchAll(db, sql: """
                    SELECT rowid, snippet(passages_fts, 1, '[', ']', '…', ?) FROM passages_fts
                    WHERE passages_fts MATCH ? AND rowid IN (\(marks))
                    """, arguments: arguments) {
                    found[row[0]] = row[1]
                }
                return found
            }
        } catch let error as DatabaseError {
            throw StoreError(path: path, operation: "snippets for \(query.expression)", reason: "\(error)")
        }
    }

    /// `query` without the clauses that match more than `cutoff` of all passages; the two rarest
    /// clauses (or all, when fewer) are always kept.
    func pruned(_ query: FTSQuery, cutoff: Double) throws -> FTSQuery {
        guard query.clauses.count > 2 else { return query }
        do {
            return try queue.read { db in
                let total = try frequencies.passageCount {
                    try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM passages")) ?? 0
                }
                let counting = try db.cachedStatement(sql: "SELECT count(*) FROM passages_fts WHERE passages_fts MATCH ?")
                let counts = try query.clauses.map { clause in
                    try frequencies.count(of: clause) { try Int.fetchOne(counting, arguments: [clause]) ?? 0 }
                }
                // Clauses that match nothing cannot help; of the rest keep the rare ones and the two rarest.
                let matching = query.clauses.indices.filter { counts[$0] > 0 }
                guard !matching.isEmpty else { return query }
                let limit = cutoff * Double(total)
                let rarest = Set(matching.sorted { counts[$0] < counts[$1] }.prefix(2))
                let kept = matching.filter { Double(counts[$0]) <= limit || rarest.contains($0) }
                return FTSQuery(clauses: kept.map { query.clauses[$0] }, terms: query.terms)
            }
        } catch let error as DatabaseError {
            throw StoreError(path: path, operation: "counting matches of \(query.expression)", reason: "\(error)")
        }
    }

    static func passage(from row: Row) -> Passage {
        let start: Int = row[4]
        let end: Int = row[5]
        return Passage(id: row[0], documentID: row[1], ordinal: row[2], text: row[3],
                       span: start..<max(start, end))
    }

    static func document(from row: Row) -> Document {
        let stamp: String = row[5]
        return Document(id: row[0], source: row[1], title: row[2], contentHash: row[3],
                        metadata: decodeMetadata(row[4]),
                        ingestedAt: (try? Date(stamp, strategy: .iso8601)) ?? Date(timeIntervalSince1970: 0))
    }

    static func decodeMetadata(_ json: String?) -> [String: String] {
        guard let json, json != "{}", let data = json.data(using: .utf8) else { return [:] }
        return (try? JSONDecoder().decode([String: String].self, from: data)) ?? [:]
    }
}
