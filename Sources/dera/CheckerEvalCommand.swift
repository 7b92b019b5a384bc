import ArgumentParser
import Factuality
import Foundation

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

    @Flag(help: "Lexical signals only: no model is loaded.")
    var noModel = false

    @OptionGroup var model: ModelOptions<EngineModel>

    @Option(help: "The calibration file to read (or, with --fit, to update).")
    var calibration: String = CheckerCalibration.defaultPath

    @Flag(help: "Print the report as JSON on standard output.")
    var json = false

    func validate() throws {
        if data != nil, task == .general { throw ValidationError("--data names one file; general reads both tasks' files") }
    }

    func run() throws {
        let grounding = noModel ? nil : ModelGrounding(bundle: try model.open())
        var parts: [MeasuredExamples] = []
        for haluTask in task.tasks {
            let path = data ?? haluTask.defaultPath
            let loaded: [HaluEvalRow]
            do { loaded = try haluTask.load(path: path, rows: rows.rows) } catch let error as HaluEvalError {
                throw CommandError("\(error)")
            }
            let started = Date()
            parts.append(try CheckerEvaluation(task: haluTask, grounding: grounding).measure(loaded) { done, total in
                if done % 50 == 0 || done == total {
                    let seconds = Int(Date().timeIntervalSince(started))
                    FileHandle.standardError.write(Data("\r\(haluTask.rawValue): \(done)/\(total) rows, \(seconds) s".utf8))
                    if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
                }
            })
        }
        let measured = CheckerEvaluation.merge(parts)
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
