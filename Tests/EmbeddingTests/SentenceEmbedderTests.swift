import Foundation
import Testing
import COpenBLAS
@testable import Embedding

enum EmbedderPaths {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()
    static let folder = root + "/models/all-MiniLM-L6-v2"
    static let fixture = root + "/Tests/Fixtures/embedder-minilm.json"
    /// CI runs `scripts/setup --embedder` first, so there a missing model is a failure rather than a skip.
    static var available: Bool {
        FileManager.default.fileExists(atPath: folder + "/model.safetensors")
            || ProcessInfo.processInfo.environment["CI"] == "true"
    }

    static func vectorCases() throws -> [(text: String, vector: [Float])] {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixture))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let cases = try #require(object["vector_cases"] as? [[String: Any]])
        return try cases.map { item in
            (try #require(item["text"] as? String), try #require(item["vector"] as? [Double]).map(Float.init))
        }
    }
}

func dot(_ a: [Float], _ b: [Float]) -> Double {
    zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) }
}

@Suite(.serialized) struct SentenceEmbedderTests {
    /// Loaded once: reading 90 MB of weights per test would dominate the suite.
    static let embedder: SentenceEmbedder? = try? SentenceEmbedder(folder: EmbedderPaths.folder, threads: 2)

    /// The vectors sentence-transformers gives (transformers BertModel F32, mean pooling, L2 normalisation), texts
    /// embedded together in one batch of mixed lengths, one of them truncated at 256 tokens and one empty.
    @Test(.enabled(if: EmbedderPaths.available))
    func matchesSentenceTransformersReference() throws {
        let embedder = try #require(Self.embedder)
        let cases = try EmbedderPaths.vectorCases()
        #expect(cases.count >= 8)
        let vectors = try embedder.embed(cases.map(\.text))
        for (item, vector) in zip(cases, vectors) {
            #expect(vector.count == 384)
            let cosine = dot(item.vector, vector) / dot(item.vector, item.vector).squareRoot()
                / dot(vector, vector).squareRoot()
            #expect(1 - cosine < 1e-4, "\(item.text.prefix(40).debugDescription): cosine \(cosine)")
            // Measured 2.6e-7 at most (the fixture keeps 7 decimals).
            let largest = largestDifference(item.vector, vector)
            #expect(largest < 1e-5, "\(item.text.prefix(40).debugDescription): largest difference \(largest)")
        }
    }

    /// A text's vector does not depend on the batch it is in or the batch size (packing without padding).
    @Test(.enabled(if: EmbedderPaths.available))
    func batchingDoesNotChangeVectors() throws {
        var embedder = try #require(Self.embedder)
        let texts = try EmbedderPaths.vectorCases().map(\.text)
        let together = try embedder.embed(texts)
        embedder.batchTokens = 1
        let alone = try embedder.embed(texts)
        for (a, b) in zip(together, alone) {
            #expect(abs(dot(a, a) - 1) < 1e-5)
            #expect(zip(a, b).allSatisfy { abs($0.0 - $0.1) < 1e-5 })
        }
    }

    /// The point of the model: a question sits nearer the passage that answers it than a passage about something
    /// else, even without shared key words.
    @Test(.enabled(if: EmbedderPaths.available))
    func aQuestionIsNearerItsAnswer() throws {
        let embedder = try #require(Self.embedder)
        let vectors = try embedder.embed([
            "What is the capital of Australia?",
            "Canberra is the seat of the federal government of the Commonwealth.",
            "Tasmania is an island south of the mainland, known for its wilderness.",
        ])
        #expect(dot(vectors[0], vectors[1]) > dot(vectors[0], vectors[2]))
    }

    /// One batch of a few hundred tokens splits its rows and attention pairs between two threads; each text gets
    /// the vector one thread gives it.
    @Test(.enabled(if: EmbedderPaths.available))
    func oneBatchOnTwoThreadsGivesTheVectorsOfOne() throws {
        var embedder = try #require(Self.embedder)
        let texts = try EmbedderPaths.vectorCases().map(\.text)
        let tokens = texts.reduce(0) { $0 + embedder.tokenizer.encode($1, maximumLength: 256).count }
        #expect(tokens >= 128 && tokens <= embedder.batchTokens, "one batch long enough to be split: \(tokens)")
        embedder.threads = 2
        let two = try embedder.embed(texts)
        embedder.threads = 1
        let one = try embedder.embed(texts)
        for (a, b) in zip(two, one) { #expect(largestDifference(a, b) < 1e-6) }
    }

    /// OpenBLAS's thread count is process-wide: an embedder that changed it, even for a moment, changed it under
    /// a decoder running beside it (the server does both). Polled while two threads embed one long batch and then
    /// many short ones (both ways of splitting the work).
    @Test(.enabled(if: EmbedderPaths.available))
    func embeddingLeavesOpenBLASOnOneThread() throws {
        var embedder = try #require(Self.embedder)
        embedder.threads = 2
        let long = try EmbedderPaths.vectorCases().map(\.text)
        #expect(openblas_get_num_threads() == 1)
        let done = DispatchGroup()
        DispatchQueue.global().async(group: done) { [embedder] in
            _ = try? embedder.embed(long)
            var small = embedder
            small.batchTokens = 16
            _ = try? small.embed(long)
        }
        var reads = 0, other = 0
        repeat {
            for _ in 0..<1000 {
                reads += 1
                if openblas_get_num_threads() != 1 { other += 1 }
            }
        } while done.wait(timeout: .now()) == .timedOut
        #expect(other == 0, "\(other) of \(reads) reads saw another thread count")
    }

    @Test func aMissingFolderNamesTheFile() throws {
        let folder = NSTemporaryDirectory() + "dera-no-embedder-\(getpid())"
        let error = #expect(throws: EmbedderError.self) { try SentenceEmbedder(folder: folder) }
        #expect(error?.path == folder + "/config.json")
        #expect(error?.reason.contains("scripts/setup --embedder") == true)
    }

    @Test func aConfigThatIsNotBertIsRefused() throws {
        let path = NSTemporaryDirectory() + "dera-config-\(getpid()).json"
        try #"{"model_type": "llama", "hidden_size": 8}"#.write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: EmbedderError.self) { try BertConfig(configPath: path) }
        #expect(error?.reason.contains("model_type") == true)
        try #"{"model_type": "bert", "hidden_size": 10, "num_attention_heads": 3, "vocab_size": 5, "num_hidden_layers": 1, "intermediate_size": 4, "max_position_embeddings": 8, "type_vocab_size": 2}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: EmbedderError.self) { try BertConfig(configPath: path) }
    }
}
func largestDifference(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0.0 - $0.1) }.max() ?? 1 }
