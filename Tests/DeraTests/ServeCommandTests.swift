import ArgumentParser
import Foundation
import Testing
@testable import dera

/// `dera serve`'s flags: every bad value is an argument error naming the flag, before any model is opened.
struct ServeCommandTests {
    @Test(arguments: [
        (["--port", "70000"], "--port"),
        (["--queue", "-1"], "--queue"),
        (["--max-batch", "0"], "--max-batch"),
        (["--max-tokens-limit", "0"], "--max-tokens-limit"),
        (["--max-tokens-limit", "64", "--default-max-tokens", "128"], "--default-max-tokens"),
        (["--log-format", "xml"], "--log-format"),
        (["--log-level", "loud"], "--log-level"),
        (["--lambdas", "0,1"], "--lambdas"),
        (["--lambda", "auto", "--no-check"], "--no-check"),
    ])
    func badFlagsAreArgumentErrors(arguments: [String], flag: String) {
        #expect {
            _ = try Serve.parse(arguments)
        } throws: { error in
            Serve.exitCode(for: error) == .validationFailure && Serve.message(for: error).contains(flag)
        }
    }

    @Test func defaultsParse() throws {
        let command = try Serve.parse([])
        #expect(command.host == "127.0.0.1")
        #expect(command.queue == 64 && command.maxBatch == 16)
    }

    @Test func aMissingStoreIsACommandError() async throws {
        let command = try Serve.parse(["--db", "/nonexistent/dera-store.sqlite", "--port", "0"])
        await #expect {
            try await command.run()
        } throws: { error in
            "\(error)".contains("no passage store at /nonexistent/dera-store.sqlite")
        }
    }
}
