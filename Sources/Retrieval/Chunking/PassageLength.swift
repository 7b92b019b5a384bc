/// A passage size, in characters (Unicode scalars) or in tokens.
///
/// Tokens are counted by the chunker's ``TokenCounter``; the default counts whitespace-separated
/// words, model-independent and close enough to plan a prompt budget (English BPE vocabularies
/// average about 1.3 tokens per word).
public enum PassageLength: Sendable, Hashable, CustomStringConvertible {
    case characters(Int)
    case tokens(Int)

    /// The number, whatever the unit.
    public var count: Int {
        switch self {
        case .characters(let count), .tokens(let count): count
        }
    }

    public var description: String {
        switch self {
        case .characters(let count): "\(count) characters"
        case .tokens(let count): "\(count) tokens"
        }
    }
}
