/// A full-text query in FTS5 syntax that is valid by construction: every term is a double-quoted
/// string, so no user word can act as an operator, a column filter or a syntax error.
public struct FTSQuery: Sendable, Hashable {
    /// The FTS5 MATCH expression, e.g. `"capital" OR "france" OR "paris city"`.
    public var expression: String
    /// The individual terms that went into the expression, lowercased, in order of first appearance.
    public var terms: [String]

    /// `true` when the user text held no searchable word; such a query matches nothing.
    public var isEmpty: Bool { expression.isEmpty }

    public init(expression: String, terms: [String]) {
        self.expression = expression
        self.terms = terms
    }
}
