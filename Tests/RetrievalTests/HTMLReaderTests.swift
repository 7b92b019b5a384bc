import Foundation
import Testing
@testable import Retrieval

struct HTMLReaderTests {
    func read(_ bytes: [UInt8], source: String = "/tmp/page.html") throws -> ExtractedDocument {
        let documents = try HTMLReader().documents(in: Data(bytes), source: source)
        #expect(documents.count == 1)
        return try #require(documents.first)
    }

    func read(_ html: String) throws -> ExtractedDocument { try read(Array(html.utf8)) }

    @Test func brokenMarkupEntitiesAndBoilerplate() throws {
        let html = """
            <html><head><title>Broken &amp; Fixed</title>
            <script>var trap = "<p>script text</p>";</script><style>p { color: red }</style></head>
            <body><nav><a href="/">Home</a> | <a href="/about">About us</a></nav>
            <div role="navigation">Skip menu</div><span aria-hidden="true">icon-glyph</span>
            <div><p>First <b>bold <i>nested</p> para &eacute;t&eacute; &#8364;5&nbsp;each &lt;tag&gt;
            <p>Second paragraph never closed
            <ul><li>one<li>two</ul>
            <footer>Copyright notice</footer>
            <noscript>Enable JavaScript</noscript>
            <p>Unclosed <a href="x">link text
            """
        let document = try read(html)
        #expect(document.title == "Broken & Fixed")
        // "</p>" closes the paragraph, so " para" starts a new block, as in browsers.
        for kept in ["First bold nested\n\npara été €5 each <tag>", "Second paragraph never closed", "one\ntwo", "link text"] {
            #expect(document.text.contains(kept), "missing \(kept.debugDescription) in \(document.text.debugDescription)")
        }
        for dropped in ["script text", "color", "Home", "About us", "Skip menu", "icon-glyph", "Copyright", "JavaScript", "Broken"] {
            #expect(!document.text.contains(dropped), "kept \(dropped) in \(document.text.debugDescription)")
        }
        #expect(document.text.contains("each <tag>\n\nSecond paragraph"))
        #expect(!document.text.hasPrefix("\n") && !document.text.hasSuffix("\n"))
    }

    @Test func boilerplateClassesAndIdsAreDropped() throws {
        let document = try read("""
            <body><div class="sphinxsidebar">Quick search</div>
            <h1>Topic<a class="headerlink" href="#t">¶</a></h1>
            <div class="content main">Kept body text.</div>
            <div id="footer">© Somebody</div><div class="page Footer">Also footer</div>
            <ul class="breadcrumbs"><li>Home</li></ul></body>
            """)
        #expect(document.text == "Topic\n\nKept body text.")
    }

    @Test func preformattedTextKeepsLinesAndIndentation() throws {
        let document = try read("<p>Example:</p><pre>def f(x):\n    return  x + 1\n\nprint(f(2))</pre><p>After   the   code.</p>")
        #expect(document.text == "Example:\n\ndef f(x):\n    return  x + 1\n\nprint(f(2))\n\nAfter the code.")
    }

    @Test func undeclaredWindows1252() throws {
        // "Café crème “quoted” €" in Windows-1252, no charset declared: not valid UTF-8.
        let body: [UInt8] = [67, 97, 102, 233, 32, 99, 114, 232, 109, 101, 32, 147, 113, 117, 111, 116, 101, 100, 148, 32, 128]
        let document = try read(Array("<p>".utf8) + body + Array("</p>".utf8))
        #expect(document.text == "Café crème “quoted” €")
    }

    @Test func declaredLatin1IsReadAsWindows1252() throws {
        let head = Array("<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=ISO-8859-1\"></head><body>".utf8)
        let document = try read(head + [80, 114, 105, 120, 32, 128, 32, 233, 116, 233] + Array("</body></html>".utf8))
        #expect(document.text == "Prix € été")
    }

    @Test func declaredKOI8R() throws {
        let head = Array("<html><head><meta charset=\"koi8-r\"><title>t</title></head><body><p>".utf8)
        let document = try read(head + [240, 210, 201, 215, 197, 212, 32, 205, 201, 210] + Array("</p></body></html>".utf8))
        #expect(document.text == "Привет мир")
    }

    @Test func declaredShiftJIS() throws {
        let head = Array("<meta http-equiv=Content-Type content='text/html;charset=Shift_JIS'><h1>".utf8)
        let document = try read(head + [147, 140, 139, 158, 131, 94, 131, 143, 129, 91] + Array("</h1>".utf8))
        #expect(document.text == "東京タワー")
        #expect(document.title == "東京タワー")  // no <title>: the first <h1>
    }

    @Test func utf16WithByteOrderMark() throws {
        let html = "<html><body><p>Grüße aus Köln</p></body></html>"
        let bytes: [UInt8] = [0xFF, 0xFE] + html.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        #expect(try read(bytes).text == "Grüße aus Köln")
    }

    @Test func unknownDeclaredCharsetFallsBackToDetection() throws {
        let document = try read("<meta charset=\"x-no-such-charset\"><p>still readable</p>")
        #expect(document.text == "still readable")
    }

    @Test func emptyAndTitleFallback() throws {
        let empty = try read([], source: "/docs/empty-page.html")
        #expect(empty.text == "")
        #expect(empty.title == "empty-page")
    }

    @Test func deeplyNestedMarkupDoesNotOverflow() throws {
        let html = String(repeating: "<div><span>", count: 5_000) + "deep text" + String(repeating: "</span></div>", count: 5_000)
        #expect(try read(html).text.contains("deep text"))
    }
}
