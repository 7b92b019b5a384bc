/// A piece of a document small enough to hand to a language model, with the place it came from.
///
/// `span` counts Unicode scalars (code points) of the document's extracted text, so
/// `Array(text.unicodeScalars)[span]` of the document text is exactly `text`.
public struct Passage: Sendable, Hashable, Codable {
    /// Row id in the store; `nil` until stored.
    public var id: Int64?
    /// The owning document's row id; `nil` until stored.
    public var documentID: Int64?
    /// Position of the passage within its document, from 0.
    public var ordinal: Int
    /// The passage text, an exact slice of the document text.
    public var text: String
    /// Half-open range of Unicode-scalar offsets of `text` within the document text.
    public var span: Range<Int>

    public init(id: Int64? = nil, documentID: Int64? = nil, ordinal: Int, text: String, span: Range<Int>) {
        self.id = id
        self.documentID = documentID
        self.ordinal = ordinal
        self.text = text
        self.span = span
    }
}
