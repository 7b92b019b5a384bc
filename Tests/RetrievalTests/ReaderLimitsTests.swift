import Foundation
import Testing
@testable import Retrieval

/// Every reader is linear in its input, and hostile inputs fail fast with an error naming the file.
///
/// Growth is checked by timing one input at 25, 50 and 100 KB (thread CPU time, the least of a few
/// runs each) and comparing the times: linear work grows 4x from the first to the last, quadratic work 16x, and the
/// test allows up to 8x. Before the readers were fixed, nested Markdown links took 13 s at 25 KB and
/// 59 s at 50 KB in a debug build, so the test failed at the second size.
struct ReaderGrowthTests {
    static let sizes = [25_000, 50_000, 100_000]

    /// CPU seconds of the calling thread for `work`, the least of up to five runs (fewer when a run
    /// is slow already). Thread CPU time, unlike wall time, does not count the time other tests and
    /// other processes hold the cores, which on a shared machine is most of the noise.
    static func seconds(_ work: () throws -> Void) rethrows -> Double {
        func now() -> Double {
            var time = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
            return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
        }
        var best = Double.infinity
        for _ in 0..<5 {
            let started = now()
            try work()
            best = min(best, now() - started)
            if best > 1 { break }
        }
        return best
    }

    /// Times `read` on `make(size)` for each size and checks that the time grows about linearly.
    static func expectLinear(_ name: String, sizes: [Int] = sizes, make: (Int) -> Data,
                             read: (Data) throws -> Void) throws {
        var times: [Double] = []
        for size in sizes {
            let input = make(size)
            times.append(try seconds { try read(input) })
            // Quadratic growth shows at the first doubling; stop there instead of waiting minutes.
            if times.count == 2, times[1] > 0.5, times[1] / times[0] > 3.5 { break }
        }
        let growth = times[times.count - 1] / max(times[0], 1e-6)
        let allowed = times.count == sizes.count ? 8.0 : 3.5
        let report = zip(sizes, times).map { "\($0 / 1000) KB: \(String(format: "%.4f", $1)) s" }.joined(separator: ", ")
        #expect(times.count == sizes.count && growth < allowed, "\(name) grows superlinearly: \(report)")
    }

    static func markdown(_ data: Data) throws {
        for document in try MarkdownReader().documents(in: data, source: "/tmp/growth.md") {
            _ = Chunker().passages(of: document.text)
        }
    }

    @Test func nestedMarkdownLinksAreLinear() throws {
        try ReaderGrowthTests.expectLinear("nested links [[[x](u)](u)](u)", make: { size in
            let depth = size / 5
            return Data((String(repeating: "[", count: depth) + "x" + String(repeating: "](u)", count: depth)).utf8)
        }, read: ReaderGrowthTests.markdown)
    }

    @Test func unclosedMarkdownBracketsAreLinear() throws {
        try ReaderGrowthTests.expectLinear("unclosed [[[[", make: { Data(String(repeating: "[", count: $0).utf8) },
                                           read: ReaderGrowthTests.markdown)
    }

    @Test func htmlWithStrayEndTagsUnderDeepNestingIsLinear() throws {
        // Each stray end tag makes libxml2 search every open element; the parse is stopped once
        // such tags cost more than 16 looks per byte, so the time stays linear.
        try ReaderGrowthTests.expectLinear("deep <div> with stray </span>", sizes: [250_000, 500_000, 1_000_000], make: { size in
            let depth = size / 60
            let html = String(repeating: "<div>", count: depth) + "text" + String(repeating: "</span>", count: (size - 5 * depth) / 7)
            return Data(html.utf8)
        }, read: { data in
            do { _ = try HTMLReader().documents(in: data, source: "/tmp/growth.html") } catch is DocumentReadError {}
        })
    }

    @Test func unterminatedXMLCommentsAreLinear() throws {
        // libxml2 reports each `--` of an unclosed comment with a copy of the comment so far: 512 KB took 23 s
        // (found by scripts/fuzz). Priced at the bytes read, the parse stops and the time stays linear.
        for prefix in ["<r>", "<book "] {
            try ReaderGrowthTests.expectLinear("\(prefix) then <!-- repeated", sizes: [64_000, 128_000, 256_000], make: { size in
                Data((prefix + String(repeating: "<!--", count: size / 4)).utf8)
            }, read: { data in
                do { _ = try XMLReader().documents(in: data, source: "/tmp/growth.xml") } catch is DocumentReadError {}
            })
        }
        // The refusal names the cause; one unclosed comment in an ordinary file is still read.
        let many = Data(("<r>" + String(repeating: "<!--", count: 100_000)).utf8)
        #expect { try XMLReader().documents(in: many, source: "/tmp/c.xml") } throws: { error in
            "\(error)".contains("inside a comment") && "\(error)".contains("/tmp/c.xml")
        }
        let dashes = Data("<r><!-- a -- b -- c --><p>Also kept.</p></r>".utf8)
        #expect(try XMLReader().documents(in: dashes, source: "/tmp/d.xml").first?.text.contains("Also kept.") == true)
        let one = Data("<r><p>Kept text.</p><!-- never closed".utf8)
        #expect(try XMLReader().documents(in: one, source: "/tmp/one.xml").first?.text.contains("Kept text.") == true)
    }

    @Test func manyAttributesAcrossElementsAreLinear() throws {
        // 200 attributes per element (under the limit of 256), as many elements as fit (in larger
        // files than the other cases: each element is 1.4 KB).
        let element = "<e " + (0..<200).map { "a\($0)=\"v\"" }.joined(separator: " ") + ">x</e>"
        for reader in [HTMLReader() as any DocumentReader, XMLReader()] {
            try ReaderGrowthTests.expectLinear("attributes via \(type(of: reader))", sizes: [250_000, 500_000, 1_000_000], make: { size in
                Data(("<r>" + String(repeating: element, count: max(1, size / element.utf8.count)) + "</r>").utf8)
            }, read: { _ = try reader.documents(in: $0, source: "/tmp/growth.xml") })
        }
    }

    @Test func jsonlTextAndTokenChunkingAreLinear() throws {
        try ReaderGrowthTests.expectLinear("JSONL rows", make: { size in
            let row = #"{"text": "Short row about lakes. Another sentence.", "title": "t", "n": [1, {"k": 2}]}"# + "\n"
            return Data(String(repeating: row, count: size / row.utf8.count).utf8)
        }, read: { _ = try JSONLReader().documents(in: $0, source: "/tmp/growth.jsonl") })
        // One passage of up to a million tokens: every sentence is added to the same passage, so
        // a size computed by summing its sentences again each time is quadratic.
        let chunker = Chunker(target: .tokens(1_000_000))
        try ReaderGrowthTests.expectLinear("token chunking", make: { size in
            Data(String(repeating: "Word ends here. ", count: size / 16).utf8)
        }, read: { data in
            for document in try PlainTextReader().documents(in: data, source: "/tmp/growth.txt") {
                _ = chunker.passages(of: document.text)
            }
        })
    }
}

struct ReaderLimitsTests {
    static func elapsed(_ work: () throws -> Void) rethrows -> Double {
        try ReaderGrowthTests.seconds(work)
    }

    @Test func hundredKilobytesOfNestedLinksReadQuickly() throws {
        // Took 91 s and 16.7 GB in `dera index` (release build) before the fix.
        let depth = 20_000
        let markdown = String(repeating: "[", count: depth) + "deep" + String(repeating: "](u)", count: depth)
        var text = ""
        let seconds = try ReaderLimitsTests.elapsed {
            text = try #require(try MarkdownReader().documents(in: Data(markdown.utf8), source: "/tmp/links.md").first).text
        }
        #expect(text == "deep")
        #expect(seconds < 10, "100 KB of nested links took \(seconds) s")
    }

    @Test func markdownInlineMatchesTheRecursiveDefinition() {
        // The linear inline reader must give what the old recursive one gave, on random lines.
        var generator = SplitMix64(seed: 7)
        let alphabet = Array("[]()!*_` ab")
        for _ in 0..<3_000 {
            let length = Int(generator.next() % 24)
            let line = String((0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
            #expect(MarkdownReader.inline(line) == RecursiveInline.inline(line), "line \(line.debugDescription)")
        }
    }

    @Test func xmlElementWith200kAttributesIsRefusedQuickly() throws {
        // 2.3 MB; libxml2 compares every attribute with all before it (46 s before the fix).
        let xml = "<r " + (0..<200_000).map { "a\($0)=\"v\"" }.joined(separator: " ") + "/>"
        #expect(xml.utf8.count > 2_000_000)
        var failure: DocumentReadError?
        let seconds = ReaderLimitsTests.elapsed {
            do { _ = try XMLReader().documents(in: Data(xml.utf8), source: "/tmp/attributes.xml") }
            catch { failure = error as? DocumentReadError }
        }
        #expect(failure?.file == "/tmp/attributes.xml")
        #expect(failure?.reason.contains("more than 256 attributes") == true, "\(String(describing: failure))")
        #expect(seconds < 5, "took \(seconds) s")
    }

    @Test func attributeLimitAppliesToHTMLAndCountsValuelessAttributes() throws {
        func html(_ count: Int) -> Data {
            Data(("<p " + (0..<count).map { "flag\($0)" }.joined(separator: " ") + ">text</p>").utf8)
        }
        #expect(try HTMLReader().documents(in: html(256), source: "/tmp/a.html").first?.text == "text")
        #expect { try HTMLReader().documents(in: html(257), source: "/tmp/a.html") } throws: { error in
            (error as? DocumentReadError)?.reason.contains("byte offset 0 has more than 256 attributes") == true
        }
        // Attribute-like text inside script, comments and quoted values is not counted.
        let quiet = "<p title=\"" + String(repeating: "a=1 ", count: 500) + "\">kept</p><!-- "
            + String(repeating: "<x a=1 b=2>", count: 300) + " --><script>" + String(repeating: "if (a<b c d) ", count: 300)
            + "</script>"
        #expect(try HTMLReader().documents(in: Data(quiet.utf8), source: "/tmp/q.html").first?.text == "kept")
    }

    @Test func strayEndTagsUnderDeepNestingAreRefusedQuickly() throws {
        // 20,000 open elements and 300,000 end tags that close none of them: libxml2 would search
        // the whole stack 300,000 times.
        let html = String(repeating: "<div>", count: 20_000) + String(repeating: "</span>", count: 300_000)
        var failure: DocumentReadError?
        let seconds = ReaderLimitsTests.elapsed {
            do { _ = try HTMLReader().documents(in: Data(html.utf8), source: "/tmp/stray.html") }
            catch { failure = error as? DocumentReadError }
        }
        #expect(failure?.file == "/tmp/stray.html")
        #expect(failure?.reason.contains("end tags that close no open element") == true)
        #expect(seconds < 5, "took \(seconds) s")
        // Elements libxml2 closes itself (<p> when a <div> opens) and end tags a higher-priority
        // element blocks (</b> under <div>s) cost the same search; an estimate made before parsing
        // missed both.
        for (open, stray) in [("<p><div>", "</p>"), ("<div>", "</b>"), ("<ul><li>", "</ol>")] {
            let prefix = stray == "</b>" ? "<b>" : ""
            let hostile = prefix + String(repeating: open, count: 20_000) + String(repeating: stray, count: 100_000)
            var refused = false
            let seconds = ReaderLimitsTests.elapsed {
                do { _ = try HTMLReader().documents(in: Data(hostile.utf8), source: "/tmp/stray.html") }
                catch { refused = (error as? DocumentReadError)?.reason.contains("close no open element") == true }
            }
            #expect(refused, "\(open) then \(stray)")
            #expect(seconds < 5, "\(open) then \(stray) took \(seconds) s")
        }
        // A page with a few stray end tags is fine.
        let page = "<html><body><div><p>One</span></b><p>Two</div></font></body></html>"
        #expect(try HTMLReader().documents(in: Data(page.utf8), source: "/tmp/p.html").first?.text == "One\n\nTwo")
    }

    @Test func nestingLimitIsAClearError() throws {
        let limits = ReadLimits(maximumNesting: 100)
        let deep = String(repeating: "<div>", count: 150) + "x" + String(repeating: "</div>", count: 150)
        for reader in [XMLReader(limits: limits) as any DocumentReader, HTMLReader(limits: limits)] {
            #expect { try reader.documents(in: Data(deep.utf8), source: "/tmp/deep.xml") } throws: { error in
                let error = error as? DocumentReadError
                return error?.file == "/tmp/deep.xml" && error?.reason == "elements nest more than 100 deep"
            }
        }
        let shallow = String(repeating: "<div>", count: 90) + "x" + String(repeating: "</div>", count: 90)
        #expect(try XMLReader(limits: limits).documents(in: Data(shallow.utf8), source: "/tmp/s.xml").first?.text == "x")
    }

    @Test func deeplyNestedJSONRowIsReportedWithItsLine() throws {
        let row = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let jsonl = #"{"text": "fine"}"# + "\n" + row + "\n"
        var bad: [DocumentReadError] = []
        let seconds = ReaderLimitsTests.elapsed {
            bad = []
            _ = JSONLReader().documents(in: Data(jsonl.utf8), source: "/tmp/deep.jsonl") { bad.append($0) }
        }
        #expect(bad.count == 1 && bad.first?.line == 2 && bad.first?.file == "/tmp/deep.jsonl")
        #expect(seconds < 5, "took \(seconds) s")
    }

    @Test func fileSizeLimitIsAFailureNamingTheFile() throws {
        let folder = try Fixtures.temporaryFolder()
        let big = try Fixtures.write(String(repeating: "word ", count: 100), to: folder, "big.txt")
        try Fixtures.write("small", to: folder, "small.txt")
        let store = try PassageStore.inMemory()
        let report = try Ingestor(store: store, options: IngestOptions(limits: ReadLimits(maximumFileBytes: 100)))
            .ingest(paths: [folder.path])
        #expect(report.added == 1)
        #expect(report.failures == ["\(big.path): file of 500 bytes is over the limit of 100 bytes"])
    }
}

/// The Markdown inline reader as it was before it was made linear (recursive, quadratic on nested
/// or unclosed brackets): the definition the linear one must match.
enum RecursiveInline {
    static func inline(_ line: String) -> String {
        let characters = Array(line)
        var result = ""
        var index = 0
        while index < characters.count {
            let character = characters[index]
            if character == "!", index + 1 < characters.count, characters[index + 1] == "[" {
                index += 1
                continue
            }
            if character == "[", let link = linkEnd(characters, from: index) {
                result += inline(String(characters[(index + 1)..<link.textEnd]))
                index = link.end
                continue
            }
            if character == "`" { index += 1; continue }
            if character == "*" || character == "_" {  // unchanged by the rewrite: shared
                let run = MarkdownReader.emphasis(characters, at: index, within: 0..<characters.count)
                if !run.isMarkup { result.append(contentsOf: characters[index..<run.end]) }
                index = run.end
                continue
            }
            result.append(character)
            index += 1
        }
        return result
    }

    private static func linkEnd(_ characters: [Character], from start: Int) -> (textEnd: Int, end: Int)? {
        var depth = 0
        var close = start
        while close < characters.count {
            if characters[close] == "[" { depth += 1 }
            if characters[close] == "]" { depth -= 1; if depth == 0 { break } }
            close += 1
        }
        guard close + 1 < characters.count, characters[close + 1] == "(" else { return nil }
        guard let paren = characters[(close + 2)...].firstIndex(of: ")") else { return nil }
        return (close, paren + 1)
    }
}
