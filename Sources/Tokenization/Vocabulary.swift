/// The token texts of a byte-level BPE model with their attributes and the bytes each decodes to.
struct Vocabulary: Sendable {
    /// Raw vocabulary entries, in id order.
    let texts: [String]
    let attributes: [TokenAttributes]
    let idForText: [String: Int32]
    /// Decoded bytes of every token, back to back; token `i` is `pieceBytes[pieceStarts[i]..<pieceStarts[i + 1]]`.
    let pieceBytes: [UInt8]
    let pieceStarts: [Int32]

    init(path: String, texts: [String], attributes: [TokenAttributes]) throws {
        var idForText: [String: Int32] = [:]
        idForText.reserveCapacity(texts.count)
        for (id, text) in texts.enumerated() {
            if let first = idForText.updateValue(Int32(id), forKey: text) {
                throw TokenizerError.duplicateToken(path: path, text: text, firstID: Int(first), secondID: id)
            }
        }
        self.texts = texts
        self.attributes = attributes
        self.idForText = idForText

        var bytes: [UInt8] = []
        var starts: [Int32] = [0]
        bytes.reserveCapacity(texts.count * 6)
        starts.reserveCapacity(texts.count + 1)
        for (text, attribute) in zip(texts, attributes) {
            Self.appendPiece(text: text, attributes: attribute, to: &bytes)
            starts.append(Int32(bytes.count))
        }
        pieceBytes = bytes
        pieceStarts = starts
    }

    var count: Int { texts.count }

    /// What llama.cpp's `token_to_piece` gives with `special = true`.
    private static func appendPiece(text: String, attributes: TokenAttributes, to bytes: inout [UInt8]) {
        if !attributes.isDisjoint(with: [.control, .unknown, .userDefined]) {
            bytes.append(contentsOf: text.utf8)
        } else if attributes.contains(.normal) {
            for scalar in text.unicodeScalars {
                let value = Int(scalar.value)
                if value < ByteLevel.byteForScalar.count, ByteLevel.byteForScalar[value] >= 0 {
                    bytes.append(UInt8(ByteLevel.byteForScalar[value]))
                } else {
                    // llama.cpp writes an unmappable scalar out this way rather than dropping it.
                    let hex = String(scalar).utf8.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
                    bytes.append(contentsOf: "[UNK_BYTE_0x\(hex)\(text)]".utf8)
                }
            }
        } else if attributes.contains(.byte), let decoded = ByteLevel.decode(text), decoded.count == 1 {
            bytes.append(decoded[0])
        }
    }

    /// Whether decoding hides this token when asked to skip specials.
    @inline(__always) func isHiddenSpecial(_ id: Int) -> Bool {
        !attributes[id].isDisjoint(with: [.control, .unknown])
    }

    @inline(__always) func piece(_ id: Int) -> ArraySlice<UInt8> {
        pieceBytes[Int(pieceStarts[id])..<Int(pieceStarts[id + 1])]
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
