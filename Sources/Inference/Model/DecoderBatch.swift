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
    /// For each row, an earlier row of this batch it is a twin of, or nil. A twin has the same token and
    /// position as its row, and its sequence's cache holds what the row's holds in every layer below the first
    /// one the two rows' adapters change (a DeRa pair's reference and adapter sides, fed the same tokens
    /// from the same prompt). Those layers are computed once for both, and the twin's cache gets the
    /// row's keys and values there. Empty means no row has a twin.
    public var twins: [Int?] = []

    public init() {}

    /// A prompt for one sequence, with logits for its last token only.
    public init(prompt: [Int], sequence: Int = 0, adapter: Int? = nil) {
        tokens = prompt
        sequences = Array(repeating: sequence, count: prompt.count)
        wantsLogits = prompt.indices.map { $0 == prompt.count - 1 }
        if adapter != nil { adapters = Array(repeating: adapter, count: prompt.count) }
    }

    public mutating func append(token: Int, sequence: Int, wantsLogits: Bool, adapter: Int? = nil, twin: Int? = nil) {
        if adapter != nil || !adapters.isEmpty {
            if adapters.count < tokens.count { adapters += Array(repeating: nil, count: tokens.count - adapters.count) }
            adapters.append(adapter)
        }
        if twin != nil || !twins.isEmpty {
            if twins.count < tokens.count { twins += Array(repeating: nil, count: tokens.count - twins.count) }
            twins.append(twin)
        }
        tokens.append(token)
        sequences.append(sequence)
        self.wantsLogits.append(wantsLogits)
    }

    /// The adapter of `row`, nil when the row uses the base weights only.
    public func adapter(row: Int) -> Int? { row < adapters.count ? adapters[row] : nil }

    /// The row `row` is a twin of, nil when it has none.
    public func twin(row: Int) -> Int? { row < twins.count ? twins[row] : nil }

    public var count: Int { tokens.count }
    public var logitRowCount: Int { wantsLogits.lazy.filter { $0 }.count }
}
