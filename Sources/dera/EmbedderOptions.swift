import ArgumentParser
import Embedding
import Foundation
import Retrieval

/// Where the sentence embedder comes from and how many threads run it (index --embed, search/ask --mode dense|hybrid).
struct EmbedderOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Folder of the sentence embedder (config.json, model.safetensors, tokenizer.json).",
                               discussion: "Default: \(SentenceEmbedder.defaultFolder) (scripts/setup --embedder fetches it)."))
    var embedder: String = SentenceEmbedder.defaultFolder

    @Option(help: "Threads that compute embeddings.")
    var embedThreads: Int = 2

    func validate() throws {
        try NumericFlags.check("--embed-threads", embedThreads, in: 1...NumericFlags.maximumThreads)
    }

    func open() throws -> SentenceEmbedder {
        try SentenceEmbedder(folder: embedder, threads: embedThreads)
    }

    /// The embedder when the folder is there, else nil (hybrid search then falls back to BM25 with a note).
    func openIfPresent() throws -> SentenceEmbedder? {
        FileManager.default.fileExists(atPath: embedder + "/model.safetensors") ? try open() : nil
    }
}

extension SearchMode: ExpressibleByArgument {}

/// Writes a note on standard error.
func writeNote(_ text: String) {
    FileHandle.standardError.write(Data("note: \(text)\n".utf8))
}
