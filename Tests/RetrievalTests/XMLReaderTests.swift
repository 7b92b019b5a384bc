import Foundation
import Testing
@testable import Retrieval

struct XMLReaderTests {
    func read(_ bytes: [UInt8]) throws -> ExtractedDocument {
        try #require(try XMLReader().documents(in: Data(bytes), source: "/tmp/file.xml").first)
    }

    func read(_ xml: String) throws -> ExtractedDocument { try read(Array(xml.utf8)) }

    @Test func textCDATAEntitiesAndTitle() throws {
        let document = try read("""
            <?xml version="1.0" encoding="UTF-8"?>
            <book xmlns:dc="http://purl.org/dc/elements/1.1/">
              <dc:title>Rivers &amp; Lakes</dc:title>
              <chapter><para>The Danube flows &#8594; east.</para><para><![CDATA[Raw <text> & more]]></para></chapter>
              <!-- a comment that must not appear -->
            </book>
            """)
        #expect(document.title == "Rivers & Lakes")
        #expect(document.text.contains("The Danube flows → east."))
        #expect(document.text.contains("Raw <text> & more"))
        #expect(!document.text.contains("comment"))
    }

    @Test func htmlBoilerplateAttributesMeanNothingInXML() throws {
        let document = try read(#"<r><entry role="navigation" class="footer">kept entry</entry></r>"#)
        #expect(document.text == "kept entry")
    }

    @Test func declaredLatin1() throws {
        let prefix = Array("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r>".utf8)
        let document = try read(prefix + [100, 233, 106, 224, 32, 118, 117] + Array("</r>".utf8))
        #expect(document.text == "déjà vu")
    }

    @Test func undeclaredNonUTF8FallsBackToWindows1252() throws {
        let document = try read(Array("<r>".utf8) + [147, 104, 105, 148] + Array("</r>".utf8))
        #expect(document.text == "“hi”")
    }

    @Test func externalEntitiesAreNeverLoaded() throws {
        let folder = try Fixtures.temporaryFolder()
        let secret = try Fixtures.write("TOPSECRET", to: folder, "secret.txt")
        let document = try read("""
            <?xml version="1.0"?>
            <!DOCTYPE r [<!ENTITY leak SYSTEM "\(secret.absoluteString)">
              <!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>
            <r>before &leak; &c; after</r>
            """)
        #expect(!document.text.contains("TOPSECRET"))
        #expect(document.text.count < 100)
        #expect(document.text.contains("before"))
        #expect(document.text.contains("after"))
    }

    @Test func brokenXMLIsRecovered() throws {
        let document = try read("<a><b>kept text</a><c>")
        #expect(document.text.contains("kept text"))
    }

    /// A 12 MB text node (a huge document) is read whole, and what follows it too.
    @Test func hugeTextNode() throws {
        let body = String(repeating: "river delta ", count: 1_000_000)  // 12 MB
        let document = try read("<r><t>" + body + "</t><end>tail marker</end></r>")
        #expect(document.text.utf8.count > 11_000_000)
        #expect(document.text.hasSuffix("tail marker"))
    }

    @Test func notXMLAtAllIsAnErrorNamingTheFile() throws {
        #expect {
            try XMLReader().documents(in: Data("this is not xml".utf8), source: "/tmp/notes.xml")
        } throws: { error in
            (error as? DocumentReadError)?.file == "/tmp/notes.xml"
        }
    }
}
