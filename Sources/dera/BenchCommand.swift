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
            largest llama-bench run (through /usr/bin/time -f %M, where present) closes the report.
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
        var peerPeak: Int?
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
                    let (figures, peak) = try runPeer(peer, threads: count)
                    for (test, value) in figures { theirs[test, default: []].append(value) }
                    if let peak { peerPeak = max(peerPeak ?? 0, peak) }
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
        var peak = "peak resident memory: dera \(Self.peakResidentMegabytes()) MB (this process, all tests)"
        if let peerPeak { peak += ", llama-bench \(peerPeak / 1024) MB (largest run)" }
        print(peak)
        print("load after: \(loadAverage())")
    }

    /// Peak resident set of this process in MB (Linux reports kB, macOS bytes). Not used for llama-bench: a child
    /// spawned from this process starts its high-water mark at this process's size.
    static func peakResidentMegabytes() -> Int {
        var usage = rusage()
        #if os(Linux)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return usage.ru_maxrss / 1024
        #else
        getrusage(RUSAGE_SELF, &usage)
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

    /// Runs llama-bench (JSON output, `repetitions` runs of each test); returns its mean tokens/s per test name
    /// (pp128, tg64) and, through /usr/bin/time when present, its peak resident memory in kB.
    func runPeer(_ path: String, threads: Int, repetitions: Int = 1) throws -> (figures: [String: Double], peakKB: Int?) {
        let arguments = ["-m", model, "-p", prompt.map(String.init).joined(separator: ","), "-n", "\(generate)",
                         "-t", "\(threads)", "-r", "\(repetitions)", "-o", "json"]
        let timer = "/usr/bin/time"
        let timed = FileManager.default.isExecutableFile(atPath: timer)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: timed ? timer : path)
        process.arguments = timed ? ["-f", "peak-kb %M", path] + arguments : arguments
        // Standard error goes to a file (llama-bench logs a lot): a pipe read after the output could fill and stall it.
        let errorPath = FileManager.default.temporaryDirectory.appendingPathComponent("dera-bench-\(getpid()).err")
        _ = FileManager.default.createFile(atPath: errorPath.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errorPath) }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = timed ? try FileHandle(forWritingTo: errorPath) : FileHandle.nullDevice
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
        let errors = (try? String(contentsOf: errorPath, encoding: .utf8)) ?? ""
        let peak = errors.split(separator: "\n").last { $0.hasPrefix("peak-kb ") }.flatMap { Int($0.dropFirst(8)) }
        return (figures, peak)
    }
}
