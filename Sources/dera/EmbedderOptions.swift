import ArgumentParser
import Embedding
import Foundation
import Pipelines
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

    /// The retriever a command searches `store` with in `mode`; when hybrid or dense must fall back to BM25 the
    /// note says so on standard error.
    func retriever(store: PassageStore, mode: SearchMode) throws -> Retriever {
        let retriever = try Pipeline.retriever(store: store, mode: mode, embedderFolder: embedder, threads: embedThreads)
        if let note = try retriever.resolvedMode().note { writeNote(note) }
        return retriever
    }

    /// The embedder when the folder is there, else nil (hybrid search then falls back to BM25 with a note).
    func openIfPresent() throws -> SentenceEmbedder? {
        FileManager.default.fileExists(atPath: embedder + "/model.safetensors") ? try open() : nil
    }
}

extension SearchMode: ExpressibleByArgument {}
extension FusionMethod: ExpressibleByArgument {}

/// Writes a note on standard error.
func writeNote(_ text: String) {
    FileHandle.standardError.write(Data("note: \(text)\n".utf8))
}

/// How hybrid search fuses the BM25 and the dense ranking.
struct FusionOptions: ParsableArguments {
    @Option(help: "Hybrid: k of reciprocal-rank fusion (a passage at rank r adds weight/(k+r)).")
    var fusionK: Double = Retriever.defaultFusionConstant

    @Option(help: "Hybrid: weight of the BM25 ranking (the dense ranking has weight 1).")
    var lexicalWeight: Double = Retriever.defaultLexicalWeight

    @Option(help: "Hybrid: passages each ranking contributes to the fusion.")
    var candidates: Int = Retriever.defaultCandidates

    @Option(help: "Hybrid: rrf (reciprocal-rank fusion) or scores (lexical weight x BM25 / best BM25 + cosine).")
    var fusion: FusionMethod = Retriever.defaultFusion

    func validate() throws {
        if !fusionK.isFinite || fusionK < 0 { throw ValidationError("--fusion-k must be 0 or more.") }
        if !lexicalWeight.isFinite || lexicalWeight < 0 { throw ValidationError("--lexical-weight must be 0 or more.") }
        try NumericFlags.check("--candidates", candidates, in: 1...10_000)
    }

    func apply(to retriever: Retriever) -> Retriever {
        var copy = retriever
        copy.fusionConstant = fusionK
        copy.lexicalWeight = lexicalWeight
        copy.candidates = candidates
        copy.fusion = fusion
        return copy
    }
}
