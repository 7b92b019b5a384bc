import Foundation

/// A question whose answer is in the document with a known title.
public struct TitledQuestion: Sendable, Hashable, Codable {
    public var question: String
    public var title: String

    public init(question: String, title: String) {
        self.question = question
        self.title = title
    }

    /// Reads JSONL rows with `questionField` and `titleField` (corpora/questions/wikipedia-ood.jsonl: `question`,
    /// `title`); with `split`, only rows whose `split` field equals it.
    /// - Throws: ``DocumentReadError`` naming the file, line and field.
    public static func load(jsonl path: String, questionField: String = "question", titleField: String = "title",
                            split: String? = nil) throws -> [TitledQuestion] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw DocumentReadError(file: path, reason: "cannot read: \(error.localizedDescription)")
        }
        var questions: [TitledQuestion] = []
        for (index, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            guard !line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) else { continue }
            guard let row = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                throw DocumentReadError(file: path, line: index + 1, field: nil, reason: "not a JSON object")
            }
            if let split, row["split"] as? String != split { continue }
            guard let question = row[questionField] as? String, !question.isEmpty else {
                throw DocumentReadError(file: path, line: index + 1, field: questionField, reason: "missing or not a string")
            }
            guard let title = row[titleField] as? String, !title.isEmpty else {
                throw DocumentReadError(file: path, line: index + 1, field: titleField, reason: "missing or not a string")
            }
            questions.append(TitledQuestion(question: question, title: title))
        }
        return questions
    }
}

/// Asks questions of an existing store and counts a question as found at k when a hit within the first k
/// passages belongs to the document with the question's title.
public struct QuestionSetEvaluation: Sendable {
    public var retriever: Retriever
    public var searchOptions: SearchOptions
    public var cutoffs: [Int]

    public init(retriever: Retriever, searchOptions: SearchOptions = SearchOptions(), cutoffs: [Int] = [1, 5, 10]) {
        self.retriever = retriever
        self.searchOptions = searchOptions
        self.cutoffs = cutoffs.filter { $0 > 0 }.sorted()
    }

    public func run(_ questions: [TitledQuestion]) throws -> QuestionSetReport {
        var options = searchOptions
        options.limit = max(options.limit, cutoffs.last ?? 1)
        if retriever.mode != .bm25 { _ = try retriever.store.denseIndex() }
        let clock = ContinuousClock()
        var ranks: [Int?] = []
        var latencies: [Double] = []
        var misses: [String] = []
        for item in questions {
            let started = clock.now
            let hits = try retriever.search(item.question, options: options)
            latencies.append(Ingestor.seconds(clock.now - started) * 1000)
            let rank = hits.firstIndex { $0.title == item.title }.map { $0 + 1 }
            ranks.append(rank)
            if rank.map({ $0 > 1 }) ?? true {
                misses.append("\(item.question) [\(item.title)] -> \(hits.first?.title ?? "nothing")")
            }
        }
        var recall = RecallTable()
        for cutoff in cutoffs {
            let found = ranks.filter { $0.map { $0 <= cutoff } ?? false }.count
            recall[cutoff] = questions.isEmpty ? 0 : Double(found) / Double(questions.count)
        }
        let reciprocal = ranks.reduce(0.0) { $0 + ($1.map { 1 / Double($0) } ?? 0) }
        return QuestionSetReport(mode: retriever.mode, questions: questions.count, recall: recall,
                                 meanReciprocalRank: questions.isEmpty ? 0 : reciprocal / Double(questions.count),
                                 latencyMilliseconds: LatencySummary(sorted: latencies.sorted()),
                                 missedAtOne: misses)
    }
}

/// The figures of one ``QuestionSetEvaluation`` run.
public struct QuestionSetReport: Sendable, Hashable, Codable {
    public var mode: SearchMode
    public var questions: Int
    public var recall: RecallTable
    public var meanReciprocalRank: Double
    public var latencyMilliseconds: LatencySummary
    /// Questions whose document was not the first hit: question [title] -> first hit's title.
    public var missedAtOne: [String]

    public var summary: String {
        let recallLine = recall.cutoffs.map { String(format: "recall@%d %.4f", $0, recall[$0]!) }.joined(separator: "  ")
        return [
            "questions asked: \(questions), mode \(mode.rawValue)",
            recallLine + String(format: "  MRR@%d %.4f", recall.cutoffs.last ?? 0, meanReciprocalRank),
            String(format: "search latency ms: p50 %.3f  p95 %.3f  p99 %.3f  mean %.3f  max %.3f",
                   latencyMilliseconds.p50, latencyMilliseconds.p95, latencyMilliseconds.p99,
                   latencyMilliseconds.mean, latencyMilliseconds.max),
        ].joined(separator: "\n")
    }
}
