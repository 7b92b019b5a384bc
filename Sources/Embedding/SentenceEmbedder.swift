import Foundation
import Formats
import Tokenization

/// A sentence-transformers style embedder: WordPiece tokens -> BERT encoder -> mean of the token vectors
/// (`[CLS]` and `[SEP]` included, as the attention mask covers them) -> L2 normalisation. With
/// all-MiniLM-L6-v2 (`scripts/setup --embedder`) it gives the vectors sentence-transformers gives, within
/// 1e-4 in cosine (Tests/Fixtures/embedder-minilm.json).
///
/// ```swift
/// let embedder = try SentenceEmbedder(folder: "models/all-MiniLM-L6-v2")
/// let vectors = try embedder.embed(["What is the capital of Australia?", "Canberra is ..."])
/// let similarity = zip(vectors[0], vectors[1]).reduce(0) { $0 + $1.0 * $1.1 }
/// ```
public struct SentenceEmbedder: TextEmbedder {
    public let tokenizer: WordPieceTokenizer
    public let encoder: BertEncoder
    /// Tokens per text at most, `[CLS]` and `[SEP]` included (sentence-transformers' `max_seq_length`).
    public var maximumLength: Int
    /// Threads for the matrix products.
    public var threads: Int
    /// Tokens encoded together in one pass (texts are grouped by length up to this many).
    public var batchTokens: Int
    /// The folder name, the maximum length and the vector size.
    public let identity: String

    public var dimension: Int { encoder.config.hiddenSize }

    /// The default embedder's folder, relative to the repository (`scripts/setup --embedder`).
    public static let defaultFolder = "models/all-MiniLM-L6-v2"

    /// Loads `config.json`, `model.safetensors` and `tokenizer.json` from `folder`.
    public init(folder: String, maximumLength: Int = 256, threads: Int = 2, batchTokens: Int = 4096) throws {
        for name in ["config.json", "model.safetensors", "tokenizer.json"] {
            guard FileManager.default.fileExists(atPath: folder + "/" + name) else {
                throw EmbedderError(path: folder + "/" + name,
                                    reason: "no such file (fetch the embedder with `scripts/setup --embedder`)")
            }
        }
        let config = try BertConfig(configPath: folder + "/config.json")
        let weights = try SafetensorsFile(path: folder + "/model.safetensors")
        let encoder = try BertEncoder(config: config, weights: weights)
        let tokenizer = try WordPieceTokenizer(tokenizerJSONPath: folder + "/tokenizer.json")
        guard tokenizer.vocabularySize <= config.vocabularySize else {
            throw EmbedderError(path: folder + "/tokenizer.json", reason: """
                \(tokenizer.vocabularySize) tokens but the model has \(config.vocabularySize) embeddings
                """)
        }
        let name = URL(fileURLWithPath: folder).lastPathComponent
        try self.init(tokenizer: tokenizer, encoder: encoder, maximumLength: maximumLength, threads: threads,
                      batchTokens: batchTokens, identity: "\(name) mean-pooled max\(maximumLength) d\(config.hiddenSize)")
    }

    public init(tokenizer: WordPieceTokenizer, encoder: BertEncoder, maximumLength: Int = 256, threads: Int = 2,
                batchTokens: Int = 4096, identity: String) throws {
        guard (2...encoder.config.maximumPositions).contains(maximumLength) else {
            throw EmbedderError(path: identity, reason: """
                maximum length \(maximumLength) must be in 2...\(encoder.config.maximumPositions)
                """)
        }
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.maximumLength = maximumLength
        self.threads = max(1, threads)
        self.batchTokens = max(1, batchTokens)
        self.identity = identity
    }

    public func embed(_ texts: [String]) throws -> [[Float]] {
        let sequences = texts.map { tokenizer.encode($0, maximumLength: maximumLength) }
        return embed(tokenized: sequences)
    }

    /// Vectors of already tokenized texts (`[CLS] ... [SEP]`, ids inside the vocabulary).
    ///
    /// Texts are sorted by length and grouped into batches of about ``batchTokens`` tokens. With several threads
    /// and several batches, each thread encodes whole batches: the threads meet once per batch instead of inside
    /// every product. A single batch splits its rows among the threads (``BertEncoder/hiddenStates(_:threads:)``),
    /// except a short one (a query), which runs on one. OpenBLAS runs on one thread throughout.
    public func embed(tokenized sequences: [[Int]]) -> [[Float]] {
        // Similar lengths together keep the attention matrices small and the batches even.
        let order = sequences.indices.sorted { sequences[$0].count < sequences[$1].count }
        var cuts: [ArraySlice<Int>] = []
        var start = 0
        while start < order.count {
            var end = start, tokens = 0
            while end < order.count, end == start || tokens + sequences[order[end]].count <= batchTokens {
                tokens += sequences[order[end]].count
                end += 1
            }
            cuts.append(order[start..<end])
            start = end
        }
        let batches = cuts
        let results = VectorSlots(count: sequences.count)
        let workers = min(threads, batches.count)
        let encoder = self.encoder, dimension = self.dimension
        let encode: @Sendable (ArraySlice<Int>, Int) -> Void = { batch, threads in
            let tokenized = batch.map { sequences[$0] }
            let hidden = encoder.hiddenStates(tokenized, threads: threads)
            var row = 0
            for (index, sequence) in zip(batch, tokenized) {
                results.set(index, Self.meanPooledUnitVector(hidden, rows: row..<(row + sequence.count), width: dimension))
                row += sequence.count
            }
        }
        if workers <= 1 {
            // A query (a few dozen tokens) is bound by reading the 88 MB of weights, not by arithmetic: a second
            // thread only adds a hand-over (p50 of a dense search 11.7 ms with one, 14.6 ms with two, measured with
            // OpenBLAS's own threads).
            let tokens = sequences.reduce(0) { $0 + $1.count }
            for batch in batches { encode(batch, tokens < 128 ? 1 : threads) }
        } else {
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                for index in stride(from: worker, to: batches.count, by: workers) { encode(batches[index], 1) }
            }
        }
        return results.vectors
    }

    /// Vectors written by several threads, each into its own slots.
    final class VectorSlots: @unchecked Sendable {
        private let lock = NSLock()
        private var storage: [[Float]]

        init(count: Int) { storage = Array(repeating: [], count: count) }

        func set(_ index: Int, _ vector: [Float]) { lock.withLock { storage[index] = vector } }

        var vectors: [[Float]] { lock.withLock { storage } }
    }

    /// The mean of `rows`, divided by its Euclidean length (left as is when that length is below 1e-12, as
    /// torch's `normalize`).
    static func meanPooledUnitVector(_ hidden: [Float], rows: Range<Int>, width: Int) -> [Float] {
        var sum = [Double](repeating: 0, count: width)
        for row in rows {
            for i in 0..<width { sum[i] += Double(hidden[row * width + i]) }
        }
        let count = Double(max(1, rows.count))
        let mean = sum.map { $0 / count }
        let length = mean.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let divisor = max(length, 1e-12)
        return mean.map { Float($0 / divisor) }
    }
}
