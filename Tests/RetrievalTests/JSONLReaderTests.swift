import Foundation
import Testing
@testable import Retrieval

struct JSONLReaderTests {
    @Test func textTitleIdAndMetadata() throws {
        let jsonl = """
            {"id": "a1", "title": "Alpha", "body": "First text.", "year": 1999, "score": 0.5, "ok": true, "tags": ["x","y"], "none": null}

            {"id": "a2", "body": "Second text."}\r
            {"body": "No id here."}
            """
        let reader = JSONLReader(textField: "body", idField: "id")
        let documents = try reader.documents(in: Data(jsonl.utf8), source: "/data/rows.jsonl")
        #expect(documents.map(\.source) == ["/data/rows.jsonl#a1", "/data/rows.jsonl#a2", "/data/rows.jsonl#L4"])
        #expect(documents.map(\.text) == ["First text.", "Second text.", "No id here."])
        #expect(documents[0].title == "Alpha")
        #expect(documents[1].title == "")
        #expect(documents[0].metadata == ["id": "a1", "year": "1999", "score": "0.5", "ok": "true",
                                          "tags": #"["x","y"]"#, "none": ""])
    }

    @Test func theTitleCanBeTheId() throws {
        // As scripts/run indexes the Wikipedia extracts: --jsonl-title-field title --jsonl-id-field title.
        let jsonl = "{\"title\": \"Eiffel Tower\", \"extract\": \"A tower.\"}\n{\"extract\": \"No title.\"}\n"
        let documents = try JSONLReader(textField: "extract", titleField: "title", idField: "title")
            .documents(in: Data(jsonl.utf8), source: "w.jsonl")
        #expect(documents.map(\.source) == ["w.jsonl#Eiffel Tower", "w.jsonl#L2"])
        #expect(documents.map(\.title) == ["Eiffel Tower", ""])
    }

    @Test func duplicateIdsStayDistinct() throws {
        let jsonl = "{\"id\": 1, \"text\": \"a\"}\n{\"id\": 1, \"text\": \"b\"}\n"
        let documents = try JSONLReader(idField: "id").documents(in: Data(jsonl.utf8), source: "f.jsonl")
        #expect(documents.map(\.source) == ["f.jsonl#1", "f.jsonl#1@L2"])
    }

    @Test(arguments: [
        ("{\"text\": \"ok\"}\n{\"text\": \"unterminated}\n", 2, nil as String?, "not valid JSON"),
        ("[1, 2]\n", 1, nil, "expected a JSON object"),
        ("{\"text\": \"ok\"}\n\n{\"body\": \"x\", \"id\": 3}\n", 3, "text", "missing text field (fields present: body, id)"),
        ("{\"text\": 42}\n", 1, "text", "text field is not a string"),
    ])
    func errorsNameLineAndField(jsonl: String, line: Int, field: String?, reason: String) throws {
        #expect {
            try JSONLReader().documents(in: Data(jsonl.utf8), source: "/data/bad.jsonl")
        } throws: { error in
            guard let error = error as? DocumentReadError else { return false }
            return error.file == "/data/bad.jsonl" && error.line == line && error.field == field
                && error.reason.hasPrefix(reason)
        }
    }

    @Test func errorDescriptionReadsWell() {
        let error = DocumentReadError(file: "/d/x.jsonl", line: 7, field: "text", reason: "missing text field")
        #expect(error.description == "/d/x.jsonl:7 (field \"text\"): missing text field")
    }
}
