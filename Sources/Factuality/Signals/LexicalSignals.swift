/// The passage window that supports a claim best.
public struct Evidence: Sendable, Hashable, Codable {
    public var passageID: String
    /// The window's span in its passage, in Unicode scalar offsets.
    public var span: TextSpan
    public var text: String
}

/// The text-statistics signals of one claim against the passages.
public struct LexicalSignals: Sendable, Hashable, Codable {
    /// Share of the claim's content words (stemmed, stop words out) found in the best passage window
    /// (MiniCheck-style maximum over windows). 1 when the claim has no content words.
    public var support: Double
    /// Share of the claim's adjacent content-word pairs found, in order, in the best window for pairs: it drops
    /// when known words are recombined ("Paris, capital of Germany" against "Paris ... France. Berlin ... Germany").
    /// Equals ``support`` for a claim of fewer than two content words.
    public var pairSupport: Double
    /// How many content words the claim has.
    public var contentWords: Int
    /// Content words that no passage, nor the question, mentions (missing hard facts among them).
    public var unsupportedWords: [String]
    /// Numbers, dates and capitalised names in the claim.
    public var hardFacts: [String]
    /// The hard facts that appear in no passage and not in the question.
    public var missingFacts: [String]
    /// The claim negates while its best window does not.
    public var negationMismatch: Bool
    /// The best window (reported beside the signals, not inside them).
    public var evidence: Evidence? = nil

    /// Whether the claim has anything to check: at least one content word (numbers and names count; stop words,
    /// "yes", "no" and punctuation do not). The checker labels other claims unverifiable and leaves them out of the
    /// answer's scores; the evaluation does the same.
    public var isCheckable: Bool { contentWords > 0 }

    enum CodingKeys: String, CodingKey {
        case support, pairSupport, contentWords, unsupportedWords, hardFacts, missingFacts, negationMismatch
    }

    /// Measures `claim` against `index`.
    public init(claim: String, index: EvidenceIndex) {
        let words = TextAnalyzer.words(claim)
        let content = words.filter(\.isContent)
        let stems = Set(content.map(\.stem))
        contentWords = content.count

        var best = -1
        var bestShare = stems.isEmpty ? 1.0 : 0.0
        if !stems.isEmpty {
            for (w, window) in index.windows.enumerated() {
                let share = Double(stems.lazy.filter(window.stems.contains).count) / Double(stems.count)
                if share > bestShare || best < 0 {
                    bestShare = share
                    best = w
                }
            }
        } else if !index.windows.isEmpty {
            best = 0
        }
        support = bestShare

        let pairs = EvidenceIndex.bigrams(content)
        if pairs.isEmpty {
            // A claim of one content word has no pairs: its single word decides, so short claims gain nothing.
            pairSupport = bestShare
        } else {
            var bestPairs = 0
            for window in index.windows {
                bestPairs = max(bestPairs, pairs.lazy.filter(window.bigrams.contains).count)
            }
            pairSupport = Double(bestPairs) / Double(pairs.count)
        }

        var unsupported: [String] = []
        for word in content where !index.mentions(word, includingQuestion: true) && !unsupported.contains(word.lower) {
            unsupported.append(word.lower)
        }
        unsupportedWords = unsupported

        var facts: [String] = [], missing: [String] = []
        let scalars = Array(claim.unicodeScalars)
        for word in words where word.fact != nil {
            let surface = word.span.text(in: scalars)
            if facts.contains(surface) { continue }
            facts.append(surface)
            if !index.mentions(word, includingQuestion: true) { missing.append(surface) }
        }
        hardFacts = facts
        missingFacts = missing

        let claimNegates = words.contains(where: \.isNegation)
        if best >= 0 {
            let window = index.windows[best]
            negationMismatch = claimNegates && !window.hasNegation
            let passage = index.passages[window.passage]
            evidence = Evidence(passageID: passage.id, span: window.span,
                                text: window.span.text(in: index.passageScalars[window.passage]))
        } else {
            negationMismatch = claimNegates
            evidence = nil
        }
    }
}
