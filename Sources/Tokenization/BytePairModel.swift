/// Byte-level BPE merges over token ids: the lowest-ranked adjacent pair is merged first, the leftmost on ties,
/// exactly as llama.cpp's `llm_tokenizer_bpe_session` does with its priority queue.
///
/// Merges are keyed by the pair of ids, so a merge step costs one hash lookup. A merge whose result is not in the
/// vocabulary still happens (as in llama.cpp); such a piece gets an id past the vocabulary and, if it survives to the
/// end, is written out as llama.cpp does: one token per ASCII character of its spelling.
///
/// Complexity: O(n log n) in the bytes of a word.
struct BytePairModel: Sendable {
    let vocabularySize: Int
    /// `(left << 32 | right)` → `(rank << 32 | result)`.
    private let merges: [UInt64: UInt64]
    /// The piece each byte starts as.
    private let byteSymbols: [Int32]
    /// Byte-level spellings (UTF-8) of the pieces past the vocabulary.
    private let extraSpellings: [[UInt8]]
    /// The token of each one-character ASCII spelling, or -1.
    private let asciiTokens: [Int32]

    var mergeCount: Int { merges.count }

    /// - Parameter merges: pairs of byte-level spellings, highest priority first.
    init(path: String, vocabulary: Vocabulary, merges pairs: [(String, String)], rawMerges: [String]? = nil) throws {
        vocabularySize = vocabulary.count
        var extraIDs: [String: Int32] = [:]
        var extraSpellings: [[UInt8]] = []
        func extraPiece(_ spelling: String) -> Int32 {
            if let id = extraIDs[spelling] { return id }
            let id = Int32(vocabulary.count + extraSpellings.count)
            extraIDs[spelling] = id
            extraSpellings.append(Array(spelling.utf8))
            return id
        }

        var byteSymbols: [Int32] = []
        for byte in 0..<256 {
            let spelling = String(ByteLevel.scalarForByte[byte])
            byteSymbols.append(vocabulary.idForText[spelling] ?? extraPiece(spelling))
        }
        var asciiTokens = [Int32](repeating: -1, count: 128)
        for byte in 0..<128 {
            asciiTokens[byte] = vocabulary.idForText[String(Unicode.Scalar(UInt8(byte)))] ?? -1
        }

        var mergedIDs: [String: Int32] = [:]
        var table: [UInt64: UInt64] = [:]
        table.reserveCapacity(pairs.count)
        for (rank, (left, right)) in pairs.enumerated() {
            func lookup(_ piece: String) throws -> Int32 {
                // A piece must be a token or the result of an earlier merge; a byte missing from the vocabulary
                // (which still starts as a piece of its own) cannot be merged.
                if let id = vocabulary.idForText[piece] ?? mergedIDs[piece] { return id }
                let merge = rawMerges?[rank] ?? "\(left) \(right)"
                throw TokenizerError.mergeNotInVocabulary(path: path, index: rank, merge: merge, piece: piece)
            }
            let leftID = try lookup(left)
            let rightID = try lookup(right)
            let merged = left + right
            let result: Int32
            if let id = vocabulary.idForText[merged] {
                result = id
            } else {
                result = extraPiece(merged)
                mergedIDs[merged] = result
            }
            let key = UInt64(UInt32(bitPattern: leftID)) << 32 | UInt64(UInt32(bitPattern: rightID))
            if table[key] == nil {  // the first rule for a pair wins, as in llama.cpp
                table[key] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: result))
            }
        }
        self.merges = table
        self.byteSymbols = byteSymbols
        self.extraSpellings = extraSpellings
        self.asciiTokens = asciiTokens
    }

    /// Reusable buffers for `encode`.
    struct Scratch {
        var ids: [Int32] = []
        var previous: [Int32] = []
        var next: [Int32] = []
        var heap: [Candidate] = []
    }

    struct Candidate {
        var rank: UInt32
        var left: Int32
        var right: Int32
        var leftID: Int32
        var rightID: Int32
        var result: Int32

        @inline(__always) static func precedes(_ a: Candidate, _ b: Candidate) -> Bool {
            a.rank < b.rank || (a.rank == b.rank && a.left < b.left)
        }
    }

    /// Appends the tokens of one pre-tokenized word (raw bytes) to `output`.
    func encode(_ word: UnsafeBufferPointer<UInt8>, into output: inout [Int32], scratch: inout Scratch) {
        let count = word.count
        guard count > 0 else { return }
        if count == 1 {
            emit(byteSymbols[Int(word[0])], into: &output)
            return
        }
        scratch.ids.removeAll(keepingCapacity: true)
        scratch.previous.removeAll(keepingCapacity: true)
        scratch.next.removeAll(keepingCapacity: true)
        scratch.heap.removeAll(keepingCapacity: true)
        for index in 0..<count {
            scratch.ids.append(byteSymbols[Int(word[index])])
            scratch.previous.append(Int32(index - 1))
            scratch.next.append(index + 1 < count ? Int32(index + 1) : -1)
        }
        for index in 0..<(count - 1) {
            push(left: Int32(index), right: Int32(index + 1), scratch: &scratch)
        }
        while let candidate = pop(&scratch.heap) {
            let left = Int(candidate.left)
            let right = Int(candidate.right)
            guard scratch.ids[left] == candidate.leftID, scratch.ids[right] == candidate.rightID else { continue }
            scratch.ids[left] = candidate.result
            scratch.ids[right] = -1
            let after = scratch.next[right]
            scratch.next[left] = after
            if after >= 0 { scratch.previous[Int(after)] = Int32(left) }
            let before = scratch.previous[left]
            if before >= 0 { push(left: before, right: Int32(left), scratch: &scratch) }
            if after >= 0 { push(left: Int32(left), right: after, scratch: &scratch) }
        }
        var index: Int32 = 0
        while index >= 0 {
            emit(scratch.ids[Int(index)], into: &output)
            index = scratch.next[Int(index)]
        }
    }

    @inline(__always)
    private func push(left: Int32, right: Int32, scratch: inout Scratch) {
        let leftID = scratch.ids[Int(left)]
        let rightID = scratch.ids[Int(right)]
        let key = UInt64(UInt32(bitPattern: leftID)) << 32 | UInt64(UInt32(bitPattern: rightID))
        guard let value = merges[key] else { return }
        let candidate = Candidate(rank: UInt32(truncatingIfNeeded: value >> 32), left: left, right: right,
                                  leftID: leftID, rightID: rightID, result: Int32(truncatingIfNeeded: value))
        scratch.heap.append(candidate)
        var child = scratch.heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Candidate.precedes(scratch.heap[child], scratch.heap[parent]) else { break }
            scratch.heap.swapAt(child, parent)
            child = parent
        }
    }

    @inline(__always)
    private func pop(_ heap: inout [Candidate]) -> Candidate? {
        guard let last = heap.popLast() else { return nil }
        guard !heap.isEmpty else { return last }
        let top = heap[0]
        heap[0] = last
        var parent = 0
        let count = heap.count
        while true {
            let left = 2 * parent + 1
            guard left < count else { break }
            var best = left
            if left + 1 < count, Candidate.precedes(heap[left + 1], heap[left]) { best = left + 1 }
            guard Candidate.precedes(heap[best], heap[parent]) else { break }
            heap.swapAt(best, parent)
            parent = best
        }
        return top
    }

    @inline(__always)
    private func emit(_ id: Int32, into output: inout [Int32]) {
        if Int(id) < vocabularySize {
            output.append(id)
            return
        }
        for byte in extraSpellings[Int(id) - vocabularySize] where byte < 0x80 {
            let token = asciiTokens[Int(byte)]
            if token >= 0 { output.append(token) }
        }
    }
}
