import Foundation

/// The lambda `dera tune` chose for one model and adapter, stored as JSON for `ask` (and later `summarize`
/// and `serve`) to read.
///
/// ```json
/// [{"model": "SmolLM2-135M-Instruct.Q4_1.gguf", "adapter": "smollm2-dpo-beta0.1",
///   "setting": "auto", "lambda": 0.5, "candidates": [0, 0.5, 1], "rule": "most-correct:0.02",
///   "questions": "corpora/questions/wikipedia-ood.jsonl (dev)", "tunedAt": "2026-12-01T15:00:00Z"}, ...]
/// ```
/// `setting` is `fixed` (decode at `lambda`) or `auto` (decode every lambda of `candidates` and let the checker
/// choose per query with `rule`). A file holds one choice per model and adapter (a JSON array; a single object,
/// the form before several models had adapters, reads as one choice); a run finds its own by the model's and
/// adapter's file names, and saving a choice replaces only the one for the same pair.
public struct TunedLambda: Sendable, Codable, Hashable {
    public enum Setting: String, Sendable, Codable, Hashable {
        case fixed
        case auto
    }

    public var model: String
    public var adapter: String?
    public var setting: Setting
    public var lambda: Float
    public var candidates: [Float]
    public var rule: SelectionRule
    /// What it was tuned on, for people.
    public var questions: String
    public var tunedAt: String

    public init(model: String, adapter: String?, setting: Setting, lambda: Float, candidates: [Float],
                rule: SelectionRule, questions: String, tunedAt: Date = Date()) {
        self.model = (model as NSString).lastPathComponent
        self.adapter = adapter.map { (($0 as NSString).standardizingPath as NSString).lastPathComponent }
        self.setting = setting
        self.lambda = lambda
        self.candidates = candidates
        self.rule = rule
        self.questions = questions
        self.tunedAt = ISO8601DateFormatter().string(from: tunedAt)
    }

    /// Where `dera tune` writes and `dera ask` looks: models/controller/tuned.json.
    public static let defaultPath = "models/controller/tuned.json"

    /// Whether this choice was made for `model` with `adapter` (compared by file name).
    public func applies(model: String, adapter: String?) -> Bool {
        let name = (model as NSString).lastPathComponent
        let adapterName = adapter.map { (($0 as NSString).standardizingPath as NSString).lastPathComponent }
        return self.model == name && self.adapter == adapterName
    }

    /// Every choice in a file (empty when it does not exist).
    /// - Throws: ``ControlError/badTunedFile(path:reason:)`` when it exists but is not a valid list of choices.
    public static func loadAll(_ path: String) throws -> [TunedLambda] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ControlError.badTunedFile(path: path, reason: "cannot read it")
        }
        let choices: [TunedLambda]
        do {
            let isList = data.first { !" \t\r\n".utf8.contains($0) } == UInt8(ascii: "[")
            choices = isList ? try JSONDecoder().decode([TunedLambda].self, from: data)
                             : [try JSONDecoder().decode(TunedLambda.self, from: data)]
        } catch {
            throw ControlError.badTunedFile(path: path, reason: "\(error)")
        }
        for (index, tuned) in choices.enumerated() {
            guard tuned.lambda.isFinite, tuned.candidates.allSatisfy(\.isFinite),
                  tuned.setting == .fixed || !tuned.candidates.isEmpty else {
                throw ControlError.badTunedFile(path: path, reason: "choice \(index) (\(tuned.model)): lambda and "
                                                + "candidates must be finite numbers, and auto needs candidates")
            }
        }
        return choices
    }

    /// The last choice saved in a file; nil when it does not exist or holds none.
    /// - Throws: ``ControlError/badTunedFile(path:reason:)`` as ``loadAll(_:)``.
    public static func load(_ path: String) throws -> TunedLambda? {
        try loadAll(path).last
    }

    /// The choice in `path` for `model` with `adapter`; nil when the file does not exist or holds no choice for
    /// that model and adapter.
    /// - Throws: ``ControlError/badTunedFile(path:reason:)`` as ``loadAll(_:)``.
    public static func load(_ path: String, model: String, adapter: String?) throws -> TunedLambda? {
        try loadAll(path).last { $0.applies(model: model, adapter: adapter) }
    }

    /// Stores this choice in the file, replacing the one for the same model and adapter and keeping the others;
    /// written atomically (a temporary file renamed into place), creating its folder.
    /// - Throws: ``ControlError/badTunedFile(path:reason:)`` when the file exists but cannot be read as choices
    ///   (it is left as it is rather than overwritten).
    public func save(_ path: String) throws {
        var choices = try Self.loadAll(path).filter { !$0.applies(model: model, adapter: adapter) }
        choices.append(self)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        try (encoder.encode(choices) + Data("\n".utf8)).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

/// Errors of the controller, naming the file at fault.
public enum ControlError: Error, Equatable, CustomStringConvertible {
    case badTunedFile(path: String, reason: String)

    public var description: String {
        switch self {
        case let .badTunedFile(path, reason): "\(path): not a tuned-lambda file: \(reason)"
        }
    }
}
