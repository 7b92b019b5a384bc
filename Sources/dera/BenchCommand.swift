import ArgumentParser
import Foundation
import Formats
import Inference

/// `dera bench`: speed measurements.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure speed: the engine beside llama.cpp (speed, the default) DeRa beside one model (realign), or whole answers under each lambda setting (ask).",
        subcommands: [BenchSpeed.self, BenchRealign.self, BenchAsk.self], defaultSubcommand: BenchSpeed.self)
}

/// `dera bench speed`: tokens/s for prompt processing and generation, beside llama.cpp's when given.
struct BenchSpeed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "speed",
        abstract: "Measure prompt (pp) and generation (tg) speed in tokens/s, optionally beside llama-bench.",
        discussion: """
            Build in release mode first (scripts/bench does). With --peer PATH/llama-bench, the same tests run \
            through llama.cpp in the same session and both figures are printed side by side.
            """)

    @Option(name: .long, help: "A .gguf file or a Hugging Face model folder.")
    var model: String = EngineModel.path

    @Option(name: .long, parsing: .upToNextOption, help: "Thread counts to measure.")
    var threads: [Int] = [1, 2]

    @Option(name: .long, help: "Prompt tokens for the pp test.")
    var prompt = 128

    @Option(name: .long, help: "Generated tokens for the tg test.")
    var generate = 64

    @Option(name: .long, help: "Repetitions of each test (after one warm-up).")
    var repetitions = 3

    @Option(name: .long, help: "llamaCpp (default) or float32; see dera generate --help.")
    var arithmetic: DecoderModel.Arithmetic = .llamaCpp

    @Option(name: .long, help: "Path to llama.cpp's llama-bench, to measure the peer in the same run.")
    var peer: String?

    func validate() throws {
        guard !threads.isEmpty else { throw ValidationError("--threads needs at least one count") }
        for count in threads { try NumericFlags.check("--threads", count, in: 1...NumericFlags.maximumThreads) }
        try NumericFlags.checkTokens("--prompt", prompt)
        try NumericFlags.checkTokens("--generate", generate)
        try NumericFlags.check("--repetitions", repetitions, in: 1...1000)
    }

    func run() throws {
        let bundle = try ModelBundle.open(model, workers: 1)
        bundle.model.arithmetic = arithmetic
        var rows: [(String, Int, SpeedMeasurement, Double?)] = []
        for count in threads {
            bundle.model.workers = count
            let measured = try bundle.model.measureSpeed(promptTokens: prompt, generatedTokens: generate,
                                                         repetitions: repetitions)
            let peerFigures = try peer.map { try runPeer($0, threads: count) } ?? [:]
            for m in measured { rows.append((m.test, count, m, peerFigures[m.test])) }
        }
        print("model: \(model), arithmetic: \(arithmetic.rawValue)")
        print("| test | threads | dera tok/s | llama.cpp tok/s | ratio |")
        print("|---|---|---|---|---|")
        for (test, count, m, peerValue) in rows {
            let ours = String(format: "%.1f ± %.1f", m.mean, m.standardDeviation)
            let theirs = peerValue.map { String(format: "%.1f", $0) } ?? "-"
            let ratio = peerValue.map { String(format: "%.2fx", m.mean / $0) } ?? "-"
            print("| \(test) | \(count) | \(ours) | \(theirs) | \(ratio) |")
        }
    }

    /// Runs llama-bench with JSON output and returns tokens/s per test name (pp128, tg64).
    func runPeer(_ path: String, threads: Int) throws -> [String: Double] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["-m", model, "-p", "\(prompt)", "-n", "\(generate)", "-t", "\(threads)",
                             "-r", "\(max(repetitions, 1))", "-o", "json"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let runs = try JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
            throw CommandError("\(path) failed (exit \(process.terminationStatus)); run it by hand to see why")
        }
        var figures: [String: Double] = [:]
        for run in runs {
            guard let average = run["avg_ts"] as? Double else { continue }
            let promptCount = run["n_prompt"] as? Int ?? 0
            let genCount = run["n_gen"] as? Int ?? 0
            if promptCount > 0 { figures["pp\(promptCount)"] = average }
            if genCount > 0 { figures["tg\(genCount)"] = average }
        }
        return figures
    }
}
