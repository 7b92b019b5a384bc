/// GPT-2's reversible map between bytes and printable Unicode scalars, which byte-level BPE vocabularies are written in.
///
/// Printable Latin-1 bytes stand for themselves; the 68 others (controls, space, DEL, NBSP, soft hyphen) are shifted
/// to U+0100 and up in byte order, so `" "` is written `"Ġ"` and `"\n"` is written `"Ċ"`.
enum ByteLevel {
    /// The scalar that stands for each byte.
    static let scalarForByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte) {
                table[byte] = Unicode.Scalar(UInt32(byte))!
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The byte each scalar stands for, indexed by scalar value (0x000...0x143); -1 where none.
    static let byteForScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (byte, scalar) in scalarForByte.enumerated() { table[Int(scalar.value)] = Int16(byte) }
        return table
    }()

    /// The byte-level spelling of raw bytes.
    static func encode<S: Sequence<UInt8>>(_ bytes: S) -> String {
        var scalars = String.UnicodeScalarView()
        for byte in bytes { scalars.append(scalarForByte[Int(byte)]) }
        return String(scalars)
    }

    /// The raw bytes a byte-level spelling stands for, or nil when it uses a scalar outside the map.
    static func decode(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            let value = Int(scalar.value)
            guard value < byteForScalar.count, byteForScalar[value] >= 0 else { return nil }
            bytes.append(UInt8(byteForScalar[value]))
        }
        return bytes
    }
}
