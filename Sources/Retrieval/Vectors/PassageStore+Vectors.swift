import Foundation
import GRDB

extension PassageStore {
    /// The embedder whose vectors the store holds, or nil when it holds none (or predates vectors).
    public func vectorModel() throws -> VectorModel? {
        try read(operation: "reading the vector model") { db in
            guard try Self.hasVectorTables(db) else { return nil }
            return try Row.fetchOne(db, sql: "SELECT identity, dimension FROM vector_model WHERE id = 1").map {
                VectorModel(identity: $0[0], dimension: $0[1])
            }
        }
    }

    /// How many passages have a vector, and how many do not.
    public func vectorCoverage() throws -> (withVector: Int, without: Int) {
        try read(operation: "counting passage vectors") { db in
            let passages = try Int.fetchOne(db, sql: "SELECT count(*) FROM passages") ?? 0
            guard try Self.hasVectorTables(db) else { return (0, passages) }
            let vectors = try Int.fetchOne(db, sql: "SELECT count(*) FROM passage_vectors") ?? 0
            return (vectors, passages - vectors)
        }
    }

    /// Up to `limit` passages that have no vector yet, lowest id first, with the text to embed.
    public func passagesWithoutVectors(limit: Int) throws -> [(id: Int64, text: String)] {
        try read(operation: "finding passages without vectors") { db in
            let missing = try Self.hasVectorTables(db) ? "AND NOT EXISTS (SELECT 1 FROM passage_vectors v WHERE v.passage_id = p.id)" : ""
            return try Row.fetchAll(db, sql: """
                SELECT p.id, d.title, p.text FROM passages p JOIN documents d ON d.id = p.document_id
                WHERE 1 \(missing) ORDER BY p.id LIMIT ?
                """, arguments: [limit]).map { row in
                (row[0], PassageVector.embeddingText(title: row[1], text: row[2]))
            }
        }
    }

    /// The stored vectors of the documents under `sources`, by the text they were made from: a changed
    /// document's passages that did not change keep their vectors instead of being embedded again.
    public func storedVectors(sources: [String], model: VectorModel) throws -> [String: [Float]] {
        guard !sources.isEmpty else { return [:] }
        return try read(operation: "reading stored vectors") { db in
            guard try Self.hasVectorTables(db), try vectorModel(db) == model else { return [:] }
            var found: [String: [Float]] = [:]
            for chunk in stride(from: 0, to: sources.count, by: 500) {
                let part = Array(sources[chunk..<min(sources.count, chunk + 500)])
                let marks = Array(repeating: "?", count: part.count).joined(separator: ", ")
                let rows = try Row.fetchCursor(db, sql: """
                    SELECT d.title, p.text, v.vector FROM documents d
                    JOIN passages p ON p.document_id = d.id JOIN passage_vectors v ON v.passage_id = p.id
                    WHERE d.source IN (\(marks))
                    """, arguments: StatementArguments(part))
                while let row = try rows.next() {
                    if let vector = PassageVector.decode(row[2], dimension: model.dimension) {
                        found[PassageVector.embeddingText(title: row[0], text: row[1])] = vector
                    }
                }
            }
            return found
        }
    }

    /// All passage vectors in memory, loaded once per store value (writes through it reload them), or nil when
    /// the store has none.
    /// - Throws: ``StoreError`` when a stored vector has the wrong size.
    public func denseIndex() throws -> DenseIndex? {
        try vectors.index {
            try read(operation: "loading passage vectors") { db -> DenseIndex? in
                guard try Self.hasVectorTables(db), let model = try vectorModel(db) else { return nil }
                let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM passage_vectors") ?? 0
                guard count > 0 else { return nil }
                var ids: [Int64] = []
                ids.reserveCapacity(count)
                var matrix = [UInt16](repeating: 0, count: count * model.dimension)
                try matrix.withUnsafeMutableBytes { matrix in
                    let rows = try Row.fetchCursor(db, sql: "SELECT passage_id, vector FROM passage_vectors ORDER BY passage_id")
                    let width = model.dimension * 2
                    while let row = try rows.next(), ids.count < count {
                        let id: Int64 = row[0]
                        let blob: Data = row[1]
                        guard blob.count == width else {
                            throw StoreError(path: path, operation: "loading passage vectors",
                                             reason: "the vector of passage \(id) is not \(model.dimension) half floats")
                        }
                        blob.copyBytes(to: UnsafeMutableRawBufferPointer(rebasing: matrix[(ids.count * width)...].prefix(width)))
                        ids.append(id)
                    }
                }
                matrix.removeLast((count - ids.count) * model.dimension)
                return DenseIndex(model: model, passageIDs: ids, matrix: matrix)
            }
        }
    }

    /// The passages with these ids, as search hits scored `scores` (in the order of `ids`; missing ids are
    /// skipped). The snippet is the start of the passage.
    func hits(ids: [Int64], scores: [Double], snippetTokens: Int) throws -> [SearchHit] {
        guard !ids.isEmpty else { return [] }
        return try read(operation: "reading passages") { db in
            let marks = Array(repeating: "?", count: ids.count).joined(separator: ", ")
            let rows = try Row.fetchAll(db, sql: """
                SELECT p.id, p.document_id, p.ordinal, p.text, p.span_start, p.span_end, d.source, d.title, d.metadata
                FROM passages p JOIN documents d ON d.id = p.document_id WHERE p.id IN (\(marks))
                """, arguments: StatementArguments(ids))
            var byID: [Int64: Row] = [:]
            for row in rows { byID[row[0]] = row }
            return zip(ids, scores).compactMap { id, score in
                guard let row = byID[id] else { return nil }
                let passage = PassageStore.passage(from: row)
                return SearchHit(passage: passage, source: row[6], title: row[7],
                                 metadata: PassageStore.decodeMetadata(row[8]), score: score,
                                 snippet: Self.leadingWords(of: passage.text, count: max(1, snippetTokens)))
            }
        }
    }

    /// Passage ids of the documents that satisfy every metadata filter.
    func passageIDs(matching filters: [MetadataFilter]) throws -> Set<Int64> {
        try read(operation: "filtering passages by metadata") { db in
            var sql = "SELECT p.id FROM passages p JOIN documents d ON d.id = p.document_id WHERE 1"
            var arguments: StatementArguments = []
            for filter in filters {
                sql += " AND EXISTS (SELECT 1 FROM json_each(d.metadata) WHERE json_each.key = ? AND json_each.value = ?)"
                arguments += [filter.key, filter.value]
            }
            return Set(try Int64.fetchAll(db, sql: sql, arguments: arguments))
        }
    }

    static func leadingWords(of text: String, count: Int) -> String {
        let words = text.split(whereSeparator: \.isWhitespace)
        return words.prefix(count).joined(separator: " ") + (words.count > count ? "…" : "")
    }

    static func hasVectorTables(_ db: Database) throws -> Bool {
        try db.tableExists("passage_vectors") && db.tableExists("vector_model")
    }

    func vectorModel(_ db: Database) throws -> VectorModel? {
        try Row.fetchOne(db, sql: "SELECT identity, dimension FROM vector_model WHERE id = 1").map {
            VectorModel(identity: $0[0], dimension: $0[1])
        }
    }

    func read<T>(operation: String, _ body: (Database) throws -> T) throws -> T {
        do {
            return try queue.read(body)
        } catch let error as DatabaseError {
            throw StoreError(path: path, operation: operation, reason: "\(error)")
        }
    }
}
