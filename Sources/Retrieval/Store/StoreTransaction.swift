import Foundation
import GRDB

/// Writes to the passage store inside one SQLite transaction, keeping documents, passages and the
/// FTS5 index in step. Obtain one from ``PassageStore/write(_:)``; it is only valid inside that closure.
public struct StoreTransaction {
    let db: Database

    /// Inserts `document` with its `passages`, first removing any document with the same source.
    /// - Returns: the new document row id.
    @discardableResult
    public func replace(_ document: Document, passages: [Passage]) throws -> Int64 {
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
        for passage in passages {
            try insertPassage.execute(arguments: [documentID, passage.ordinal, passage.text,
                                                  passage.span.lowerBound, passage.span.upperBound])
            try insertIndex.execute(arguments: [db.lastInsertedRowID, document.title, passage.text])
        }
        return documentID
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
