import ArgumentParser
import Foundation
import Retrieval

/// `dera search "question" --db FILE -k 5 [--json]`: BM25 top-k passages for any text.
struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Find the passages that best match a question (BM25, sentence vectors, or both fused).",
        discussion: """
            Any text is accepted: quotes, operators, parentheses and emoji are treated as plain words. \
            A long query can come from standard input (-) or a file (@FILE). The store is opened \
            read-only and never modified. --mode hybrid (the default) fuses BM25 and sentence-vector rankings \
            by reciprocal rank; on a store without vectors it searches with BM25 and says so.
            """)

    @Argument(help: "The question or keywords; - reads standard input, @FILE a file's text.")
    var query: [String]

    @Option(help: "The SQLite passage store made by `dera index`.")
    var db: String

    @Option(name: .customShort("k"), help: "How many passages to return.")
    var limit: Int = 5

    @Option(help: "Only documents whose metadata has KEY=VALUE (repeatable; all must hold).")
    var filter: [String] = []

    @Option(help: "BM25 weight of the title relative to the text.")
    var titleWeight: Double = 2

    @Option(help: "Drop query words matching more than this fraction of passages (keeping the two rarest); faster, slightly lower recall.")
    var commonClauseCutoff: Double?

    @Option(help: "bm25 (words), dense (sentence vectors) or hybrid (both, fused by reciprocal rank).")
    var mode: SearchMode = .hybrid

    @OptionGroup var embedding: EmbedderOptions

    @OptionGroup var fusion: FusionOptions

    @Flag(help: "Print the hits as JSON on standard output.")
    var json = false

    func validate() throws {
        try NumericFlags.check("-k", limit, in: 1...NumericFlags.maximumPassages)
        for item in filter where MetadataFilter(parsing: item) == nil {
            throw ValidationError("--filter \(item): expected KEY=VALUE.")
        }
        if !titleWeight.isFinite || titleWeight < 0 { throw ValidationError("--title-weight must be 0 or more.") }
        if let commonClauseCutoff { try NumericFlags.check("--common-clause-cutoff", commonClauseCutoff, in: 0...1) }
    }

    func run() throws {
        var reader = TextArgumentReader()
        let text = try query.map { try reader.text(of: $0, argument: "QUERY") }.joined(separator: " ")
        let store = try PassageStore(readOnlyPath: db)
        let options = SearchOptions(limit: limit, titleWeight: titleWeight,
                                    filters: filter.compactMap(MetadataFilter.init(parsing:)),
                                    commonClauseCutoff: commonClauseCutoff)
        let builder = QueryBuilder()
        let built = builder.query(for: text)
        if built.droppedWords > 0 {
            FileHandle.standardError.write(Data("""
                note: the query has \(built.droppedWords) more distinct words than the \(builder.maximumClauses) \
                searched for; they were ignored\n
                """.utf8))
        }
        let hits: [SearchHit]
        if mode == .bm25 {
            hits = try store.search(built, options: options)
        } else {
            let hasVectors = try store.vectorModel() != nil
            let embedder = hasVectors ? try (mode == .dense ? embedding.open() : embedding.openIfPresent()) : nil
            let retriever = fusion.apply(to: Retriever(store: store, mode: mode, embedder: embedder, builder: builder))
            let (resolved, note) = try retriever.resolvedMode()
            if let note { writeNote(note) }
            hits = resolved == .bm25 ? try store.search(built, options: options) : try retriever.search(text, options: options)
        }
        if json {
            print(try JSONOutput.encode(hits))
        } else if hits.isEmpty {
            print("no passages found")
        } else {
            print(SearchCommand.render(hits))
        }
    }

    /// The hits as text lines; everything that came from a document is escaped for the terminal.
    static func render(_ hits: [SearchHit]) -> String {
        var lines: [String] = []
        for (rank, hit) in hits.enumerated() {
            let title = hit.title.isEmpty ? "(untitled)" : TerminalText.escaped(hit.title)
            lines.append("\(rank + 1). \(title)  (score \(String(format: "%.3f", hit.score)))")
            lines.append("   \(TerminalText.escaped(hit.source))")
            lines.append("   \(TerminalText.escaped(hit.snippet))")
        }
        return lines.joined(separator: "\n")
    }
}
