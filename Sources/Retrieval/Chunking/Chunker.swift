/// Splits document text into passages on sentence and paragraph boundaries.
///
/// Sentences are packed greedily until the next one would pass `target`; a passage also ends at a
/// paragraph break once it is at least half the target, so passages tend to be whole paragraphs.
/// A sentence longer than the target is cut at word boundaries (or, for a single giant word, at the
/// target). Each passage after the first starts with the last whole sentences of the previous one
/// whose length fits in `overlap`. Every passage is an exact slice of the text; its span counts
/// Unicode scalars. Linear in the text length.
///
/// ```swift
/// let passages = Chunker(target: .characters(800), overlap: 100).passages(of: text)
/// ```
public struct Chunker: Sendable, Hashable {
    /// Largest passage size wanted.
    public var target: PassageLength
    /// How much of the previous passage to repeat at the start of the next, in the target's unit.
    /// Clamped to half the target.
    public var overlap: Int
    /// Counts tokens when the target is in tokens. A single word with more tokens than the target
    /// still makes one passage of its own.
    public var tokenCounter: any TokenCounter

    public init(target: PassageLength = .characters(1000), overlap: Int = 0,
                tokenCounter: any TokenCounter = WordTokenCounter()) {
        self.target = target
        self.overlap = overlap
        self.tokenCounter = tokenCounter
    }

    /// The settings as text, part of every document's content hash so a change re-chunks the store.
    public var signature: String {
        if weighsWords {
            return "chunker(target: \(target) by \(tokenCounter.name), overlap: \(effectiveOverlap))"
        }
        return "chunker(target: \(target), overlap: \(effectiveOverlap))"
    }

    public static func == (lhs: Chunker, rhs: Chunker) -> Bool { lhs.signature == rhs.signature }
    public func hash(into hasher: inout Hasher) { hasher.combine(signature) }

    /// Whether words must be weighed one by one (any counter but the one-token-per-word default).
    private var weighsWords: Bool {
        if case .tokens = target { return !(tokenCounter is WordTokenCounter) }
        return false
    }

    /// Tokens of the word at `range`.
    private func weight(_ scalars: [Unicode.Scalar], _ range: Range<Int>) -> Int {
        guard weighsWords else { return 1 }
        let word = String(String.UnicodeScalarView(scalars[range]))
        return max(1, tokenCounter.tokens(inWord: word[...]))
    }

    /// The segment's token count under `tokenCounter` (the splitter counted words).
    private func weighed(_ segment: SentenceSegment, _ scalars: [Unicode.Scalar]) -> SentenceSegment {
        guard weighsWords else { return segment }
        var weighed = segment
        weighed.words = wordRanges(segment, scalars).reduce(0) { $0 + weight(scalars, $1) }
        return weighed
    }

    private func wordRanges(_ segment: SentenceSegment, _ scalars: [Unicode.Scalar]) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var index = segment.start
        while index < segment.end {
            if scalars[index].isSpace { index += 1; continue }
            var end = index
            while end < segment.end, !scalars[end].isSpace { end += 1 }
            ranges.append(index..<end)
            index = end
        }
        return ranges
    }

    var limit: Int { max(1, target.count) }
    var effectiveOverlap: Int { max(0, min(overlap, limit / 2)) }

    /// The passages of `text`, ordinals from 0. Empty or blank text has none.
    public func passages(of text: String) -> [Passage] {
        let scalars = Array(text.unicodeScalars)
        let sentences = SentenceSplitter().segments(of: scalars)
        let units = sentences.flatMap { split(weighed($0, scalars), scalars: scalars) }
        guard !units.isEmpty else { return [] }
        // wordsBefore[i]: tokens of units[0..<i], so the size of any run of units is one subtraction.
        var wordsBefore = [0]
        wordsBefore.reserveCapacity(units.count + 1)
        for unit in units { wordsBefore.append(wordsBefore[wordsBefore.count - 1] + unit.words) }
        let sizes = UnitSizes(units: units, wordsBefore: wordsBefore, target: target)

        // UTF-8 offset of every scalar, so a passage's text is one copy of a byte range.
        var utf8Offsets = [Int](repeating: 0, count: scalars.count + 1)
        for (index, scalar) in scalars.enumerated() {
            utf8Offsets[index + 1] = utf8Offsets[index] + UTF8.width(scalar)
        }
        var utf8 = text
        var passages: [Passage] = []
        var first = 0
        while first < units.count {
            var last = first  // inclusive
            while last + 1 < units.count {
                if units[last].endsParagraph, sizes.of(first, last) * 2 >= limit { break }
                if sizes.of(first, last + 1) > limit { break }
                last += 1
            }
            let span = units[first].start..<units[last].end
            let passageText = utf8.withUTF8 { bytes in
                String(decoding: UnsafeBufferPointer(rebasing: bytes[utf8Offsets[span.lowerBound]..<utf8Offsets[span.upperBound]]),
                       as: UTF8.self)
            }
            passages.append(Passage(ordinal: passages.count, text: passageText, span: span))
            guard last + 1 < units.count else { break }
            first = nextStart(sizes, previousFirst: first, previousLast: last)
        }
        return passages
    }

    /// Where the next passage starts: the earliest unit after `previousFirst` such that the units up to
    /// `previousLast` fit in the overlap, and the overlap plus the next new unit fits in the target.
    private func nextStart(_ sizes: UnitSizes, previousFirst: Int, previousLast: Int) -> Int {
        let fresh = previousLast + 1
        guard effectiveOverlap > 0 else { return fresh }
        var start = fresh
        while start - 1 > previousFirst,
              sizes.of(start - 1, previousLast) <= effectiveOverlap,
              sizes.of(start - 1, fresh) <= limit {
            start -= 1
        }
        return start
    }

    /// Sizes of runs of units in the target's unit, each in constant time.
    private struct UnitSizes {
        let units: [SentenceSegment]
        let wordsBefore: [Int]
        let target: PassageLength

        /// Size of units `first...last`.
        func of(_ first: Int, _ last: Int) -> Int {
            switch target {
            case .characters: units[last].end - units[first].start
            case .tokens: wordsBefore[last + 1] - wordsBefore[first]
            }
        }
    }

    /// Cuts a segment larger than the target into pieces at word boundaries; a word longer than a
    /// character target is itself cut every `limit` scalars.
    private func split(_ segment: SentenceSegment, scalars: [Unicode.Scalar]) -> [SentenceSegment] {
        let segmentSize: Int
        switch target {
        case .characters: segmentSize = segment.end - segment.start
        case .tokens: segmentSize = segment.words
        }
        guard segmentSize > limit else { return [segment] }

        // Words as scalar ranges (long words pre-cut for a character target), with their tokens.
        var words: [Range<Int>] = []
        for word in wordRanges(segment, scalars) {
            if case .characters = target {
                var cut = word.lowerBound
                while cut < word.upperBound {
                    words.append(cut..<min(word.upperBound, cut + limit))
                    cut += limit
                }
            } else {
                words.append(word)
            }
        }
        var tokensBefore = [0]  // tokensBefore[i]: tokens of words[0..<i]
        tokensBefore.reserveCapacity(words.count + 1)
        for word in words { tokensBefore.append(tokensBefore[tokensBefore.count - 1] + weight(scalars, word)) }

        var pieces: [SentenceSegment] = []
        var first = 0
        while first < words.count {
            var last = first
            while last + 1 < words.count {
                let grown: Int
                switch target {
                case .characters: grown = words[last + 1].upperBound - words[first].lowerBound
                case .tokens: grown = tokensBefore[last + 2] - tokensBefore[first]
                }
                if grown > limit { break }
                last += 1
            }
            pieces.append(SentenceSegment(start: words[first].lowerBound, end: words[last].upperBound,
                                          words: tokensBefore[last + 1] - tokensBefore[first], endsParagraph: false))
            first = last + 1
        }
        pieces[pieces.count - 1].endsParagraph = segment.endsParagraph
        return pieces
    }
}
