/// recall@k by k. Encodes as a JSON object keyed by k (`{"1": 0.91, "5": 0.97}`), where a plain
/// `[Int: Double]` would encode as a flat array of alternating keys and values.
public struct RecallTable: Sendable, Hashable, Codable {
    private var values: [Int: Double]

    public init(_ values: [Int: Double] = [:]) { self.values = values }

    /// recall@k, or `nil` when k was not measured.
    public subscript(k: Int) -> Double? {
        get { values[k] }
        set { values[k] = newValue }
    }

    /// The measured k, ascending.
    public var cutoffs: [Int] { values.keys.sorted() }

    public init(from decoder: Decoder) throws {
        let raw = try [String: Double](from: decoder)
        var values: [Int: Double] = [:]
        for (key, value) in raw {
            guard let k = Int(key) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                        debugDescription: "recall key \(key) is not an integer"))
            }
            values[k] = value
        }
        self.values = values
    }

    public func encode(to encoder: Encoder) throws {
        try Dictionary(uniqueKeysWithValues: values.map { (String($0.key), $0.value) }).encode(to: encoder)
    }
}
