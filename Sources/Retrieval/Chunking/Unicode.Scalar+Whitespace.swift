extension Unicode.Scalar {
    /// `properties.isWhitespace` with an ASCII fast path: the Unicode property lookup is the
    /// chunker's hottest call on mostly-ASCII text.
    @inline(__always)
    var isSpace: Bool {
        if value < 0x80 { return value == 0x20 || (value >= 0x09 && value <= 0x0D) }
        return properties.isWhitespace
    }
}
