import GRDB

/// The passage store's SQLite schema, created and upgraded by a GRDB migrator.
///
/// - `documents(id, source UNIQUE, title, content_hash, metadata JSON, ingested_at)`
/// - `passages(id, document_id -> documents, ordinal, text, span_start, span_end)`
/// - `passage_content`: a view joining each passage to its document title
/// - `passages_fts`: FTS5 over `(title, text)` with external content `passage_content`, tokenizer
///   `porter unicode61 remove_diacritics 2`. Rows are written and deleted by ``StoreTransaction`` in the
///   same transaction as the passages, so the index never drifts from the content.
/// - `vector_model(identity, dimension)`: the one embedder whose vectors the store holds (v2)
/// - `passage_vectors(passage_id -> passages, vector)`: one unit-length vector per passage, IEEE half floats
///   little endian, written in the same transaction as its passage (v2). A store opened read-only before it was
///   upgraded has neither table and simply has no vectors.
enum StoreSchema {
    static let ftsTable = "passages_fts"
    /// The first migration: a store with it (and not yet the later ones) can still be read.
    static let baseMigration = "v1: documents, passages, fts5"
    static let vectorsMigration = "v2: passage vectors"

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration(baseMigration) { db in
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
        migrator.registerMigration(vectorsMigration) { db in
            try db.execute(sql: """
                CREATE TABLE vector_model (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    identity TEXT NOT NULL,
                    dimension INTEGER NOT NULL CHECK (dimension > 0)
                );
                CREATE TABLE passage_vectors (
                    passage_id INTEGER PRIMARY KEY REFERENCES passages(id) ON DELETE CASCADE,
                    vector BLOB NOT NULL
                );
                """)
        }
        return migrator
    }
}
