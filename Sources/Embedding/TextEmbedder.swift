/// Turns texts into unit-length vectors whose dot product measures how alike their meanings are.
///
/// Retrieval stores one vector per passage and compares a question's vector with all of them; anything
/// that maps text to vectors this way can stand in (a test uses a tiny deterministic one).
public protocol TextEmbedder: Sendable {
    /// Length of every vector.
    var dimension: Int { get }
    /// Names the model and its settings; vectors made under another identity are not comparable.
    var identity: String { get }
    /// One unit-length vector of `dimension` floats per text, in order.
    func embed(_ texts: [String]) throws -> [[Float]]
}
