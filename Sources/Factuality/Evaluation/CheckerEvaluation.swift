import Foundation

/// One output of a HaluEval row with its claims' features, ready to fit or score.
public struct MeasuredExample: Sendable, Hashable {
    public var task: HaluEvalTask
    public var row: Int
    /// Which outputs of the row: "" for HaluEval's own, "minimal pairs (inside)" for generated ones.
    public var variant = ""
    public var supported: Bool
    /// Words in the output: the length-only baseline's feature.
    public var words: Int
    /// One vector of ``CheckerFeature/allCases`` values per checkable claim (pmi and verdict 0 when their model
    /// was not run);
    /// unverifiable claims are left out, as the checker leaves them out of an answer's score.
    public var claims: [[Double]]

    public init(task: HaluEvalTask, row: Int, variant: String = "", supported: Bool, words: Int, claims: [[Double]]) {
        self.task = task
        self.row = row
        self.variant = variant
        self.supported = supported
        self.words = words
        self.claims = claims
    }
}

/// Signals measured over HaluEval rows, with the time each path took.
public struct MeasuredExamples: Sendable {
    /// The tasks measured, joined by "+" ("qa", "qa+summarization").
    public var task: String
    public var rows: Range<Int>
    public var examples: [MeasuredExample]
    /// The reference model's PMI was measured.
    public var withModel: Bool
    /// The instruct model's verdict was measured.
    public var withVerdict = false
    public var claimCount: Int
    public var lexicalSeconds: Double
    public var modelSeconds: Double

    public init(task: String, rows: Range<Int>, examples: [MeasuredExample], withModel: Bool, withVerdict: Bool = false,
                claimCount: Int, lexicalSeconds: Double, modelSeconds: Double) {
        self.task = task
        self.rows = rows
        self.examples = examples
        self.withModel = withModel
        self.withVerdict = withVerdict
        self.claimCount = claimCount
        self.lexicalSeconds = lexicalSeconds
        self.modelSeconds = modelSeconds
    }
}

/// How one scorer did on the test rows.
public struct ScorerResult: Sendable, Hashable, Codable {
    public var name: String
    public var rocAUC: Double
    public var balancedAccuracy: Double
    public var threshold: Double
    /// Over rows whose two outputs have about the same length: the share where the faithful output outscores
    /// the hallucinated one (ties count half). Length alone scores about 0.5 here.
    public var lengthMatchedPairAccuracy: Double
    /// ROC-AUC counted only over (supported, hallucinated) pairs of outputs of about the same length (same
    /// length bin, see ``CheckerEvaluation/lengthBin(_:)``), from any rows. Length alone scores 0.5 here.
    public var lengthStratifiedAUC: Double
}

/// What `dera eval checker` prints: per-signal, combined and length-baseline results on the rows it was given.
public struct CheckerEvaluationReport: Sendable, Hashable, Codable {
    public var task: String
    public var rows: String
    public var examples: Int
    public var claims: Int
    public var withModel: Bool
    public var withVerdict = false
    public var fitted: Bool
    public var lengthMatchedPairs: Int
    public var lengthStratifiedPairs: Int
    public var results: [ScorerResult]
    public var lexicalClaimsPerSecond: Double
    public var modelClaimsPerSecond: Double?

    public var summary: String {
        var lines = ["HaluEval \(task), rows \(rows): \(examples) outputs, \(claims) claims"
                     + (withVerdict ? ", with the model verdict" : withModel ? ", with the model's PMI" : ", lexical only")
                     + (fitted ? " (training rows: the fit saw these)" : " (test rows: the fit never saw these)")]
        lines.append("scorer                     ROC-AUC  bal.acc  threshold  AUC within length bins  same-row pairs of equal length (\(lengthMatchedPairs))")
        for result in results {
            lines.append(result.name.padding(toLength: 26, withPad: " ", startingAt: 0)
                         + " " + fixed(result.rocAUC, 3) + "    " + fixed(result.balancedAccuracy, 3)
                         + "    " + fixed(result.threshold, 3).padding(toLength: 9, withPad: " ", startingAt: 0)
                         + "  " + fixed(result.lengthStratifiedAUC, 3).padding(toLength: 22, withPad: " ", startingAt: 0)
                         + "  " + fixed(result.lengthMatchedPairAccuracy, 3))
        }
        lines.append("(length bins: \(lengthStratifiedPairs) supported/hallucinated pairs of the same length bin)")
        lines.append("speed: lexical \(fixed(lexicalClaimsPerSecond, 0)) claims/s (1 thread)"
                     + (modelClaimsPerSecond.map { ", model \(fixed($0, 1)) claims/s" } ?? ""))
        return lines.joined(separator: "\n")
    }
}

/// The checker's evaluation on HaluEval: measure signals on rows, fit the calibration on training rows, report
/// balanced accuracy and ROC-AUC on test rows, per signal, combined and for answer length alone.
public struct CheckerEvaluation: Sendable {
    public var task: HaluEvalTask
    public var splitter = ClaimSplitter()
    public var windowSentences = 2
    public var grounding: ModelGrounding?
    public var verdict: ModelVerdict?

    public init(task: HaluEvalTask, grounding: ModelGrounding? = nil, verdict: ModelVerdict? = nil) {
        self.task = task
        self.grounding = grounding
        self.verdict = verdict
    }

    /// Splits and measures both outputs of every row. The model scores both outputs after one shared prefill.
    public func measure(_ rows: [HaluEvalRow], variant: String = "", progress: (Int, Int) -> Void = { _, _ in }) throws
        -> MeasuredExamples {
        var examples: [MeasuredExample] = []
        var lexicalSeconds = 0.0, modelSeconds = 0.0, claimCount = 0
        for (done, row) in rows.enumerated() {
            var start = Date()
            let passages = [Passage(id: "\(row.index)", text: row.source)]
            let index = EvidenceIndex(passages: passages, question: row.question, windowSentences: windowSentences)
            let outputs = [(row.faithful, true), (row.hallucinated, false)]
            let claims = outputs.map { splitter.claims(in: $0.0) }
            let lexical = claims.map { $0.map { LexicalSignals(claim: $0.text, index: index) } }
            let checkable = lexical.map { signals in signals.indices.filter { signals[$0].isCheckable } }
            lexicalSeconds += Date().timeIntervalSince(start)
            var grounded: [[GroundingScore?]] = claims.map { $0.map { _ in nil } }
            if let grounding {
                start = Date()
                let evidence = (0..<2).flatMap { k in checkable[k].compactMap { lexical[k][$0].evidence } }
                let focused = index.focused(on: evidence)
                let all = try grounding.score(claims: (0..<2).flatMap { k in checkable[k].map { claims[k][$0].text } },
                                              passages: focused, question: row.question)
                for (i, c) in checkable[0].enumerated() { grounded[0][c] = all[i] }
                for (i, c) in checkable[1].enumerated() { grounded[1][c] = all[checkable[0].count + i] }
                modelSeconds += Date().timeIntervalSince(start)
            }
            var verdicts: [[VerdictScore?]] = claims.map { $0.map { _ in nil } }
            if let verdict {
                start = Date()
                // Asked as the checker asks (``FactualityChecker/signals(answers:index:question:)``).
                let evidence = (0..<2).flatMap { k in checkable[k].compactMap { lexical[k][$0].evidence } }
                let all = try verdict.score(outputs: (0..<2).map { k in checkable[k].map { claims[k][$0].text } },
                                            passages: verdict.passages(in: index, evidence: evidence, question: row.question),
                                            question: row.question)
                for k in 0..<2 { for (i, c) in checkable[k].enumerated() { verdicts[k][c] = all[k][i] } }
                modelSeconds += Date().timeIntervalSince(start)
            }
            for (k, output) in outputs.enumerated() {
                claimCount += claims[k].count
                let vectors = checkable[k].map { c in
                    CheckerFeature.vector(lexical[k][c], grounded[k][c], verdicts[k][c])
                }
                examples.append(MeasuredExample(task: task, row: row.index, variant: variant, supported: output.1,
                                                words: output.0.split(whereSeparator: \.isWhitespace).count,
                                                claims: vectors))
            }
            progress(done + 1, rows.count)
        }
        let range = (rows.map(\.index).min() ?? 0)..<((rows.map(\.index).max() ?? -1) + 1)
        return MeasuredExamples(task: task.rawValue + (variant.isEmpty ? "" : " " + variant), rows: range, examples: examples, withModel: grounding != nil,
                                withVerdict: verdict != nil, claimCount: claimCount, lexicalSeconds: lexicalSeconds,
                                modelSeconds: modelSeconds)
    }

    /// Several measurements as one (for a profile fitted on several tasks).
    public static func merge(_ parts: [MeasuredExamples]) -> MeasuredExamples {
        precondition(!parts.isEmpty, "nothing to merge")
        let lower = parts.map(\.rows.lowerBound).min()!, upper = parts.map(\.rows.upperBound).max()!
        return MeasuredExamples(task: parts.map(\.task).joined(separator: "+"), rows: lower..<upper,
                                examples: parts.flatMap(\.examples), withModel: parts.allSatisfy(\.withModel),
                                withVerdict: parts.allSatisfy(\.withVerdict),
                                claimCount: parts.reduce(0) { $0 + $1.claimCount },
                                lexicalSeconds: parts.reduce(0) { $0 + $1.lexicalSeconds },
                                modelSeconds: parts.reduce(0) { $0 + $1.modelSeconds })
    }

    // MARK: - Fitting

    /// Fits every scorer on `measured` (training rows): the lexical combination, with the model the combination
    /// including PMI, one model per signal and the length baseline. Models not fitted here are kept from
    /// `previous` (so a model run on fewer rows does not replace the lexical fit made on more).
    public static func fit(_ measured: MeasuredExamples, previous: CalibrationProfile?) throws -> CalibrationProfile {
        var profile = previous ?? CalibrationProfile()
        let description = (measured.task.hasPrefix("pipeline") ? "" : "HaluEval ") + "\(measured.task) rows \(measured.rows.lowerBound)..<\(measured.rows.upperBound)"
            + " (\(measured.examples.count) outputs)"
        var featureSets: [(String, [CheckerFeature])] = []
        if measured.withModel { featureSets += [("model", CheckerFeature.withModel), ("signal pmi", [.pmi])] }
        if measured.withVerdict { featureSets += [("verdict", CheckerFeature.withVerdict), ("signal verdict", [.verdict])] }
        if featureSets.isEmpty {
            featureSets = [("lexical", CheckerFeature.lexical)] + CheckerFeature.lexical.map { ("signal \($0.rawValue)", [$0]) }
        }
        for (name, features) in featureSets {
            let model = try fitClaims(measured.examples, features: features)
            switch name {
            case "lexical": profile.lexical = model
            case "model": profile.model = model
            case "verdict": profile.verdict = model
            default: profile.signals[String(name.dropFirst("signal ".count))] = model
            }
            profile.trainedOn[name] = description
        }
        if !measured.withModel, !measured.withVerdict {
            let x = measured.examples.map { [log(1 + Double($0.words))] }
            var length = try LogisticModel.fit(features: ["logWords"], x: x, y: measured.examples.map(\.supported))
            length.threshold = BinaryMetrics.bestThreshold(scores: x.map(length.probability),
                                                           labels: measured.examples.map(\.supported))
            profile.length = length
            profile.trainedOn["length"] = description
        }
        return profile
    }

    /// A claim-level fit (every claim takes its output's label); the aggregate of claim scores (lowest or mean)
    /// and its threshold are then chosen for the best balanced accuracy over the outputs.
    static func fitClaims(_ examples: [MeasuredExample], features: [CheckerFeature]) throws -> LogisticModel {
        let columns = features.map { CheckerFeature.allCases.firstIndex(of: $0)! }
        var x: [[Double]] = [], y: [Bool] = []
        for example in examples {
            for claim in example.claims {
                x.append(columns.map { claim[$0] })
                y.append(example.supported)
            }
        }
        var model = try fitSignConstrained(features: features, x: x, y: y)
        let labels = examples.map(\.supported)
        var best: (accuracy: Double, aggregate: ClaimAggregate, threshold: Double)?
        for aggregate in ClaimAggregate.allCases {
            model.aggregate = aggregate
            let scores = examples.map { score($0, model, columns: columns) }
            let threshold = BinaryMetrics.bestThreshold(scores: scores, labels: labels)
            let accuracy = BinaryMetrics.balancedAccuracy(scores: scores, labels: labels, threshold: threshold)
            if best == nil || accuracy > best!.accuracy + 1e-9 { best = (accuracy, aggregate, threshold) }
        }
        model.aggregate = best!.aggregate
        model.threshold = best!.threshold
        return model
    }

    /// A fit whose weights keep each feature's ``CheckerFeature/sign``: a feature whose weight comes out with the
    /// wrong sign is dropped (weight 0) and the rest refitted, until every weight agrees. One-feature models are
    /// fitted freely: they show how a signal separates on its own.
    static func fitSignConstrained(features: [CheckerFeature], x: [[Double]], y: [Bool]) throws -> LogisticModel {
        let full = try LogisticModel.fit(features: features.map(\.rawValue), x: x, y: y)
        guard features.count > 1 else { return full }
        var active = Array(features.indices)
        var model = full
        while true {
            let wrong = active.filter { model.weights[$0] * features[$0].sign < 0 }
            guard !wrong.isEmpty, active.count > wrong.count else { break }
            // Drop the most wrongly signed feature and refit on the others.
            let worst = wrong.max { abs(model.weights[$0]) < abs(model.weights[$1]) }!
            active.removeAll { $0 == worst }
            let reduced = try LogisticModel.fit(features: active.map { features[$0].rawValue },
                                                x: x.map { row in active.map { row[$0] } }, y: y)
            var weights = [Double](repeating: 0, count: features.count)
            for (k, column) in active.enumerated() { weights[column] = reduced.weights[k] }
            var mean = full.mean, scale = full.scale
            for (k, column) in active.enumerated() { mean[column] = reduced.mean[k]; scale[column] = reduced.scale[k] }
            model = LogisticModel(features: features.map(\.rawValue), mean: mean, scale: scale, weights: weights,
                                  bias: reduced.bias)
        }
        return model
    }

    /// The answer score `model` gives claims whose ``CheckerFeature/allCases`` vectors were recorded: what the
    /// checker would have said with that calibration (0 without a checkable claim).
    public static func answerScore(claims: [[Double]], model: LogisticModel) -> Double {
        let columns = model.features.map { name in CheckerFeature.allCases.firstIndex { $0.rawValue == name }! }
        return model.aggregate.apply(claims.map { claim in model.probability(columns.map { claim[$0] }) }) ?? 0
    }

    /// An output's score: its checkable claims' scores aggregated as the model says, 0 when it makes no checkable
    /// claim (``FactualityReport/rankingScore``).
    static func score(_ example: MeasuredExample, _ model: LogisticModel, columns: [Int]) -> Double {
        model.aggregate.apply(example.claims.map { claim in model.probability(columns.map { claim[$0] }) }) ?? 0
    }

    // MARK: - Reporting

    /// Scores `measured` with every model `profile` holds that the measurement can feed.
    public static func report(_ measured: MeasuredExamples, profile: CalibrationProfile, fitted: Bool)
        -> CheckerEvaluationReport {
        let labels = measured.examples.map(\.supported)
        let pairs = lengthMatchedPairs(measured.examples)
        var results: [ScorerResult] = []
        func add(_ name: String, _ scores: [Double], threshold: Double) {
            results.append(ScorerResult(
                name: name, rocAUC: BinaryMetrics.rocAUC(scores: scores, labels: labels),
                balancedAccuracy: BinaryMetrics.balancedAccuracy(scores: scores, labels: labels, threshold: threshold),
                threshold: threshold, lengthMatchedPairAccuracy: pairAccuracy(pairs, scores),
                lengthStratifiedAUC: stratifiedAUC(measured.examples, scores).auc))
        }
        func scores(_ model: LogisticModel) -> [Double] {
            let columns = model.features.map { name in CheckerFeature.allCases.firstIndex { $0.rawValue == name }! }
            return measured.examples.map { score($0, model, columns: columns) }
        }
        if let length = profile.length {
            add("length only", measured.examples.map { length.probability([log(1 + Double($0.words))]) },
                threshold: length.threshold)
        }
        for feature in CheckerFeature.allCases
        where feature.needs == nil || (feature.needs == .pmi && measured.withModel)
            || (feature.needs == .verdict && measured.withVerdict) {
            if let model = profile.signals[feature.rawValue] {
                add("signal " + feature.rawValue, scores(model), threshold: model.threshold)
            }
        }
        if let lexical = profile.lexical { add("combined lexical", scores(lexical), threshold: lexical.threshold) }
        if measured.withModel, let model = profile.model {
            add("combined with model", scores(model), threshold: model.threshold)
        }
        if measured.withVerdict, let model = profile.verdict {
            add("combined with verdict", scores(model), threshold: model.threshold)
        }
        let lexicalRate = measured.lexicalSeconds > 0 ? Double(measured.claimCount) / measured.lexicalSeconds : 0
        let modelRate = (measured.withModel || measured.withVerdict) && measured.modelSeconds > 0
            ? Double(measured.claimCount) / measured.modelSeconds : nil
        return CheckerEvaluationReport(
            task: measured.task, rows: "\(measured.rows.lowerBound)..<\(measured.rows.upperBound)",
            examples: measured.examples.count, claims: measured.claimCount, withModel: measured.withModel,
            withVerdict: measured.withVerdict,
            fitted: fitted, lengthMatchedPairs: pairs.count,
            lengthStratifiedPairs: stratifiedAUC(measured.examples, measured.examples.map { _ in 0 }).pairs,
            results: results, lexicalClaimsPerSecond: lexicalRate,
            modelClaimsPerSecond: modelRate)
    }

    /// Index pairs (faithful, hallucinated) of rows whose two outputs differ in length by at most 20% (or one word).
    static func lengthMatchedPairs(_ examples: [MeasuredExample]) -> [(Int, Int)] {
        struct Key: Hashable, Comparable {
            var task: String
            var row: Int
            static func < (a: Key, b: Key) -> Bool { (a.task, a.row) < (b.task, b.row) }
        }
        var byRow: [Key: (faithful: Int?, hallucinated: Int?)] = [:]
        for (i, example) in examples.enumerated() {
            let key = Key(task: example.task.rawValue + example.variant, row: example.row)
            if example.supported { byRow[key, default: (nil, nil)].faithful = i }
            else { byRow[key, default: (nil, nil)].hallucinated = i }
        }
        return byRow.keys.sorted().compactMap { row in
            guard let f = byRow[row]?.faithful, let h = byRow[row]?.hallucinated else { return nil }
            let a = examples[f].words, b = examples[h].words
            return abs(a - b) <= max(1, Int(0.2 * Double(max(a, b)))) ? (f, h) : nil
        }
    }

    /// The length bin of an output of `words` words: exact up to 6 words, then bins 20% wide.
    public static func lengthBin(_ words: Int) -> Int {
        words <= 6 ? words : 6 + Int((log(Double(words) / 6) / log(1.2)).rounded(.down)) + 1
    }

    /// ROC-AUC over (supported, hallucinated) pairs within the same length bin, and how many pairs that is.
    static func stratifiedAUC(_ examples: [MeasuredExample], _ scores: [Double]) -> (auc: Double, pairs: Int) {
        var bins: [Int: [Int]] = [:]
        for (i, example) in examples.enumerated() { bins[lengthBin(example.words), default: []].append(i) }
        var wins = 0.0, pairs = 0
        for members in bins.values {
            let positives = members.filter { examples[$0].supported }.map { scores[$0] }
            let negatives = members.filter { !examples[$0].supported }.map { scores[$0] }
            guard !positives.isEmpty, !negatives.isEmpty else { continue }
            let labels = positives.map { _ in true } + negatives.map { _ in false }
            let auc = BinaryMetrics.rocAUC(scores: positives + negatives, labels: labels)
            let count = positives.count * negatives.count
            wins += auc * Double(count)
            pairs += count
        }
        return (pairs > 0 ? wins / Double(pairs) : .nan, pairs)
    }

    static func pairAccuracy(_ pairs: [(Int, Int)], _ scores: [Double]) -> Double {
        guard !pairs.isEmpty else { return .nan }
        let wins = pairs.reduce(0.0) { total, pair in
            total + (scores[pair.0] > scores[pair.1] ? 1 : scores[pair.0] == scores[pair.1] ? 0.5 : 0)
        }
        return wins / Double(pairs.count)
    }
}
