import Foundation
import GRDB

/// Writes to the passage store inside one SQLite transaction, keeping documents, passages and the
/// FTS5 index in step. Obtain one from ``PassageStore/write(_:)``; it is only valid inside that closure.
public struct StoreTransaction {
    let db: Database
    /// The store's file, for errors.
    var path = ""

    /// Inserts `document` with its `passages`, first removing any document with the same source.
    /// - Parameter vectors: one vector per passage, in order (recorded with ``recordVectorModel(_:)`` first), or nil.
    /// - Returns: the new document row id.
    @discardableResult
    public func replace(_ document: Document, passages: [Passage], vectors: [[Float]]? = nil) throws -> Int64 {
        if let vectors, vectors.count != passages.count {
            throw StoreError(path: document.source, operation: "storing passage vectors",
                             reason: "\(vectors.count) vectors for \(passages.count) passages")
        }
        try delete(source: document.source)
        let metadata = try StoreTransaction.encodeMetadata(document.metadata)
        try db.execute(
            sql: """
                INSERT INTO documents (source, title, content_hash, metadata, ingested_at)
                VALUES (?, ?, ?, ?, ?)
                """,
            arguments: [document.source, document.title, document.contentHash, metadata,
                        StoreTransaction.timestamp(document.ingestedAt)])
        let documentID = db.lastInsertedRowID
        let insertPassage = try db.cachedStatement(sql: """
            INSERT INTO passages (document_id, ordinal, text, span_start, span_end) VALUES (?, ?, ?, ?, ?)
            """)
        let insertIndex = try db.cachedStatement(sql: """
            INSERT INTO passages_fts (rowid, title, text) VALUES (?, ?, ?)
            """)
        let insertVector = vectors == nil ? nil : try db.cachedStatement(sql: """
            INSERT INTO passage_vectors (passage_id, vector) VALUES (?, ?)
            """)
        for (index, passage) in passages.enumerated() {
            try insertPassage.execute(arguments: [documentID, passage.ordinal, passage.text,
                                                  passage.span.lowerBound, passage.span.upperBound])
            let passageID = db.lastInsertedRowID
            try insertIndex.execute(arguments: [passageID, document.title, passage.text])
            if let insertVector, let vectors {
                try insertVector.execute(arguments: [passageID, PassageVector.encode(vectors[index])])
            }
        }
        return documentID
    }

    /// Records the embedder of the vectors about to be written. A store holds vectors of one embedder only.
    /// - Throws: ``StoreError`` when it already holds vectors of another.
    public func recordVectorModel(_ model: VectorModel) throws {
        if let stored = try Row.fetchOne(db, sql: "SELECT identity, dimension FROM vector_model WHERE id = 1") {
            let existing = VectorModel(identity: stored[0], dimension: stored[1])
            guard existing == model else {
                throw StoreError(path: path, operation: "storing passage vectors", reason: """
                    the store holds vectors of '\(existing.identity)' (\(existing.dimension) dimensions), not \
                    '\(model.identity)' (\(model.dimension)); index into a new store, or remove the old vectors \
                    with `dera index --drop-vectors`
                    """)
            }
            return
        }
        try db.execute(sql: "INSERT INTO vector_model (id, identity, dimension) VALUES (1, ?, ?)",
                       arguments: [model.identity, model.dimension])
    }

    /// Stores the vector of an existing passage, if the passage still has exactly `text` (title line included)
    /// and no vector yet: a backfill that raced with a re-ingest writes nothing stale.
    /// - Returns: whether the vector was stored.
    @discardableResult
    public func storeVector(_ vector: [Float], passageID: Int64, embeddedText text: String) throws -> Bool {
        guard let row = try Row.fetchOne(db, sql: """
            SELECT d.title, p.text FROM passages p JOIN documents d ON d.id = p.document_id
            WHERE p.id = ? AND NOT EXISTS (SELECT 1 FROM passage_vectors v WHERE v.passage_id = p.id)
            """, arguments: [passageID]),
            PassageVector.embeddingText(title: row[0], text: row[1]) == text
        else { return false }
        try db.execute(sql: "INSERT INTO passage_vectors (passage_id, vector) VALUES (?, ?)",
                       arguments: [passageID, PassageVector.encode(vector)])
        return true
    }

    /// Removes every passage vector and the record of their embedder.
    public func dropVectors() throws {
        try db.execute(sql: "DELETE FROM passage_vectors")
        try db.execute(sql: "DELETE FROM vector_model")
    }

    /// The content hash stored for `source`, or `nil` when no document has that source.
    public func contentHash(source: String) throws -> String? {
        try String.fetchOne(db.cachedStatement(sql: "SELECT content_hash FROM documents WHERE source = ?"),
                            arguments: [source])
    }

    /// Removes the document stored under `source`, its passages and their index entries.
    /// - Returns: `true` when a document was removed.
    @discardableResult
    public func delete(source: String) throws -> Bool {
        guard let documentID = try Int64.fetchOne(
            db, sql: "SELECT id FROM documents WHERE source = ?", arguments: [source])
        else { return false }
        // External-content FTS5 needs the exact old values to remove a row from its index.
        try db.execute(
            sql: """
                INSERT INTO passages_fts (passages_fts, rowid, title, text)
                SELECT 'delete', id, title, text FROM passage_content
                WHERE id IN (SELECT id FROM passages WHERE document_id = ?)
                """,
            arguments: [documentID])
        try db.execute(sql: """
            DELETE FROM passage_vectors WHERE passage_id IN (SELECT id FROM passages WHERE document_id = ?)
            """, arguments: [documentID])
        try db.execute(sql: "DELETE FROM passages WHERE document_id = ?", arguments: [documentID])
        try db.execute(sql: "DELETE FROM documents WHERE id = ?", arguments: [documentID])
        return true
    }

    static func encodeMetadata(_ metadata: [String: String]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(metadata), as: UTF8.self)
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
