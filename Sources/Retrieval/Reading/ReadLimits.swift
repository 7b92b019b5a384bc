/// Caps on what one input may hold, so that a hostile or broken file costs time and memory in
/// proportion to its size and fails with an error naming the file instead of running for minutes.
///
/// Every reader is linear in its input; these limits bound the few costs that are not (libxml2 2.9
/// compares each attribute of an element with all the ones before it, and its HTML parser searches
/// the whole stack of open elements for every end tag that closes none of them).
public struct ReadLimits: Sendable, Hashable {
    /// Largest input file, in bytes (the whole file is held in memory while it is read).
    public var maximumFileBytes: Int
    /// Deepest element nesting an HTML or XML document may have.
    public var maximumNesting: Int
    /// Most attributes (namespace declarations included) one HTML or XML element may carry.
    public var maximumAttributes: Int
    /// HTML: an end tag that closes no open element (or that a higher-priority element keeps from
    /// closing) costs libxml2 a look at every open element; the looks such tags cost may not pass this
    /// many per input byte (plus a fixed allowance of 2^20). Counted while libxml2 parses.
    public var unmatchedEndTagWorkPerByte: Int

    public init(maximumFileBytes: Int = 1 << 30, maximumNesting: Int = 20_000, maximumAttributes: Int = 256,
                unmatchedEndTagWorkPerByte: Int = 16) {
        self.maximumFileBytes = max(0, maximumFileBytes)
        self.maximumNesting = max(1, maximumNesting)
        self.maximumAttributes = max(1, maximumAttributes)
        self.unmatchedEndTagWorkPerByte = max(1, unmatchedEndTagWorkPerByte)
    }

    /// Throws when `bytes` is over ``maximumFileBytes``.
    func checkSize(_ bytes: Int, file: String) throws {
        guard bytes <= maximumFileBytes else {
            throw DocumentReadError(file: file, reason: "file of \(bytes) bytes is over the limit of \(maximumFileBytes) bytes")
        }
    }
}
