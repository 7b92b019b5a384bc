import Embedding
import Foundation

/// How passages are ranked for a question.
public enum SearchMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// FTS5 BM25 over title and text: exact words (stemmed).
    case bm25
    /// Cosine of sentence vectors: meaning, without shared words.
    case dense
    /// Both lists fused by reciprocal rank: a passage high in either, or fairly high in both, comes first.
    case hybrid
}

/// How hybrid search combines the BM25 and the dense ranking.
public enum FusionMethod: String, Sendable, Hashable, Codable, CaseIterable {
    /// Reciprocal-rank fusion: a passage at rank r of a ranking adds weight / (k + r).
    case reciprocalRank = "rrf"
    /// Scores: lexicalWeight * BM25 / (the best BM25 of the question) + cosine, over the union of both candidate
    /// lists (every candidate's cosine is computed exactly; one absent from the BM25 list counts 0 there).
    case scores
}

/// Finds passages for a question by BM25, by dense vectors, or by both fused (reciprocal-rank fusion).
///
/// ```swift
/// let retriever = Retriever(store: store, mode: .hybrid, embedder: try SentenceEmbedder(folder: SentenceEmbedder.defaultFolder))
/// let hits = try retriever.search("What is the capital of Australia?", options: SearchOptions(limit: 5))
/// ```
public struct Retriever: Sendable {
    public var store: PassageStore
    public var mode: SearchMode
    /// Needed for `dense` and `hybrid`; must be the embedder the store's vectors were made with.
    public var embedder: (any TextEmbedder)?
    public var builder: QueryBuilder
    /// k of reciprocal-rank fusion: a passage at rank r of a list adds weight / (k + r).
    public var fusionConstant: Double
    /// Weight of the BM25 list in the fusion (the dense list has weight 1).
    public var lexicalWeight: Double
    /// How many passages each list contributes to the fusion (at least the requested limit).
    public var candidates: Int
    /// How the two rankings are combined in `hybrid` mode.
    public var fusion: FusionMethod

    // Tuned on HaluEval QA questions of sample seed 7 (docs/retrieval.md, "Dense and hybrid search"): score fusion
    // with BM25 at half the weight of the cosine gave recall@1 0.943 against BM25's 0.9255 and the best
    // reciprocal-rank setting's 0.926 (k 3, BM25 weight 2), at no loss at 5 or 10.
    public static let defaultFusionConstant = 60.0
    public static let defaultLexicalWeight = 0.5
    public static let defaultCandidates = 50
    public static let defaultFusion = FusionMethod.scores

    public init(store: PassageStore, mode: SearchMode = .bm25, embedder: (any TextEmbedder)? = nil,
                builder: QueryBuilder = QueryBuilder(), fusionConstant: Double = defaultFusionConstant,
                lexicalWeight: Double = defaultLexicalWeight, candidates: Int = defaultCandidates,
                fusion: FusionMethod = defaultFusion) {
        self.fusion = fusion
        self.store = store
        self.mode = mode
        self.embedder = embedder
        self.builder = builder
        self.fusionConstant = fusionConstant
        self.lexicalWeight = lexicalWeight
        self.candidates = candidates
    }

    /// The mode searches will use, and why it differs from the one asked for: `hybrid` falls back to `bm25`
    /// when the store has no vectors or no embedder was given.
    /// - Throws: ``StoreError`` when `dense` cannot run, or the embedder is not the one the vectors were made with.
    public func resolvedMode() throws -> (mode: SearchMode, note: String?) {
        guard mode != .bm25 else { return (.bm25, nil) }
        let model = try store.vectorModel()
        let coverage = try store.vectorCoverage()
        let missing: String?
        if model == nil || coverage.withVector == 0 {
            missing = "the store has no passage vectors (build them with `dera index --embed`)"
        } else if embedder == nil {
            missing = "no embedder was given"
        } else {
            missing = nil
        }
        if let missing {
            if mode == .hybrid { return (.bm25, "\(missing); searching with BM25 only") }
            throw StoreError(path: store.path, operation: "dense search", reason: missing)
        }
        if let model, let embedder, model != VectorModel(identity: embedder.identity, dimension: embedder.dimension) {
            throw StoreError(path: store.path, operation: "\(mode.rawValue) search", reason: """
                the store's vectors were made by '\(model.identity)' (\(model.dimension) dimensions), not by \
                '\(embedder.identity)' (\(embedder.dimension))
                """)
        }
        let note = coverage.without > 0
            ? "\(coverage.without) of \(coverage.withVector + coverage.without) passages have no vector yet (`dera index --embed` adds them)"
            : nil
        return (mode, note)
    }

    /// The best `options.limit` passages for `text` in the resolved mode. Scores are BM25 (larger is better),
    /// cosines, or fused reciprocal-rank sums, by mode.
    public func search(_ text: String, options: SearchOptions = SearchOptions()) throws -> [SearchHit] {
        let mode = try resolvedMode().mode
        switch mode {
        case .bm25:
            return try store.search(text, options: options, builder: builder)
        case .dense:
            let ranked = try denseRanking(text, limit: options.limit, filters: options.filters)
            return try store.hits(ids: ranked.map(\.passageID), scores: ranked.map { Double($0.score) },
                                  snippetTokens: options.snippetTokens)
        case .hybrid:
            return try hybrid(text, options: options)
        }
    }

    func denseRanking(_ text: String, limit: Int, filters: [MetadataFilter]) throws -> [(passageID: Int64, score: Float)] {
        try denseSearch(text, limit: limit, filters: filters).ranking
    }

    /// The nearest passages, with the question's vector and the index to score other passages with.
    func denseSearch(_ text: String, limit: Int, filters: [MetadataFilter]) throws
        -> (ranking: [(passageID: Int64, score: Float)], query: [Float], index: DenseIndex?) {
        guard let embedder, let index = try store.denseIndex(), limit > 0 else { return ([], [], nil) }
        let query = try embedder.embed([text])[0]
        let allowed = filters.isEmpty ? nil : try store.passageIDs(matching: filters)
        return (index.nearest(query, limit: limit, allowed: allowed), query, index)
    }

    func hybrid(_ text: String, options: SearchOptions) throws -> [SearchHit] {
        guard options.limit > 0 else { return [] }
        let depth = max(candidates, options.limit)
        var deeper = options
        deeper.limit = depth
        let lexicalOptions = deeper
        let query = builder.query(for: text)
        // The two rankings are independent: BM25 runs on a second thread while the question is embedded, so a
        // hybrid search takes about as long as a dense one.
        let lexicalResult = ResultBox<[SearchHit]>()
        let store = self.store
        let worker = Thread {
            lexicalResult.set(Result { try store.search(query, options: lexicalOptions, snippets: false) })
        }
        worker.start()
        let denseResult = Result { try denseSearch(text, limit: depth, filters: options.filters) }
        let lexical = try lexicalResult.wait().get()
        let (dense, queryVector, index) = try denseResult.get()
        var fused: [Int64: Double] = [:]
        switch fusion {
        case .reciprocalRank:
            for (rank, hit) in lexical.enumerated() {
                guard let id = hit.passage.id else { continue }
                fused[id, default: 0] += lexicalWeight / (fusionConstant + Double(rank + 1))
            }
            for (rank, item) in dense.enumerated() {
                fused[item.passageID, default: 0] += 1 / (fusionConstant + Double(rank + 1))
            }
        case .scores:
            let best = lexical.first.map { max($0.score, 1e-9) } ?? 1
            for hit in lexical {
                guard let id = hit.passage.id else { continue }
                let cosine = index?.similarity(queryVector, passageID: id).map(Double.init) ?? 0
                fused[id] = lexicalWeight * max(0, hit.score) / best + cosine
            }
            for item in dense where fused[item.passageID] == nil {
                fused[item.passageID] = Double(item.score)
            }
        }
        let best = fused.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.prefix(options.limit)
        var known: [Int64: SearchHit] = [:]
        for hit in lexical { if let id = hit.passage.id { known[id] = hit } }
        let unknown = best.map(\.key).filter { known[$0] == nil }
        for hit in try store.hits(ids: unknown, scores: unknown.map { _ in 0 }, snippetTokens: options.snippetTokens) {
            if let id = hit.passage.id { known[id] = hit }
        }
        let highlighted = try store.snippets(query, ids: best.map(\.key), tokens: options.snippetTokens)
        return best.compactMap { id, score in
            guard var hit = known[id] else { return nil }
            hit.score = score
            if let snippet = highlighted[id] {
                hit.snippet = snippet
            } else if hit.snippet.isEmpty {
                hit.snippet = PassageStore.leadingWords(of: hit.passage.text, count: max(1, options.snippetTokens))
            }
            return hit
        }
    }
}

/// A value handed from one thread to another once.
final class ResultBox<Value: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var value: Result<Value, any Error>?

    func set(_ result: Result<Value, any Error>) {
        condition.lock()
        value = result
        condition.signal()
        condition.unlock()
    }

    func wait() -> Result<Value, any Error> {
        condition.lock()
        defer { condition.unlock() }
        while value == nil { condition.wait() }
        return value!
    }
}
