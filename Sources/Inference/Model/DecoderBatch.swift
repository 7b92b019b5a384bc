/// The rows one forward pass processes: each row is a token appended to one sequence's KV cache.
///
/// Rows of one sequence must be contiguous and in order; they take the positions following what the
/// sequence's cache already holds. A prompt is many rows of one sequence; a batched decoding step is one
/// row for each of several sequences.
public struct DecoderBatch: Sendable, Equatable {
    public var tokens: [Int] = []
    /// For each row, the index of its sequence's cache in the `caches` array given to the forward pass.
    public var sequences: [Int] = []
    /// For each row, whether its next-token logits are wanted.
    public var wantsLogits: [Bool] = []
    /// For each row, the index of the attached ``LoRAAdapter`` applied to it (see ``DecoderModel/attach(_:)``),
    /// or nil for the base weights alone. Empty means no row uses an adapter.
    public var adapters: [Int?] = []

    public init() {}

    /// A prompt for one sequence, with logits for its last token only.
    public init(prompt: [Int], sequence: Int = 0, adapter: Int? = nil) {
        tokens = prompt
        sequences = Array(repeating: sequence, count: prompt.count)
        wantsLogits = prompt.indices.map { $0 == prompt.count - 1 }
        if adapter != nil { adapters = Array(repeating: adapter, count: prompt.count) }
    }

    public mutating func append(token: Int, sequence: Int, wantsLogits: Bool, adapter: Int? = nil) {
        if adapter != nil || !adapters.isEmpty {
            if adapters.count < tokens.count { adapters += Array(repeating: nil, count: tokens.count - adapters.count) }
            adapters.append(adapter)
        }
        tokens.append(token)
        sequences.append(sequence)
        self.wantsLogits.append(wantsLogits)
    }

    /// The adapter of `row`, nil when the row uses the base weights only.
    public func adapter(row: Int) -> Int? { row < adapters.count ? adapters[row] : nil }

    public var count: Int { tokens.count }
    public var logitRowCount: Int { wantsLogits.lazy.filter { $0 }.count }
}
