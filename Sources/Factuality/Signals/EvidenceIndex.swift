/// A passage an answer is checked against: an identifier to cite and its text.
public struct Passage: Sendable, Hashable, Codable {
    public var id: String
    public var text: String

    public init(id: String, text: String) {
        self.id = id
        self.text = text
    }
}

/// A window of consecutive sentences of one passage: the unit lexical support is measured in.
struct EvidenceWindow: Sendable {
    var passage: Int
    var span: TextSpan
    var stems: Set<String>
    var bigrams: Set<String>
    var hasNegation: Bool
}

/// The passages prepared once for every claim of an answer: sentence windows with their content stems, and
/// everything any passage (or the question) mentions, for the hard-fact check.
public struct EvidenceIndex: Sendable {
    public let passages: [Passage]
    /// Sentences per window: support is the best share of a claim found inside one window.
    public let windowSentences: Int
    var windows: [EvidenceWindow] = []
    /// Each passage's text as scalars, to cut evidence spans from.
    var passageScalars: [[Unicode.Scalar]] = []
    /// Stems, lowercased forms and normalised facts of every passage word.
    var mentioned: Set<String> = []
    /// The same for the question, which may name things the passages do not.
    var questionMentioned: Set<String> = []

    public init(passages: [Passage], question: String? = nil, windowSentences: Int = 2) {
        self.passages = passages
        self.windowSentences = max(1, windowSentences)
        let splitter = SentenceSplitter()
        for (index, passage) in passages.enumerated() {
            let scalars = Array(passage.text.unicodeScalars)
            passageScalars.append(scalars)
            let words = TextAnalyzer.words(scalars)
            for word in words { Self.record(word, into: &mentioned) }
            var sentences = splitter.sentences(in: scalars)
            if sentences.isEmpty { continue }
            if sentences.count < self.windowSentences { sentences = [TextSpan(start: sentences[0].start,
                                                                           end: sentences.last!.end)] }
            // Words of each sentence, found by walking both sorted lists once.
            var sentenceWords: [[AnalyzedWord]] = Array(repeating: [], count: sentences.count)
            var s = 0
            for word in words {
                while s < sentences.count - 1, word.span.start >= sentences[s].end { s += 1 }
                sentenceWords[s].append(word)
            }
            let width = min(self.windowSentences, sentences.count)
            for first in 0...(sentences.count - width) {
                let range = first..<(first + width)
                let content = range.flatMap { sentenceWords[$0] }.filter(\.isContent)
                windows.append(EvidenceWindow(
                    passage: index, span: TextSpan(start: sentences[first].start, end: sentences[range.last!].end),
                    stems: Set(content.map(\.stem)), bigrams: Self.bigrams(content),
                    hasNegation: range.contains { sentenceWords[$0].contains(where: \.isNegation) }))
            }
        }
        if let question {
            for word in TextAnalyzer.words(question) { Self.record(word, into: &questionMentioned) }
        }
    }

    static func record(_ word: AnalyzedWord, into set: inout Set<String>) {
        set.insert(word.stem)
        set.insert(word.lower)
        if let fact = word.fact { set.insert(fact) }
    }

    static func bigrams(_ content: [AnalyzedWord]) -> Set<String> {
        guard content.count > 1 else { return [] }
        return Set((1..<content.count).map { content[$0 - 1].stem + " " + content[$0].stem })
    }

    /// The passages cut down to the given evidence windows: overlapping windows of one passage merged, in
    /// passage order. This is the context the model reads, so a long document costs only what supports the claims.
    public func focused(on evidence: [Evidence]) -> [Passage] {
        var spans: [Int: [TextSpan]] = [:]
        for item in evidence {
            guard let p = passages.firstIndex(where: { $0.id == item.passageID }) else { continue }
            spans[p, default: []].append(item.span)
        }
        var result: [Passage] = []
        for p in spans.keys.sorted() {
            var merged: [TextSpan] = []
            for span in spans[p]!.sorted(by: { $0.start < $1.start }) {
                if let last = merged.last, span.start <= last.end {
                    merged[merged.count - 1] = TextSpan(start: last.start, end: max(last.end, span.end))
                } else {
                    merged.append(span)
                }
            }
            let text = merged.map { $0.text(in: passageScalars[p]) }.joined(separator: " ... ")
            result.append(Passage(id: passages[p].id, text: text))
        }
        return result
    }

    /// Whether `word` (a fact or a content word) is mentioned by any passage or by the question.
    func mentions(_ word: AnalyzedWord, includingQuestion: Bool) -> Bool {
        let keys = [word.fact, word.stem, word.lower].compactMap { $0 }
        if keys.contains(where: mentioned.contains) { return true }
        return includingQuestion && keys.contains(where: questionMentioned.contains)
    }
}
