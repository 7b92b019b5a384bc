import Foundation
import Testing
@testable import Retrieval

struct MarkdownReaderTests {
    func read(_ markdown: String, source: String = "/notes/guide.md") throws -> ExtractedDocument {
        try #require(try MarkdownReader().documents(in: Data(markdown.utf8), source: source).first)
    }

    @Test func headingsLinksEmphasisListsAndCode() throws {
        let document = try read("""
            # Getting **Started**

            Read the [install guide](https://example.org/install) and see ![the diagram](d.png).
            Use `dera index` with *care* and __attention__; snake_case_names stay.

            - first item
            - second item
            1. numbered step
            > quoted line

            ```swift
            let x = 1 // code kept
            ```

            | a | b |
            |---|---|
            | 1 | 2 |
            """)
        #expect(document.title == "Getting Started")
        let text = document.text
        #expect(text.hasPrefix("Getting Started\n\nRead the install guide and see the diagram."))
        #expect(text.contains("Use dera index with care and attention; snake_case_names stay."))
        #expect(text.contains("first item\nsecond item\nnumbered step\nquoted line"))
        #expect(text.contains("let x = 1 // code kept"))
        #expect(text.contains("a b"))
        #expect(!text.contains("```") && !text.contains("](") && !text.contains("|") && !text.contains("**"))
    }

    @Test func frontMatterTitleWinsAndIsDropped() throws {
        let document = try read("---\ntitle: \"Front Title\"\ntags: [a]\n---\nSetext Heading\n===\n\nBody.")
        #expect(document.title == "Front Title")
        #expect(document.text == "Setext Heading\n\nBody.")
    }

    @Test func fileNameWhenNoHeading() throws {
        #expect(try read("just words").title == "guide")
    }
}
