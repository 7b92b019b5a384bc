import Factuality
import Foundation
import Inference
import Realign
import Tokenization

/// Grounded question answering on HaluEval QA rows (the row's knowledge given as the only passage) under
/// several decoding systems: the reference model, adapters, and DeRa mixes of them. The harness behind
/// `dera eval realign` and the tables of docs/realignment.md.
///
/// Answers are appended to a JSONL file as they come, so an interrupted run keeps what it finished and a re-run
/// resumes where it stopped.
public struct RealignmentEvaluation {
    /// One way of decoding: an adapter (the aligned side) and how lambda is chosen. Fixed lambda 0 is the
    /// reference.
    public struct System: Sendable, Equatable {
        public var name: String
        public var adapter: String
        public var policy: LambdaPolicy

        public init(name: String, adapter: String, policy: LambdaPolicy) {
            self.name = name
            self.adapter = adapter
            self.policy = policy
        }

        public init(name: String, adapter: String, lambda: Float) {
            self.init(name: name, adapter: adapter, policy: .fixed(lambda))
        }
    }

    /// One system's answer to one row.
    public struct Answer: Sendable, Hashable, Codable {
        public var row: Int
        public var system: String
        public var text: String
        /// The mean lambda the answer's tokens were chosen with (absent in files written before policies).
        public var lambda: Float?
    }

    /// A system's scores over the rows.
    public struct Metrics: Sendable, Codable, Equatable {
        public var system: String
        public var rows: Int
        /// Normalised answer equals the right answer.
        public var exactMatch: Double
        /// The right answer appears in the answer as whole words.
        public var containsAnswer: Double
        public var tokenF1: Double
        /// Share of answers with at least one content word found neither in the knowledge nor in the question.
        public var unsupportedRate: Double
        /// Mean count of such words per answer.
        public var unsupportedWords: Double
        public var meanWords: Double
        /// Mean over answers of their mean lambda (answers that recorded one).
        public var meanLambda: Double?
    }

    public let reference: ModelBundle
    public let template: PromptTemplate
    public let maxTokens: Int
    private var pairs: [String: RealignmentPair] = [:]

    /// - Parameters:
    ///   - reference: the reference model; every adapter is attached to it, so all systems share its weights.
    ///   - adapters: the adapter paths the systems name.
    public init(reference: ModelBundle, adapters: [String], template: PromptTemplate, maxTokens: Int = 48) throws {
        self.reference = reference
        self.template = template
        self.maxTokens = maxTokens
        for path in Set(adapters) {
            pairs[path] = try RealignmentPair(reference: reference, adapter: LoRAAdapter.open(path, for: reference.model))
        }
    }

    /// The chat prompt for a row, as the adapters were trained with: the knowledge as passage [1].
    public func prompt(_ row: HaluEvalRow) throws -> [Int] {
        guard let chat = reference.chatTemplate else { throw PipelineError.noChatTemplate(model: reference.path) }
        let messages = try template.messages(["passages": "[1] " + row.source, "question": row.question ?? ""])
        return chat.encode(messages, tokenizer: reference.tokenizer, addGenerationPrompt: true)
    }

    /// Answers every row with every system (greedy), resuming from and appending to `output`.
    /// - Parameter progress: called after each row with the rows done and the total.
    public func run(rows: [HaluEvalRow], systems: [System], output: String,
                    progress: (Int, Int) -> Void = { _, _ in }) throws -> [Answer] {
        var answers = try Self.readAnswers(output)
        let done = Set(answers.map { "\($0.row)\t\($0.system)" })
        let handle = try Self.openForAppending(output)
        defer { try? handle.close() }
        let byAdapter = Dictionary(grouping: systems, by: \.adapter)
        for (n, row) in rows.enumerated() {
            let ids = try prompt(row)
            for (adapter, group) in byAdapter.sorted(by: { $0.key < $1.key }) {
                let todo = group.filter { !done.contains("\(row.index)\t\($0.name)") }
                guard !todo.isEmpty, let pair = pairs[adapter] else { continue }
                let requests = todo.map { RealignmentRequest(prompt: ids, policy: $0.policy, maxTokens: maxTokens) }
                let (outputs, _) = try Realigner(pair: pair).generate(requests)
                for (system, result) in zip(todo, outputs) {
                    let answer = Answer(row: row.index, system: system.name,
                                        text: result.text.trimmingCharacters(in: .whitespacesAndNewlines),
                                        lambda: result.meanLambda)
                    var line = try JSONEncoder().encode(answer)
                    line.append(UInt8(ascii: "\n"))
                    try handle.write(contentsOf: line)
                    answers.append(answer)
                }
            }
            progress(n + 1, rows.count)
        }
        return answers
    }

    /// Scores of each system over `rows`.
    public static func metrics(_ answers: [Answer], rows: [HaluEvalRow], systems: [System]) -> [Metrics] {
        let byRow = Dictionary(uniqueKeysWithValues: rows.map { ($0.index, $0) })
        return systems.map { system in
            let mine = answers.filter { $0.system == system.name && byRow[$0.row] != nil }
            let n = Double(max(mine.count, 1))
            func mean(_ f: (Answer, HaluEvalRow) -> Double) -> Double {
                mine.reduce(0) { $0 + f($1, byRow[$1.row]!) } / n
            }
            func unsupported(_ a: Answer, _ r: HaluEvalRow) -> Int {
                AnswerMetrics.unsupportedWords(a.text, context: r.source + " " + (r.question ?? "")).count
            }
            return Metrics(
                system: system.name, rows: mine.count,
                exactMatch: mean { AnswerMetrics.exactMatch($0.text, $1.faithful) ? 1 : 0 },
                containsAnswer: mean { AnswerMetrics.containsAnswer($0.text, $1.faithful) ? 1 : 0 },
                tokenF1: mean { AnswerMetrics.tokenF1($0.text, $1.faithful) },
                unsupportedRate: mean { unsupported($0, $1) > 0 ? 1 : 0 },
                unsupportedWords: mean { Double(unsupported($0, $1)) },
                meanWords: mean { a, _ in Double(AnswerMetrics.words(a.text).count) },
                meanLambda: {
                    let known = mine.compactMap(\.lambda)
                    return known.isEmpty ? nil : known.reduce(0.0) { $0 + Double($1) } / Double(known.count)
                }())
        }
    }

    /// How often two systems gave the same answer (after normalisation) on the rows both answered, and the
    /// mean token F1 between their answers.
    public static func agreement(_ answers: [Answer], _ a: String, _ b: String) -> (rows: Int, exact: Double, f1: Double) {
        var first: [Int: String] = [:], second: [Int: String] = [:]
        for answer in answers {
            if answer.system == a { first[answer.row] = answer.text }
            if answer.system == b { second[answer.row] = answer.text }
        }
        let common = Set(first.keys).intersection(second.keys)
        guard !common.isEmpty else { return (0, 0, 0) }
        let exact = common.filter { AnswerMetrics.normalize(first[$0]!) == AnswerMetrics.normalize(second[$0]!) }.count
        let f1 = common.reduce(0.0) { $0 + AnswerMetrics.tokenF1(first[$1]!, second[$1]!) }
        return (common.count, Double(exact) / Double(common.count), f1 / Double(common.count))
    }

    /// Answers already in `path` (see ``JSONLRecords/read(_:from:what:)``).
    static func readAnswers(_ path: String) throws -> [Answer] {
        try JSONLRecords.read(Answer.self, from: path, what: "an answer record")
    }

    static func openForAppending(_ path: String) throws -> FileHandle { try JSONLRecords.openForAppending(path) }
}
