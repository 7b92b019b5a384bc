#if canImport(Glibc)
import Glibc
#endif
import CFuzzerDriver
import Foundation
import Retrieval

// The reader fuzzer's entry points. SwiftPM links an executable target's entry point as `<Module>_main`, so the
// harness supplies that and hands the command line to libFuzzer's driver itself (its own `main` stays unlinked).
//
//     ReaderFuzzer --reader=NAME [--stats=FILE] [--write-seeds=DIR] [--time=FILE] [libFuzzer flags and corpora]
//
// `--write-seeds=DIR` writes the reader's generated seeds into DIR and exits. `--time=FILE` reads FILE five times
// after a warm-up and prints the fastest CPU time as JSON. Otherwise libFuzzer runs with the remaining arguments;
// the harness times every input in CPU time of the reading thread and keeps the statistics in `--stats`
// (JSON, rewritten each second and at exit), the slowest input so far beside it (`FILE.slowest`) and the input with
// the highest time per byte (`FILE.per-byte`).

/// What one fuzzing process has seen, written as JSON for `scripts/fuzz`.
struct FuzzStatistics: Encodable {
    var reader = ""
    var inputs = 0
    var bytes = 0
    /// CPU seconds spent reading (all times here are CPU time of the reading thread).
    var seconds = 0.0
    /// The input that took longest, and its size.
    var slowestSeconds = 0.0
    var slowestBytes = 0
    /// The highest time per byte among inputs of at least `perByteFloor` bytes (below that, fixed costs dominate).
    var worstSecondsPerByte = 0.0
    var worstPerByteBytes = 0
    var perByteFloor = 1024
    var largestInputBytes = 0
    /// Peak resident memory of the process (includes AddressSanitizer's shadow memory and quarantine).
    var peakRSSMegabytes = 0
}

/// Process-wide state of the harness; libFuzzer calls the callback on one thread only.
enum Harness {
    nonisolated(unsafe) static var reader = FuzzedReader.markdown
    nonisolated(unsafe) static var scratch: Scratch?
    nonisolated(unsafe) static var statistics = FuzzStatistics()
    nonisolated(unsafe) static var statisticsPath: String?
    nonisolated(unsafe) static var lastWrite = 0.0

    /// Wall-clock time, for the once-a-second statistics.
    static func now() -> Double { seconds(on: CLOCK_MONOTONIC) }

    /// CPU time of this thread: what an input costs, unlike wall-clock time unmoved by other processes on a
    /// busy machine. The readers run on the calling thread only.
    static func cpuNow() -> Double { seconds(on: CLOCK_THREAD_CPUTIME_ID) }

    private static func seconds(on id: clockid_t) -> Double {
        var spec = timespec()
        clock_gettime(id, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    /// The fastest of five reads of `bytes` after a warm-up, in CPU seconds.
    static func time(_ bytes: UnsafeRawBufferPointer) -> Double {
        reader.read(bytes, scratch: scratch!)
        var fastest = Double.infinity
        for _ in 0..<5 {
            let start = cpuNow()
            reader.read(bytes, scratch: scratch!)
            fastest = min(fastest, cpuNow() - start)
        }
        return fastest
    }

    static func run(_ bytes: UnsafeRawBufferPointer) {
        let start = cpuNow()
        reader.read(bytes, scratch: scratch!)
        let elapsed = cpuNow() - start
        let end = now()
        statistics.inputs += 1
        statistics.bytes += bytes.count
        statistics.seconds += elapsed
        statistics.largestInputBytes = max(statistics.largestInputBytes, bytes.count)
        if elapsed > statistics.slowestSeconds {
            statistics.slowestSeconds = elapsed
            statistics.slowestBytes = bytes.count
            if let path = statisticsPath {
                _ = FileManager.default.createFile(atPath: path + ".slowest", contents: Data(bytes))
            }
        }
        if bytes.count >= statistics.perByteFloor, elapsed / Double(bytes.count) > statistics.worstSecondsPerByte {
            statistics.worstSecondsPerByte = elapsed / Double(bytes.count)
            statistics.worstPerByteBytes = bytes.count
            if let path = statisticsPath {
                _ = FileManager.default.createFile(atPath: path + ".per-byte", contents: Data(bytes))
            }
        }
        if end - lastWrite > 1 { writeStatistics() }
    }

    static func writeStatistics() {
        lastWrite = now()
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        statistics.peakRSSMegabytes = Int(usage.ru_maxrss) / 1024
        guard let path = statisticsPath, let json = try? JSONEncoder().encode(statistics) else { return }
        try? json.write(to: URL(fileURLWithPath: path + ".tmp"))
        rename(path + ".tmp", path)
    }
}

@_cdecl("ReaderFuzzer_main")
func readerFuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var passed: [String] = []
    var seedsFolder: String?
    var timedFile: String?
    for index in 0..<Int(argc) {
        let argument = String(cString: argv[index]!)
        if argument.hasPrefix("--reader=") {
            let name = String(argument.dropFirst("--reader=".count))
            guard let reader = FuzzedReader(rawValue: name) else {
                FileHandle.standardError.write(Data(
                    "unknown reader '\(name)'; readers: \(FuzzedReader.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
                return 2
            }
            Harness.reader = reader
        } else if argument.hasPrefix("--stats=") {
            Harness.statisticsPath = String(argument.dropFirst("--stats=".count))
        } else if argument.hasPrefix("--time=") {
            timedFile = String(argument.dropFirst("--time=".count))
        } else if argument.hasPrefix("--write-seeds=") {
            seedsFolder = String(argument.dropFirst("--write-seeds=".count))
        } else {
            passed.append(argument)
        }
    }
    Harness.statistics.reader = Harness.reader.rawValue
    if let seedsFolder {
        try? FileManager.default.createDirectory(atPath: seedsFolder, withIntermediateDirectories: true)
        for (number, seed) in Harness.reader.seeds.enumerated() {
            _ = FileManager.default.createFile(atPath: "\(seedsFolder)/seed-\(number)", contents: Data(seed))
        }
        return 0
    }
    let scratch = Scratch()
    Harness.scratch = scratch
    // Warm up (lazy Foundation and libxml2 set-up) outside the statistics, so the slowest input is the reader's.
    for seed in Harness.reader.seeds { seed.withUnsafeBytes { Harness.reader.read($0, scratch: scratch) } }
    if let timedFile {
        guard let input = FileManager.default.contents(atPath: timedFile) else { return 2 }
        let fastest = input.withUnsafeBytes { Harness.time($0) }
        print("{\"bytes\": \(input.count), \"seconds\": \(fastest)}")
        scratch.remove()
        return 0
    }
    atexit {
        Harness.writeStatistics()
        Harness.scratch?.remove()
    }

    var cArguments = passed.map { strdup($0) }
    cArguments.append(nil)
    var count = CInt(passed.count)
    return cArguments.withUnsafeMutableBufferPointer { buffer in
        var pointer = buffer.baseAddress
        return LLVMFuzzerRunDriver(&count, &pointer) { data, size in
            Harness.run(UnsafeRawBufferPointer(start: data, count: size))
            return 0
        }
    }
}

/// Structure-aware mutations on top of libFuzzer's byte-level ones: insert a fragment of the reader's syntax,
/// repeat one many times (deep nesting, long bracket runs, thousands of attributes), overwrite a length or count
/// field with an extreme value, or truncate. Half the time libFuzzer's own mutators run instead.
@_cdecl("LLVMFuzzerCustomMutator")
func customMutator(_ data: UnsafeMutablePointer<UInt8>, _ size: Int, _ maxSize: Int, _ seed: CUnsignedInt) -> Int {
    // Retrieval's SplitMix64, seeded by libFuzzer so that mutations replay.
    var random = SplitMix64(seed: UInt64(seed))
    let reader = Harness.reader
    let choice = random.below(100)
    if choice < 50 || maxSize == 0 { return LLVMFuzzerMutate(data, size, maxSize) }
    let buffer = UnsafeMutableBufferPointer(start: data, count: maxSize)
    if choice < 65 || (choice < 80 && !reader.hasBinaryFields) {
        // Insert one fragment.
        let token = Array(reader.tokens[random.below(reader.tokens.count)].utf8)
        return insert(token, times: 1, into: buffer, size: size, at: random.below(size + 1))
    }
    if choice < 80 {
        // Overwrite 4 or 8 bytes with an extreme little-endian integer.
        let width = random.below(2) == 0 ? 4 : 8
        guard size >= width else { return LLVMFuzzerMutate(data, size, maxSize) }
        let extremes: [UInt64] = [0, 1, 2, 7, 0x7F, 0xFF, 0x7FFF_FFFF, 0xFFFF_FFFF, 1 << 32, 1 << 40, 1 << 62,
                                  0x7FFF_FFFF_FFFF_FFFF, UInt64.max, UInt64(size), UInt64(size) &+ 1, UInt64(size) &- 8]
        let value = extremes[random.below(extremes.count)]
        let at = random.below(size - width + 1) & ~(random.below(2) == 0 ? 3 : 0)
        for byte in 0..<width { buffer[at + byte] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(byte))) }
        return size
    }
    if choice < 92 {
        // Repeat one fragment many times.
        let token = Array(reader.tokens[random.below(reader.tokens.count)].utf8)
        let room = (maxSize - size) / max(token.count, 1)
        guard room > 0 else { return LLVMFuzzerMutate(data, size, maxSize) }
        let times = 1 + random.below(min(room, random.below(2) == 0 ? 64 : 4096))
        return insert(token, times: times, into: buffer, size: size, at: random.below(size + 1))
    }
    return size > 1 ? random.below(size) : LLVMFuzzerMutate(data, size, maxSize)
}

/// Inserts `times` copies of `token` at `at`, as many as fit in the buffer; returns the new size.
private func insert(_ token: [UInt8], times: Int, into buffer: UnsafeMutableBufferPointer<UInt8>, size: Int,
                    at: Int) -> Int {
    guard !token.isEmpty else { return size }
    let added = min(token.count * times, buffer.count - size) / token.count * token.count
    guard added > 0 else { return size }
    let base = buffer.baseAddress!
    memmove(base + at + added, base + at, size - at)
    for offset in stride(from: 0, to: added, by: token.count) {
        (base + at + offset).update(from: token, count: token.count)
    }
    return size + added
}

extension SplitMix64 {
    /// A number in `0..<bound` (0 when `bound` is 0).
    mutating func below(_ bound: Int) -> Int { bound > 0 ? Int(next() % UInt64(bound)) : 0 }
}
