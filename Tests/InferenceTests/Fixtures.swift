import Foundation
import Testing
@testable import Inference

/// The repository root and the reference fixtures recorded from llama.cpp and transformers
/// (Tests/Fixtures/README.md says how).
enum Fixtures {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static let smolLM2 = root + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    static let qwen = root + "/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"

    /// Under CI the model must be there (scripts/setup fetched it); elsewhere tests that need it are skipped.
    static var smolLM2Available: Bool {
        FileManager.default.fileExists(atPath: smolLM2) || ProcessInfo.processInfo.environment["CI"] != nil
    }

    static func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: root + "/Tests/Fixtures/" + name))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}

/// One greedy completion recorded from llama.cpp.
struct GreedyCase {
    var name: String
    var promptIDs: [Int]
    var generatedIDs: [Int]
    var stoppedAtEOS: Bool
    var text: String
    var margins: [Double]

    static func load(_ file: String) throws -> [GreedyCase] {
        let object = try Fixtures.json(file)
        let cases = try #require(object["cases"] as? [[String: Any]])
        return try cases.map { c in
            GreedyCase(
                name: try #require(c["name"] as? String),
                promptIDs: try #require(c["prompt_ids"] as? [Int]),
                generatedIDs: try #require(c["generated_ids"] as? [Int]),
                stoppedAtEOS: (c["stop_reason"] as? String) == "eos",
                text: c["text"] as? String ?? "",
                margins: c["margins"] as? [Double] ?? [])
        }
    }
}

/// Greedy decoding with the engine alone: argmax (lowest id on ties, as llama.cpp) until a stop id or `limit`.
func greedyDecode(_ model: DecoderModel, prompt: [Int], limit: Int, stop: Set<Int>) throws -> [Int] {
    let cache = model.makeCache(capacity: prompt.count + limit + 1)
    var logits = try model.forward(DecoderBatch(prompt: prompt), caches: [cache])
    var out: [Int] = []
    while out.count < limit {
        let next = logits.indices.max { logits[$0] < logits[$1] || (logits[$0] == logits[$1] && $0 > $1) }!
        if stop.contains(next) { break }
        out.append(next)
        var step = DecoderBatch()
        step.append(token: next, sequence: 0, wantsLogits: true)
        logits = try model.forward(step, caches: [cache])
    }
    return out
}
