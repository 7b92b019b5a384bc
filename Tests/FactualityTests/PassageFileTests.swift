import Testing
@testable import Factuality

struct PassageFileTests {
    @Test func plainTextBlocks() throws {
        let passages = try PassageFile.parse("First passage,\nstill the first.\n\n\n  \nSecond one.\n", path: "p.txt")
        #expect(passages == [Passage(id: "1", text: "First passage,\nstill the first."), Passage(id: "2", text: "Second one.")])
    }

    @Test func jsonLinesWithIDs() throws {
        let text = #"{"id": "a", "text": "Alpha."}"# + "\n\n" + #"{"id": 7, "text": "Beta."}"# + "\n" + #"{"text": "Gamma."}"#
        #expect(try PassageFile.parse(text, path: "p.jsonl")
            == [Passage(id: "a", text: "Alpha."), Passage(id: "7", text: "Beta."), Passage(id: "3", text: "Gamma.")])
    }

    @Test func errorsNameTheFileAndLine() {
        #expect(throws: PassageFileError(path: "p.jsonl", line: 2, reason: "no string field 'text'")) {
            try PassageFile.parse(#"{"text": "ok"}"# + "\n" + #"{"body": "no"}"#, path: "p.jsonl")
        }
        #expect(throws: PassageFileError(path: "p.jsonl", line: 3, reason: "not a JSON object")) {
            try PassageFile.parse(#"{"text": "ok"}"# + "\n\n{broken", path: "p.jsonl")
        }
        #expect(throws: PassageFileError(path: "empty.txt", line: nil, reason: "no passages in the file")) {
            try PassageFile.parse("\n \n", path: "empty.txt")
        }
        #expect(throws: PassageFileError(path: "/nonexistent/p.txt", line: nil, reason: "cannot read the file")) {
            try PassageFile.load("/nonexistent/p.txt")
        }
    }

    @Test func rowRanges() {
        #expect(RowRange(parsing: "0..1999")?.rows == 0..<2000)
        #expect(RowRange(parsing: "8000..<10000")?.rows == 8000..<10000)
        #expect(RowRange(parsing: "5..4") == nil)
        #expect(RowRange(parsing: "a..b") == nil)
        #expect(RowRange(parsing: "-1..3") == nil)
    }
}
