import ArgumentParser

@main
struct Dera: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dera",
        abstract: "Retrieval-augmented generation kept honest by decoding-time realignment (DeRa).",
        subcommands: [Ask.self, Tune.self, Check.self, Generate.self, Tokenize.self, IndexCommand.self, SearchCommand.self, Eval.self,
                      Bench.self])
}
