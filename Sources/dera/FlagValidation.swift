import ArgumentParser
import Foundation
import Realign

/// Range checks for numeric flags, each failing with a `ValidationError` that names the flag, what it must be and
/// what was given (so `--lambda nan` is an argument error with exit code 64, not empty output).
enum NumericFlags {
    /// Most worker threads a command starts.
    static let maximumThreads = 256
    /// Most passages a command retrieves (`-k`).
    static let maximumPassages = 1000
    /// Most lambdas one `--lambdas` sweep decodes: each is a sequence with its own KV caches, so the memory grows
    /// with the count (1,000 values took 5.2 GB).
    static let maximumSweep = 16

    static func check<T: Comparable>(_ flag: String, _ value: T, in range: ClosedRange<T>) throws {
        guard range.contains(value) else {
            throw ValidationError("\(flag) must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
        }
    }

    static func check(_ flag: String, _ value: Double, in range: ClosedRange<Double>) throws {
        guard range.contains(value) else {
            throw ValidationError("\(flag) must be a number between \(range.lowerBound) and \(range.upperBound), got \(value)")
        }
    }

    /// A token count: ``DecodingLimits/maxTokens``.
    static func checkTokens(_ flag: String, _ value: Int) throws {
        try check(flag, value, in: DecodingLimits.maxTokens)
    }

    /// A DeRa strength: ``DecodingLimits/lambda``.
    static func checkLambda(_ flag: String, _ value: Float) throws {
        do { try DecodingLimits.check(lambda: value) } catch let error as DecodingParameterError {
            throw ValidationError("\(flag) must be \(error.requirement) (0 = reference, 1 = aligned), got \(error.value)")
        }
    }

    /// A comma-separated sweep of lambdas, at most ``maximumSweep``, each checked as ``checkLambda(_:_:)``.
    static func lambdas(_ flag: String, _ text: String) throws -> [Float] {
        let values = text.split(separator: ",", omittingEmptySubsequences: false)
        guard values.count <= maximumSweep else {
            throw ValidationError("\(flag) has \(values.count) values; at most \(maximumSweep) are decoded in one batch")
        }
        let parsed = values.map { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard !parsed.isEmpty, parsed.allSatisfy({ $0 != nil }) else {
            throw ValidationError("\(flag) must be comma-separated numbers, got '\(text)'")
        }
        for value in parsed { try checkLambda(flag, value!) }
        return parsed.map { $0! }
    }

    /// The sampling flags, checked by the library's own rule (``SamplingParameters/validate(request:)``).
    static func checkSampling(_ parameters: SamplingParameters) throws {
        do { try parameters.validate() } catch let error as DecodingParameterError {
            let flags = ["temperature": "--temperature", "topK": "--top-k", "topP": "--top-p", "minP": "--min-p",
                         "repetitionPenalty": "--repeat-penalty"]
            throw ValidationError("\(flags[error.parameter] ?? error.parameter) must be \(error.requirement), got \(error.value)")
        }
    }
}
