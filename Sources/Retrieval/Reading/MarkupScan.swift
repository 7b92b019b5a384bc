import Foundation

/// A linear pass over raw HTML or XML bytes, before libxml2 sees them, that rejects an element with
/// more than ``ReadLimits/maximumAttributes`` attributes: libxml2 2.9 compares each attribute of an
/// element with all the ones before it, so one element with 200,000 attributes took 46 s.
/// (The other quadratic case, HTML end tags that close nothing, is measured while libxml2 parses:
/// see ``MarkupTree/html(_:encoding:file:limits:)``.)
///
/// The scan only needs the byte values of `<`, `>`, `/`, `=`, quotes and ASCII space, so it works on
/// every ASCII-compatible encoding and, with zero bytes in between, on UTF-16.
/// Comments, CDATA sections, processing instructions, declarations and (HTML) script and style text
/// are skipped whole.
struct MarkupScan {
    let limits: ReadLimits
    let html: Bool

    /// HTML elements whose content is text up to their end tag, never markup.
    static let rawTextElements: Set<[UInt8]> = Set([
        "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "plaintext",
    ].map { Array($0.utf8) })

    /// - Throws: ``DocumentReadError`` naming the file, the byte offset and the limit that was passed.
    func check(_ data: Data, file: String) throws {
        try data.withUnsafeBytes { raw in
            try check(raw.bindMemory(to: UInt8.self), file: file)
        }
    }

    private func check(_ bytes: UnsafeBufferPointer<UInt8>, file: String) throws {
        let count = bytes.count

        @inline(__always) func isSpace(_ byte: UInt8) -> Bool {
            byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0x0C
        }
        // Zero bytes (the other half of UTF-16 code units) are skipped between tokens and ignored inside them.
        @inline(__always) func isGap(_ byte: UInt8) -> Bool { byte == 0 || isSpace(byte) }
        func find(_ pattern: [UInt8], from start: Int) -> Int {
            var index = start
            while index + pattern.count <= count {
                if bytes[index] == pattern[0] {
                    var matched = 1
                    while matched < pattern.count, bytes[index + matched] == pattern[matched] { matched += 1 }
                    if matched == pattern.count { return index + pattern.count }
                }
                index += 1
            }
            return count
        }
        func hasPrefix(_ pattern: String, at index: Int) -> Bool {
            var offset = index
            for byte in pattern.utf8 {
                guard offset < count, bytes[offset] == byte else { return false }
                offset += 1
            }
            return true
        }
        func name(from start: Int) -> (name: [UInt8], end: Int) {
            var index = start
            var name: [UInt8] = []
            while index < count, !isSpace(bytes[index]), bytes[index] != 0x3E, bytes[index] != 0x2F {
                let byte = bytes[index]
                if byte != 0 { name.append(byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte) }
                index += 1
            }
            return (name, index)
        }

        // The offset of `</tag` (any case) at or after `start`, or the end.
        func endTag(_ tag: [UInt8], from start: Int) -> Int {
            var index = start
            while index + 1 < count {
                if bytes[index] == 0x3C, bytes[index + 1] == 0x2F {
                    let (found, _) = name(from: index + 2)
                    if found == tag { return index }
                }
                index += 1
            }
            return count
        }

        var index = 0
        while index < count {
            guard bytes[index] == 0x3C else { index += 1; continue }  // '<'
            let tagStart = index
            var next = index + 1
            while next < count, bytes[next] == 0 { next += 1 }  // UTF-16 zero bytes
            guard next < count else { break }
            let first = bytes[next]
            if first == 0x21 {  // '!'
                if hasPrefix("!--", at: next) { index = find(Array("-->".utf8), from: next + 3); continue }
                if hasPrefix("![CDATA[", at: next) { index = find(Array("]]>".utf8), from: next + 8); continue }
                // A declaration; a DOCTYPE's internal subset sits between brackets.
                var depth = 0
                index = next + 1
                while index < count {
                    let byte = bytes[index]
                    index += 1
                    if byte == 0x5B { depth += 1 } else if byte == 0x5D { depth = max(0, depth - 1) }
                    else if byte == 0x3E, depth == 0 { break }
                }
                continue
            }
            if first == 0x3F { index = find(Array("?>".utf8), from: next + 1); continue }  // '?'
            if first == 0x2F {  // '/': an end tag
                index = next + 1
                while index < count, bytes[index] != 0x3E { index += 1 }
                continue
            }
            let isNameStart = (first >= 0x41 && first <= 0x5A) || (first >= 0x61 && first <= 0x7A)
                || first == 0x5F || first == 0x3A || first >= 0x80
            guard isNameStart else { index = next; continue }  // a '<' in text
            let (tag, afterName) = name(from: next)
            // Attributes: each name, then optionally `=` and a quoted or bare value.
            var attributes = 0
            var selfClosing = false
            index = afterName
            while index < count {
                let byte = bytes[index]
                if isGap(byte) { index += 1; continue }
                if byte == 0x3E { index += 1; break }  // '>'
                if byte == 0x2F {  // '/', self-closing when '>' follows
                    index += 1
                    while index < count, bytes[index] == 0 { index += 1 }
                    selfClosing = index < count && bytes[index] == 0x3E
                    continue
                }
                selfClosing = false
                if byte == 0x22 || byte == 0x27 {  // a stray quoted string
                    index += 1
                    while index < count, bytes[index] != byte { index += 1 }
                    index += 1
                    continue
                }
                attributes += 1
                if attributes > limits.maximumAttributes {
                    throw DocumentReadError(file: file, reason: """
                        an element at byte offset \(tagStart) has more than \(limits.maximumAttributes) attributes
                        """)
                }
                while index < count, !isSpace(bytes[index]), bytes[index] != 0x3D, bytes[index] != 0x3E,
                      bytes[index] != 0x2F {
                    index += 1
                }
                while index < count, isGap(bytes[index]) { index += 1 }
                guard index < count, bytes[index] == 0x3D else { continue }  // '='
                index += 1
                while index < count, isGap(bytes[index]) { index += 1 }
                guard index < count else { break }
                let quote = bytes[index]
                if quote == 0x22 || quote == 0x27 {
                    index += 1
                    while index < count, bytes[index] != quote { index += 1 }
                    index += 1
                } else {
                    while index < count, !isSpace(bytes[index]), bytes[index] != 0x3E { index += 1 }
                }
            }
            if html, !selfClosing, MarkupScan.rawTextElements.contains(tag) {
                // Script and style text is not markup: go straight to its end tag.
                index = endTag(tag, from: index)
            }
        }
    }
}
