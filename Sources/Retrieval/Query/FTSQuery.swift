/// A full-text query in FTS5 syntax that is valid by construction: every clause is a double-quoted
/// string (optionally followed by `*`), so no user word can act as an operator, a column filter or a
/// syntax error. Clauses are alternatives: the expression joins them with `OR`.
public struct FTSQuery: Sendable, Hashable {
    /// Each clause: `"word"`, `"prefix"*` or `"a phrase"`.
    public var clauses: [String]
    /// The individual words that went into the clauses, lowercased, in order of first appearance.
    public var terms: [String]
    /// Distinct words left out because the query already had the builder's maximum of clauses.
    public var droppedWords: Int

    /// The FTS5 MATCH expression, e.g. `"capital" OR "france" OR "paris city"`.
    public var expression: String { clauses.joined(separator: " OR ") }

    /// `true` when the user text held no searchable word; such a query matches nothing.
    public var isEmpty: Bool { clauses.isEmpty }

    public init(clauses: [String], terms: [String], droppedWords: Int = 0) {
        self.clauses = clauses
        self.terms = terms
        self.droppedWords = droppedWords
    }
}
