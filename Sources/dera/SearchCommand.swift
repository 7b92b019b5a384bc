import ArgumentParser
import Foundation
import Retrieval

/// `dera search "question" --db FILE -k 5 [--json]`: BM25 top-k passages for any text.
struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Find the passages that best match a question (BM25 over title and text).",
        discussion: "Any text is accepted: quotes, operators, parentheses and emoji are treated as plain words.")

    @Argument(help: "The question or keywords.")
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
        let store = try PassageStore(path: db, createIfMissing: false)
        let options = SearchOptions(limit: limit, titleWeight: titleWeight,
                                    filters: filter.compactMap(MetadataFilter.init(parsing:)),
                                    commonClauseCutoff: commonClauseCutoff)
        let hits = try store.search(query.joined(separator: " "), options: options)
        if json {
            print(try JSONOutput.encode(hits))
        } else if hits.isEmpty {
            print("no passages found")
        } else {
            for (rank, hit) in hits.enumerated() {
                print(String(format: "%d. %@  (score %.3f)", rank + 1, hit.title.isEmpty ? "(untitled)" : hit.title, hit.score))
                print("   \(hit.source)")
                print("   \(hit.snippet)")
            }
        }
    }
}
