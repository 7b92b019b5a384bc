import ArgumentParser
import Factuality
import Foundation
import Pipelines
import Retrieval

/// A calibration profile and the HaluEval tasks it is fitted and measured on.
enum CheckerTask: String, ExpressibleByArgument, CaseIterable {
    case qa, summarization, general

    var tasks: [HaluEvalTask] {
        switch self {
        case .qa: return [.qa]
        case .summarization: return [.summarization]
        case .general: return [.qa, .summarization]
        }
    }
}

extension MinimalPairs.Source: ExpressibleByArgument {}
extension ClaimUnit: ExpressibleByArgument {}

extension RowRange: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

/// `dera eval checker`: the factuality checker on HaluEval, and the fit of its calibration.
struct CheckerEvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checker",
        abstract: "Measure the factuality checker on HaluEval (balanced accuracy, ROC-AUC), or fit its calibration.",
        discussion: """
            Each row gives two outputs for one source: the faithful one (supported) and the hallucinated one. \
            With --fit the rows are the training split: the calibration's models are fitted on them and written \
            to the calibration file under the task's profile (with the model, only the models that use it are \
            replaced). Without --fit the rows are scored with the saved calibration: evaluate on rows the fit \
            never saw. Reports each signal alone, the combinations, answer length alone, accuracy on pairs of \
            equal length, and claims per second.
            """)

    @Option(help: """
        qa (knowledge, question, answers), summarization (document, summaries), or general (both, the same rows \
        of each): also the name of the calibration profile fitted or used.
        """)
    var task: CheckerTask = .qa

    @Option(help: "The task's JSONL file (default: data/halueval/dataset_halueval_TASK.jsonl from corpora/fetch.sh).")
    var data: String?

    @Option(help: "Zero-based rows, A..B with both ends included (or A..<B).")
    var rows: RowRange = RowRange(8000..<10000)

    @Flag(help: "Fit the calibration on these rows and write it.")
    var fit = false

    @Option(help: "The calibration profile to fit or score with (default: the task's name). Scoring one task with another's profile measures how the calibration transfers.")
    var profile: String?

    @Option(help: "Also score the same measurement with these profiles (comma-separated): one measurement, several calibrations side by side.")
    var alsoProfiles: String?

    /// The names --also-profiles lists, empty ones dropped.
    var alsoProfileNames: [String] {
        (alsoProfiles ?? "").split(separator: ",").map(String.init).filter { !$0.isEmpty }
    }

    /// The profile fitted or used.
    var profileName: String { profile ?? task.rawValue }

    @Option(help: ArgumentHelp("Minimal pairs instead of HaluEval's hallucinated outputs: each row's right output beside a copy with one fact (year, number, name) swapped, so length cannot separate them.", discussion: "outside: the fact comes from another row (the source never mentions it); inside: from the same source, in another relation (word overlap cannot tell)."))
    var minimalPairs: MinimalPairs.Source?

    @Option(help: "Measure (and fit on) minimal pairs of this kind as well as HaluEval's own outputs: a mix, so the fit cannot lean on length.")
    var addMinimalPairs: MinimalPairs.Source?

    @Flag(help: "Lexical signals only: no model is loaded (the same as --checker lexical).")
    var noModel = false

    @Option(help: ArgumentHelp("With --fit: what one claim is, a clause or a whole sentence (default: the profile's unit; clause for a new profile).", discussion: "A profile records its unit and every later score cuts claims the same way; a fit with another unit starts the profile afresh (its models were fitted on the other unit's claims)."))
    var claims: ClaimUnit?

    @OptionGroup(title: "Checker") var checker: CheckerOptions
    @OptionGroup(title: "The PMI scorer's model (--checker pmi)") var model: ModelOptions<EngineModel>

    @Option(help: "The calibration file to read (or, with --fit, to update).")
    var calibration: String = CheckerCalibration.defaultPath

    @Flag(help: "Print the report as JSON on standard output.")
    var json = false

    @Option(help: ArgumentHelp("Check the answers stored in these `dera tune` records instead of HaluEval rows: the pipeline's own outputs, right or wrong by the gold answer.", discussion: "Needs --questions (the question file the records answer) and --db (the store they were retrieved from)."))
    var records: String?

    @Option(help: "With --records: the question file (corpora/questions/ format).")
    var questions = "corpora/questions/wikipedia-ood.jsonl"

    @Option(help: "With --records: the question split (test, dev).")
    var split: String?

    @Option(help: "With --records: the passage store the answers were generated from.")
    var db = PipelineConfiguration.defaultStore

    @Option(help: "With --records: passages per question, as the answers were generated with.")
    var passages = 3

    @Option(help: "With --records: only the answers of these settings (comma-separated labels, e.g. 'lambda 0,lambda 1').")
    var labels: String?

    @Option(help: "With --records: where the per-answer results go (JSONL; a re-run resumes it).")
    var out: String?

    func validate() throws {
        if data != nil, task == .general { throw ValidationError("--data names one file; general reads both tasks' files") }
        if claims != nil, records != nil { throw ValidationError("--claims is for HaluEval rows; stored answers are cut as their profile says") }
    }

    func run() throws {
        if let records { return try checkAnswers(records) }
        let scorer = noModel ? .lexical : checker.scorer
        // The prompt to measure with: --verdict-prompt, else the one the profile was fitted with (a new fit records it).
        let loaded = try? CheckerCalibration.load(calibration)
        let stored = loaded?.profiles[profileName]
        let storedUnit = stored?.unit ?? .clause
        let unit = claims ?? storedUnit
        if let claims, !fit, claims != storedUnit {
            throw ValidationError("profile \(profileName) cuts outputs into \(storedUnit.rawValue)s; --claims \(claims.rawValue) needs --fit")
        }
        // One measurement serves every profile named, so they must cut claims alike (checked before the slow part).
        for name in alsoProfileNames where name != profileName {
            let other = loaded?.profiles[name]?.unit ?? .clause
            if other != unit {
                throw ValidationError("profile \(name) cuts outputs into \(other.rawValue)s and \(profileName) into \(unit.rawValue)s: score it in a run of its own")
            }
        }
        // A fit with another claim unit starts afresh: the profile's models were fitted on the other unit's claims.
        let previous = storedUnit == unit ? stored : nil
        if fit, stored != nil, previous == nil {
            FileHandle.standardError.write(Data("the \(profileName) profile was fitted on \(storedUnit.rawValue)s: refitting it on \(unit.rawValue)s from scratch\n".utf8))
        }
        let grounding = scorer == .pmi ? ModelGrounding(bundle: try model.open()) : nil
        let verdict = scorer == .verdict ? try checker.verdict(profile: stored, reusing: nil, workers: model.threads) : nil
        var parts: [MeasuredExamples] = []
        for haluTask in task.tasks {
            let path = data ?? haluTask.defaultPath
            let loaded: [HaluEvalRow]
            do { loaded = try haluTask.load(path: path, rows: rows.rows) } catch let error as HaluEvalError {
                throw CommandError("\(error)")
            }
            var variants: [(rows: [HaluEvalRow], variant: String)] = []
            if minimalPairs == nil { variants.append((loaded, "")) }
            for source in [minimalPairs, addMinimalPairs].compactMap({ $0 }) {
                let pairs = MinimalPairs.pairs(loaded, task: haluTask, from: source)
                FileHandle.standardError.write(Data("\(haluTask.rawValue): \(pairs.count) minimal pairs (\(source.rawValue)) from \(loaded.count) rows\n".utf8))
                variants.append((pairs, "minimal pairs (\(source.rawValue))"))
            }
            for (rows, variant) in variants {
                let started = Date()
                let label = haluTask.rawValue + (variant.isEmpty ? "" : " " + variant)
                var evaluation = CheckerEvaluation(task: haluTask, grounding: grounding, verdict: verdict)
                evaluation.splitter = ClaimSplitter(unit: unit)
                parts.append(try evaluation
                    .measure(rows, variant: variant) { done, total in
                        if done % 10 == 0 || done == total {
                            let seconds = Int(Date().timeIntervalSince(started))
                            FileHandle.standardError.write(Data("\r\(label): \(done)/\(total) rows, \(seconds) s".utf8))
                            if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
                        }
                    })
            }
        }
        let measured = CheckerEvaluation.merge(parts)
        var file: CheckerCalibration
        do {
            file = fit ? try CheckerCalibration.loadOrEmpty(calibration) : try CheckerCalibration.load(calibration)
        } catch let error as CalibrationError { throw CommandError("\(error)") }
        var fitted: CalibrationProfile
        if fit {
            do { fitted = try CheckerEvaluation.fit(measured, previous: previous) }
            catch let error as CalibrationError { throw CommandError("\(error)") }
            fitted.claimUnit = unit
            if let verdict {
                fitted.verdictPrompt = verdict.prompt.text
                fitted.verdictClaimPrompt = verdict.claimPrompt.text
                fitted.verdictModel = ((checker.verdictModel ?? CheckerModel.path) as NSString).lastPathComponent
                fitted.verdictContext = verdict.context
            }
            file.profiles[profileName] = fitted
            try file.write(to: calibration)
            FileHandle.standardError.write(Data("wrote the \(profileName) profile to \(calibration)\n".utf8))
        } else {
            do { fitted = try file.profile(profileName, path: calibration) }
            catch let error as CalibrationError { throw CommandError("\(error)") }
        }
        // With several parts (tasks, minimal pairs), each part's report follows the whole's.
        let measurements = parts.count > 1 ? [measured] + parts : [measured]
        var reports: [(String, CheckerEvaluationReport)] = []
        for name in [profileName] + alsoProfileNames {
            let chosen: CalibrationProfile
            if name == profileName { chosen = fitted } else {
                do { chosen = try file.profile(name, path: calibration) }
                catch let error as CalibrationError { throw CommandError("\(error)") }
            }
            for part in measurements { reports.append((name, CheckerEvaluation.report(part, profile: chosen, fitted: fit))) }
        }
        if json {
            print(reports.count == 1 ? try JSONOutput.encode(reports[0].1) : try JSONOutput.encode(reports.map(\.1)))
        } else {
            print(reports.map { "profile \($0.0):\n\($0.1.summary)" }.joined(separator: "\n\n"))
        }
    }

    /// `--records`: the checker on the pipeline's own stored answers.
    func checkAnswers(_ path: String) throws {
        guard FileManager.default.fileExists(atPath: db) else {
            throw CommandError("no passage store at \(db); build one with `dera index PATH --db \(db)`")
        }
        let stored: [TuningRecord], questionSet: [TuningQuestion]
        do {
            stored = try TuningRecord.load(path)
            questionSet = try TuningQuestion.load(questions, split: split)
        } catch let error as PipelineError { throw CommandError("\(error)") }
        let chosen: CalibrationProfile
        // The stored answers are checked as `dera ask` checks them: with the general profile unless told otherwise.
        let profileName = profile ?? "general"
        do {
            let file = try CheckerCalibration.load(calibration)
            // A new profile fitted here starts from the general one (its prompts, its other models).
            chosen = try file.profile(fit && file.profiles[profileName] == nil ? "general" : profileName, path: calibration)
        }
        catch let error as CalibrationError { throw CommandError("\(error)") }
        let checker = try self.checker.checker(profile: chosen, calibrationPath: calibration,
                                               scorer: noModel ? .lexical : nil, answering: nil,
                                               pmiModel: { try model.open() }, workers: model.threads)
        var evaluation = AnswerCheckEvaluation(store: try PassageStore(readOnlyPath: db), checker: checker)
        evaluation.passageCount = passages
        let scorerName = noModel ? "lexical" : self.checker.scorer.rawValue
        let output = out ?? "data/checker/\(((path as NSString).lastPathComponent as NSString).deletingPathExtension)-\(scorerName).jsonl"
        FileHandle.standardError.write(Data("eval checker: \(stored.count) records of \(questionSet.count) questions; results in \(output)\n".utf8))
        let started = Date()
        let labelSet = labels.map { Set($0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }) }
        let checked = try evaluation.run(records: stored, questions: questionSet, labels: labelSet, output: output) { done, total in
            let seconds = Int(Date().timeIntervalSince(started))
            FileHandle.standardError.write(Data("\rchecked \(done)/\(total) questions, \(seconds) s".utf8))
            if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
        }
        if fit {
            // Refit the profile's combination (and its threshold) on these answers; the prompts and model stay.
            let examples = checked.map(\.example)
            guard checked.allSatisfy({ $0.features != nil }) else {
                throw CommandError("\(output) holds answers checked before features were recorded; move it away and re-run")
            }
            let measured = MeasuredExamples(task: "pipeline answers in \((path as NSString).lastPathComponent)\(split.map { " (\($0))" } ?? "")", rows: 0..<examples.count,
                                            examples: examples, withModel: checker.grounding != nil,
                                            withVerdict: checker.verdict != nil, claimCount: examples.reduce(0) { $0 + $1.claims.count },
                                            lexicalSeconds: 0, modelSeconds: 0)
            var file: CheckerCalibration
            do { file = try CheckerCalibration.load(calibration) } catch let error as CalibrationError { throw CommandError("\(error)") }
            var fitted: CalibrationProfile
            do { fitted = try CheckerEvaluation.fit(measured, previous: chosen) } catch let error as CalibrationError {
                throw CommandError("\(error)")
            }
            let target = profile ?? "general"
            file.profiles[target] = fitted
            try file.write(to: calibration)
            FileHandle.standardError.write(Data("wrote the \(target) profile to \(calibration) (fitted on these \(examples.count) answers; the table below is the profile they were checked with: score other answers with the new one)\n".utf8))
        }
        // Every table scores the recorded claim signals with its profile's combination, so a results file resumed
        // from a run with another profile is still reported under the profile named (no model runs for this).
        var tables: [(String, Double, [AnswerCheckRow])] = []
        for name in [profileName] + alsoProfileNames {
            let model: LogisticModel
            if name == profileName { model = checker.scorer } else {
                let other: CalibrationProfile
                do { other = try CheckerCalibration.load(calibration).profile(name, path: calibration) }
                catch let error as CalibrationError { throw CommandError("\(error)") }
                guard let found = checker.verdict != nil ? other.verdict : checker.grounding != nil ? other.model : other.lexical else {
                    throw CommandError("profile \(name) has no \(scorerName) combination")
                }
                model = found
            }
            tables.append((name, model.threshold, AnswerCheckEvaluation.rows(AnswerCheckEvaluation.rescored(checked, with: model),
                                                                             threshold: model.threshold)))
        }
        if json { print(try JSONOutput.encode(tables.count == 1 ? tables[0].2 : tables.flatMap(\.2))); return }
        for (name, threshold, rows) in tables {
            print("checker \(scorerName) (profile \(name), threshold \(String(format: "%.3f", threshold))) on \(path)")
            print("setting            answers  right  wrong  flagged right  flagged wrong  ROC-AUC  bal.acc")
            for row in rows {
                print(row.label.padding(toLength: 18, withPad: " ", startingAt: 0)
                      + String(format: " %7d  %5d  %5d  %12.1f%%  %12.1f%%  %7.3f  %7.3f", row.answers, row.right, row.wrong,
                               100 * row.flaggedRight, 100 * row.flaggedWrong, row.rocAUC, row.balancedAccuracy))
            }
        }
    }
}
