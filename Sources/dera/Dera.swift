import ArgumentParser
import Foundation

@main
struct Dera: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dera",
        abstract: "Retrieval-augmented generation kept honest by decoding-time realignment (DeRa).",
        subcommands: [Ask.self, Summarize.self, Tune.self, Check.self, Serve.self, Generate.self, Tokenize.self, IndexCommand.self, SearchCommand.self, Eval.self,
                      Bench.self])

    /// ArgumentParser's own entry point, behind a bound on the number of arguments.
    static func main() async {
        if let problem = ArgumentCount.problem(CommandLine.arguments) {
            FileHandle.standardError.write(Data((problem + "\n").utf8))
            Foundation.exit(64)
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
