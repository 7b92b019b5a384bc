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
            Build in release mode first (scripts/bench does). Every repetition runs each test once in dera and, \
            with --peer PATH/llama-bench, once in llama.cpp right after (llama-bench -r 1), so both engines meet \
            the same machine load; the table gives medians. Peak resident memory of this process and of the \
            largest llama-bench run closes the report.
            """)

    @Option(name: .long, help: "A .gguf file or a Hugging Face model folder.")
    var model: String = EngineModel.path

    @Option(name: .long, parsing: .upToNextOption, help: "Thread counts to measure.")
    var threads: [Int] = [1, 2]

    @Option(name: .long, parsing: .upToNextOption, help: "Prompt lengths for the pp tests (e.g. 128 512 1024).")
    var prompt: [Int] = [128]

    @Option(name: .long, help: "Generated tokens for the tg test.")
    var generate = 64

    @Option(name: .long, help: "Repetitions of each test (after one warm-up); the table gives medians.")
    var repetitions = 3

    @Option(name: .long, help: "llamaCpp (default) or float32; see dera generate --help.")
    var arithmetic: DecoderModel.Arithmetic = .llamaCpp

    @Option(name: .long, help: "Path to llama.cpp's llama-bench, to measure the peer in the same run.")
    var peer: String?

    func validate() throws {
        guard !threads.isEmpty else { throw ValidationError("--threads needs at least one count") }
        guard !prompt.isEmpty else { throw ValidationError("--prompt needs at least one length") }
        for count in threads { try NumericFlags.check("--threads", count, in: 1...NumericFlags.maximumThreads) }
        for length in prompt { try NumericFlags.checkTokens("--prompt", length) }
        try NumericFlags.checkTokens("--generate", generate)
        try NumericFlags.check("--repetitions", repetitions, in: 1...1000)
    }

    func run() throws {
        let bundle = try ModelBundle.open(model, workers: 1)
        bundle.model.arithmetic = arithmetic
        let tests = prompt.map { "pp\($0)" } + ["tg\(generate)"]
        print("model: \(model), arithmetic: \(arithmetic.rawValue), \(repetitions) repetitions, load before: \(loadAverage())")
        var rows: [(test: String, threads: Int, ours: [Double], theirs: [Double])] = []
        for count in threads {
            bundle.model.workers = count
            var ours: [String: [Double]] = [:], theirs: [String: [Double]] = [:]
            for round in 0..<repetitions {
                for (index, length) in prompt.enumerated() {
                    let measured = try bundle.model.measureSpeed(
                        promptTokens: length, generatedTokens: index == prompt.count - 1 ? generate : 0,
                        repetitions: 1, warmUp: round == 0)
                    for m in measured { ours[m.test, default: []] += m.samples }
                }
                if let peer {
                    for (test, value) in try runPeer(peer, threads: count) { theirs[test, default: []].append(value) }
                }
            }
            for test in tests { rows.append((test, count, ours[test] ?? [], theirs[test] ?? [])) }
        }
        print("| test | threads | dera tok/s (median, min-max) | llama.cpp tok/s (median, min-max) | dera / llama.cpp |")
        print("|---|---|---|---|---|")
        for row in rows {
            let ours = SpeedMeasurement.median(row.ours)
            let theirs = row.theirs.isEmpty ? nil : SpeedMeasurement.median(row.theirs)
            let ratio = theirs.map { String(format: "%.2fx", ours / $0) } ?? "-"
            print("| \(row.test) | \(row.threads) | \(Self.describe(row.ours)) | \(row.theirs.isEmpty ? "-" : Self.describe(row.theirs)) | \(ratio) |")
        }
        var peak = "peak resident memory: dera \(Self.peakResidentMegabytes(children: false)) MB"
        if peer != nil { peak += ", llama-bench \(Self.peakResidentMegabytes(children: true)) MB (largest run)" }
        print(peak)
        print("load after: \(loadAverage())")
    }

    /// Peak resident set of this process, or of the largest finished child, in MB (Linux reports kB).
    static func peakResidentMegabytes(children: Bool) -> Int {
        var usage = rusage()
        #if os(Linux)
        getrusage(__rusage_who_t((children ? RUSAGE_CHILDREN : RUSAGE_SELF).rawValue), &usage)
        return usage.ru_maxrss / 1024
        #else
        getrusage(children ? RUSAGE_CHILDREN : RUSAGE_SELF, &usage)
        return usage.ru_maxrss / (1024 * 1024)
        #endif
    }

    static func describe(_ samples: [Double]) -> String {
        guard let low = samples.min(), let high = samples.max() else { return "-" }
        return String(format: "%.1f (%.1f-%.1f)", SpeedMeasurement.median(samples), low, high)
    }

    func loadAverage() -> String {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3)
            .joined(separator: " ") ?? "unknown"
    }

    /// Runs llama-bench once per test (JSON output) and returns tokens/s per test name (pp128, tg64).
    func runPeer(_ path: String, threads: Int) throws -> [String: Double] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["-m", model, "-p", prompt.map(String.init).joined(separator: ","), "-n", "\(generate)",
                             "-t", "\(threads)", "-r", "1", "-o", "json"]
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
