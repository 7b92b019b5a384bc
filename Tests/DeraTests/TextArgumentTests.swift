import Foundation
import Testing
@testable import dera

struct TextArgumentTests {
    func temporaryFile(_ bytes: [UInt8]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dera-text-\(UUID().uuidString)").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// A pipe holding `bytes`, closed for writing, as standard input would be.
    func pipe(_ bytes: [UInt8]) -> Int32 {
        var descriptors: [Int32] = [0, 0]
        precondition(Foundation.pipe(&descriptors) == 0)
        bytes.withUnsafeBytes { _ = write(descriptors[1], $0.baseAddress, $0.count) }
        close(descriptors[1])
        return descriptors[0]
    }

    @Test func inlineTextAndTheDoubleAtEscape() throws {
        var reader = TextArgumentReader()
        #expect(try reader.text(of: "plain question?", argument: "QUERY") == "plain question?")
        #expect(try reader.text(of: "@@handle", argument: "QUERY") == "@handle")
        #expect(try reader.text(of: "@", argument: "QUERY") == "@")
    }

    @Test func fileContentsWithOneFinalLineBreakDropped() throws {
        let path = try temporaryFile(Array("Who wrote Hamlet?\n\n".utf8))
        var reader = TextArgumentReader()
        #expect(try reader.text(of: "@" + path, argument: "--answer") == "Who wrote Hamlet?\n")
        let long = String(repeating: "word ", count: 40_000)  // 200 KB: more than one argv argument may hold
        let longPath = try temporaryFile(Array(long.utf8))
        #expect(try reader.text(of: "@" + longPath, argument: "--answer") == long)
    }

    @Test func errorsNameTheArgumentAndTheFile() throws {
        var reader = TextArgumentReader(maximumBytes: 64)
        #expect {
            try reader.text(of: "@/nonexistent/q.txt", argument: "--answer")
        } throws: { error in
            "\(error)" == "--answer: cannot open /nonexistent/q.txt: No such file or directory"
        }
        let latin1 = try temporaryFile([0x63, 0x61, 0x66, 0xE9, 0x0A])  // "café" in Latin-1
        #expect {
            try reader.text(of: "@" + latin1, argument: "QUERY")
        } throws: { error in
            "\(error)" == "QUERY: \(latin1) is not UTF-8 (invalid byte at offset 3)"
        }
        let big = try temporaryFile([UInt8](repeating: 0x61, count: 65))
        #expect {
            try reader.text(of: "@" + big, argument: "QUERY")
        } throws: { error in
            "\(error)" == "QUERY: \(big) is larger than the limit of 64 bytes"
        }
        #expect {
            try reader.text(of: "@" + FileManager.default.temporaryDirectory.path, argument: "QUERY")
        } throws: { error in
            "\(error)".hasPrefix("QUERY: cannot read \(FileManager.default.temporaryDirectory.path): ")
        }
    }

    @Test func standardInputIsReadOnce() throws {
        let input = pipe(Array("a question from a pipe\r\n".utf8))
        defer { close(input) }
        var reader = TextArgumentReader(standardInput: input)
        #expect(try reader.text(of: "-", argument: "QUERY") == "a question from a pipe")
        #expect {
            try reader.text(of: "-", argument: "--answer")
        } throws: { error in
            "\(error)" == "--answer: standard input (-) was already read by another argument"
        }
    }

    @Test func tooManyArgumentsAreRefusedBeforeParsing() {
        let program = ["dera", "search"]
        #expect(ArgumentCount.problem(program + Array(repeating: "w", count: ArgumentCount.maximum - 1)) == nil)
        let problem = ArgumentCount.problem(program + Array(repeating: "w", count: 20_000))
        #expect(problem?.contains("20001 arguments is more than the 1024") == true)
        #expect(problem?.contains("@FILE") == true)
    }
}
