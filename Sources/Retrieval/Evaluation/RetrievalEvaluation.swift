import Embedding
import Foundation

/// Measures how often a question retrieves its own document: every case's text is indexed as one
/// document, a fixed seeded sample of questions is searched, and recall@k counts a question as found
/// when a hit within the first k passages belongs to a document whose text equals the question's
/// own (so duplicated texts in a benchmark count either copy). Latency is wall time of
/// ``PassageStore/search(_:options:builder:)`` per question, query building included.
///
/// ```swift
/// let cases = try EvaluationCase.load(jsonl: "data/halueval/dataset_halueval_qa.jsonl")
/// let report = try RetrievalEvaluation(store: store).run(cases)
/// print(report.recall[5]!)
/// ```
public struct RetrievalEvaluation: Sendable {
    public var store: PassageStore
    /// How the case texts are chunked and stored.
    public var ingestOptions: IngestOptions
    /// Ranking settings; the limit is raised to the largest recall cut-off.
    public var searchOptions: SearchOptions
    public var queryBuilder: QueryBuilder
    /// How many questions to ask (all of them when larger than the number of cases).
    public var sampleSize: Int
    /// Seed of the sample, so every run asks the same questions.
    public var seed: UInt64
    /// The k of recall@k.
    public var cutoffs: [Int]
    /// Watches the indexing step (a progress bar, for instance).
    public var observer: (any IngestObserver)?
    /// How the questions are searched.
    public var mode: SearchMode
    /// Embeds the cases' passages (stored in the index) and the questions; needed for `dense` and `hybrid`.
    public var embedder: (any TextEmbedder)?
    /// Fusion settings for `hybrid` (its fusion constant, lexical weight and candidates are used).
    public var fusion: Retriever?

    public init(store: PassageStore, ingestOptions: IngestOptions = IngestOptions(),
                searchOptions: SearchOptions = SearchOptions(), queryBuilder: QueryBuilder = QueryBuilder(),
                sampleSize: Int = 2_000, seed: UInt64 = 42, cutoffs: [Int] = [1, 5, 10],
                observer: (any IngestObserver)? = nil, mode: SearchMode = .bm25, embedder: (any TextEmbedder)? = nil,
                fusion: Retriever? = nil) {
        self.fusion = fusion
        self.mode = mode
        self.embedder = embedder
        self.store = store
        self.ingestOptions = ingestOptions
        self.searchOptions = searchOptions
        self.queryBuilder = queryBuilder
        self.sampleSize = sampleSize
        self.seed = seed
        self.cutoffs = cutoffs.filter { $0 > 0 }.sorted()
        self.observer = observer
    }

    /// Source key of case `index` in the store.
    static func source(_ index: Int) -> String { "eval#\(index)" }

    /// Indexes the cases (incrementally: an index built by an earlier run is reused) and asks the sample.
    public func run(_ cases: [EvaluationCase]) throws -> RetrievalEvaluationReport {
        let documents = cases.enumerated().map { index, item in
            ExtractedDocument(source: RetrievalEvaluation.source(index), title: item.title, text: item.text)
        }
        var options = ingestOptions
        options.deleteMissing = true
        let ingestor = Ingestor(store: store, options: options, observer: observer, embedder: embedder)
        var ingest = try ingestor.ingest(documents: documents, scope: "eval#")
        let backfillStarted = ContinuousClock.now
        let backfilled = try ingestor.backfillVectors()
        ingest.embedded += backfilled
        if backfilled > 0 { ingest.embeddingSeconds += Ingestor.seconds(ContinuousClock.now - backfillStarted) }
        var retriever = Retriever(store: store, mode: mode, embedder: embedder, builder: queryBuilder)
        if let fusion {
            retriever.fusionConstant = fusion.fusionConstant
            retriever.lexicalWeight = fusion.lexicalWeight
            retriever.candidates = fusion.candidates
            retriever.fusion = fusion.fusion
        }
        let resolved = try retriever.resolvedMode()
        if resolved.mode != mode {
            throw StoreError(path: store.path, operation: "evaluating \(mode.rawValue) retrieval",
                             reason: resolved.note ?? "the store cannot be searched in this mode")
        }
        if mode != .bm25 { _ = try store.denseIndex() }  // loaded once, outside the timed searches

        let askable = cases.indices.filter { !cases[$0].question.isEmpty }
        let sample = RetrievalEvaluation.sample(askable, count: sampleSize, seed: seed)
        var search = searchOptions
        search.limit = max(search.limit, cutoffs.last ?? 1)

        let clock = ContinuousClock()
        var ranks: [Int?] = []
        var latencies: [Double] = []
        var cpuTimes: [Double] = []
        ranks.reserveCapacity(sample.count)
        latencies.reserveCapacity(sample.count)
        cpuTimes.reserveCapacity(sample.count)
        for index in sample {
            let cpuStarted = RetrievalEvaluation.processCPUMilliseconds()
            let started = clock.now
            let hits = try retriever.search(cases[index].question, options: search)
            latencies.append(Ingestor.seconds(clock.now - started) * 1000)
            cpuTimes.append(RetrievalEvaluation.processCPUMilliseconds() - cpuStarted)
            let target = cases[index].text
            let rank = hits.firstIndex { hit in
                guard let row = RetrievalEvaluation.row(of: hit.source) else { return false }
                return row == index || cases[row].text == target
            }
            ranks.append(rank.map { $0 + 1 })
        }

        var recall = RecallTable()
        for cutoff in cutoffs {
            let found = ranks.filter { rank in rank.map { $0 <= cutoff } ?? false }.count
            recall[cutoff] = sample.isEmpty ? 0 : Double(found) / Double(sample.count)
        }
        let reciprocal = ranks.reduce(0.0) { sum, rank in sum + (rank.map { 1 / Double($0) } ?? 0) }
        let sorted = latencies.sorted()
        return RetrievalEvaluationReport(
            mode: mode, cases: cases.count, questions: sample.count, seed: seed, recall: recall,
            meanReciprocalRank: sample.isEmpty ? 0 : reciprocal / Double(sample.count),
            latencyMilliseconds: LatencySummary(sorted: sorted),
            cpuMilliseconds: LatencySummary(sorted: cpuTimes.sorted()),
            ingest: ingest, store: try store.statistics())
    }

    /// CPU time used by this process so far. Unlike wall time it does not grow when other
    /// processes compete for the cores, so it shows the cost of a query on a busy machine.
    static func processCPUMilliseconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) * 1000 + Double(time.tv_nsec) / 1e6
    }

    static func row(of source: String) -> Int? {
        guard source.hasPrefix("eval#") else { return nil }
        return Int(source.dropFirst(5))
    }

    /// A seeded sample without replacement, returned in ascending order. A Fisher–Yates shuffle written
    /// out here (not the standard library's) so the sample never changes with the Swift version.
    static func sample(_ items: [Int], count: Int, seed: UInt64) -> [Int] {
        guard count < items.count else { return items }
        var generator = SplitMix64(seed: seed)
        var pool = items
        for position in 0..<count {
            let pick = position + Int(generator.next() % UInt64(pool.count - position))
            pool.swapAt(position, pick)
        }
        return pool[..<count].sorted()
    }
}
