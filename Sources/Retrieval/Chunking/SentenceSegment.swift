/// One sentence (or a piece of an over-long sentence) located in a document's Unicode scalars.
struct SentenceSegment: Equatable {
    /// Scalar offset of the first non-space scalar.
    var start: Int
    /// Scalar offset one past the last scalar kept (trailing spaces excluded).
    var end: Int
    /// Whitespace-separated words inside (or their tokens, once the chunker has weighed them).
    var words: Int
    /// A blank line (or the end of the text) follows this segment.
    var endsParagraph: Bool
}
