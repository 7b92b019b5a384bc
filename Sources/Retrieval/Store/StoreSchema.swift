import GRDB

/// The passage store's SQLite schema, created and upgraded by a GRDB migrator.
///
/// - `documents(id, source UNIQUE, title, content_hash, metadata JSON, ingested_at)`
/// - `passages(id, document_id -> documents, ordinal, text, span_start, span_end)`
/// - `passage_content`: a view joining each passage to its document title
/// - `passages_fts`: FTS5 over `(title, text)` with external content `passage_content`, tokenizer
///   `porter unicode61 remove_diacritics 2`. Rows are written and deleted by ``StoreTransaction`` in the
///   same transaction as the passages, so the index never drifts from the content.
enum StoreSchema {
    static let ftsTable = "passages_fts"

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: documents, passages, fts5") { db in
            try db.execute(sql: """
                CREATE TABLE documents (
                    id INTEGER PRIMARY KEY,
                    source TEXT NOT NULL UNIQUE,
                    title TEXT NOT NULL,
                    content_hash TEXT NOT NULL,
                    metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
                    ingested_at TEXT NOT NULL
                );
                CREATE TABLE passages (
                    id INTEGER PRIMARY KEY,
                    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
                    ordinal INTEGER NOT NULL,
                    text TEXT NOT NULL,
                    span_start INTEGER NOT NULL,
                    span_end INTEGER NOT NULL,
                    UNIQUE (document_id, ordinal)
                );
                CREATE VIEW passage_content AS
                    SELECT passages.id AS id, documents.title AS title, passages.text AS text
                    FROM passages JOIN documents ON documents.id = passages.document_id;
                CREATE VIRTUAL TABLE passages_fts USING fts5(
                    title, text,
                    content = 'passage_content', content_rowid = 'id',
                    tokenize = 'porter unicode61 remove_diacritics 2'
                );
                """)
        }
        return migrator
    }
}
