import ArgumentParser
import Factuality
import Foundation

extension HaluEvalTask: ExpressibleByArgument {}

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

    @Option(help: "qa (knowledge, question, answers) or summarization (document, summaries).")
    var task: HaluEvalTask = .qa

    @Option(help: "The task's JSONL file (default: data/halueval/dataset_halueval_TASK.jsonl from corpora/fetch.sh).")
    var data: String?

    @Option(help: "Zero-based rows, A..B with both ends included (or A..<B).")
    var rows: RowRange = RowRange(8000..<10000)

    @Flag(help: "Fit the calibration on these rows and write it.")
    var fit = false

    @Flag(help: "Lexical signals only: no model is loaded.")
    var noModel = false

    @OptionGroup var model: ModelOptions

    @Option(help: "The calibration file to read (or, with --fit, to update).")
    var calibration: String = CheckerCalibration.defaultPath

    @Flag(help: "Print the report as JSON on standard output.")
    var json = false

    func run() throws {
        let path = data ?? task.defaultPath
        let loaded: [HaluEvalRow]
        do { loaded = try task.load(path: path, rows: rows.rows) } catch let error as HaluEvalError {
            throw CommandError("\(error)")
        }
        let grounding = noModel ? nil : ModelGrounding(bundle: try model.open())
        let evaluation = CheckerEvaluation(task: task, grounding: grounding)
        let started = Date()
        let measured = try evaluation.measure(loaded) { done, total in
            if done % 50 == 0 || done == total {
                FileHandle.standardError.write(Data(String(
                    format: "\r%d/%d rows, %.0f s", done, total, Date().timeIntervalSince(started)).utf8))
                if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
            }
        }
        var file: CheckerCalibration
        do {
            file = fit ? try CheckerCalibration.loadOrEmpty(calibration) : try CheckerCalibration.load(calibration)
        } catch let error as CalibrationError { throw CommandError("\(error)") }
        let profile: CalibrationProfile
        if fit {
            do { profile = try CheckerEvaluation.fit(measured, previous: file.profiles[task.rawValue]) }
            catch let error as CalibrationError { throw CommandError("\(error)") }
            file.profiles[task.rawValue] = profile
            try file.write(to: calibration)
            FileHandle.standardError.write(Data("wrote the \(task.rawValue) profile to \(calibration)\n".utf8))
        } else {
            do { profile = try file.profile(task.rawValue, path: calibration) }
            catch let error as CalibrationError { throw CommandError("\(error)") }
        }
        let report = CheckerEvaluation.report(measured, profile: profile, fitted: fit)
        print(json ? try JSONOutput.encode(report) : report.summary)
    }
}
