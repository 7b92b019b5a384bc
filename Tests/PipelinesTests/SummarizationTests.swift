import Foundation
import Inference
import Testing
import Control
import Factuality
import Realign
import Tokenization
@testable import Pipelines
@testable import Retrieval

@Suite struct ShardTests {
    @Test func sharesAreDisjointCoverEveryIdAndDifferInSizeByAtMostOne() throws {
        let ids = (0..<23).map { "docs/file-\($0 * 7 % 23).txt" }
        for count in [1, 2, 3, 5, 23, 30] {
            let shares = (0..<count).map { Shard(index: $0, count: count)!.share(of: ids) }
            #expect(shares.reduce(Set<String>()) { $0.union($1) } == Set(ids))
            #expect(shares.map(\.count).reduce(0, +) == ids.count, "no id in two shares")
            let sizes = shares.map(\.count)
            #expect(sizes.max()! - sizes.min()! <= 1)
        }
        // The same share whatever order the ids come in, and duplicates count once.
        let shard = try #require(Shard("1/3"))
        #expect(shard.share(of: ids.reversed() + ids) == shard.share(of: ids))
    }

    @Test func parsesIndexOverCountAndRefusesTheRest() {
        #expect(Shard("0/4") == Shard(index: 0, count: 4))
        #expect(Shard("3/4")?.description == "3/4")
        for bad in ["4/4", "-1/4", "1/0", "1", "a/b", "1/2/3", ""] { #expect(Shard(bad) == nil, "\(bad)") }
    }
}

@Suite struct SummaryOutputTests {
    static func temporaryFile(_ contents: String) throws -> String {
        let path = NSTemporaryDirectory() + "dera-summary-\(UUID().uuidString).jsonl"
        try Data(contents.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func reopeningCutsATornLastLineAndKnowsEveryFinishedId() throws {
        let path = try Self.temporaryFile(#"{"id":"a","summary":"x"}"# + "\n" + #"{"id":"b","error":"unreadable"}"# + "\n" + #"{"id":"c","summ"#)
        let output = try SummaryOutput(path: path)
        #expect(output.finished == ["a", "b"])
        #expect(output.droppedBytes == #"{"id":"c","summ"#.utf8.count)
        try output.append(SummaryOutput.Failure(id: "c", source: nil, error: "empty"), id: "c")
        #expect(output.finished == ["a", "b", "c"])
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 4 && lines.last == "")
        #expect(lines[2] == #"{"error":"empty","id":"c"}"#)
        // A file that ends with a newline loses nothing.
        #expect(try SummaryOutput(path: path).droppedBytes == 0)
    }

    @Test func refusesAFileThatIsNotSummaryLinesNamingTheLine() throws {
        let path = try Self.temporaryFile(#"{"id":"a"}"# + "\n" + #"{"question":"q"}"# + "\n")
        #expect(throws: PipelineError.badRow(path: path, line: 2, reason: "not a summary line (a JSON object with a string \"id\"); is this the right --out file?")) {
            try SummaryOutput(path: path)
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8).hasSuffix(#"{"question":"q"}"# + "\n"), "left as it was")
    }
}

@Suite struct InputDocumentTests {
    @Test func namesDocumentsAsGivenAndReportsWhatCannotBeRead() throws {
        let folder = NSTemporaryDirectory() + "dera-inputs-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder + "/sub", withIntermediateDirectories: true)
        try Data("Plain text.".utf8).write(to: URL(fileURLWithPath: folder + "/a.txt"))
        try Data("# Title\n\nMarkdown text.".utf8).write(to: URL(fileURLWithPath: folder + "/sub/b.md"))
        try Data("{\"body\": \"row one\", \"key\": \"r1\"}\n{\"nobody\": 1}\n".utf8).write(to: URL(fileURLWithPath: folder + "/rows.jsonl"))
        try FileManager.default.createSymbolicLink(atPath: folder + "/gone.txt", withDestinationPath: folder + "/missing")
        // Named through a detour: ids keep the path as given (no chdir here: tests run in parallel in one process).
        let base = folder + "/sub/.."
        let documents = try InputDocument.read([base + "/"], options: IngestOptions(jsonl: JSONLReader(textField: "body", idField: "key")))
        #expect(Set(documents.map(\.name)) == [base + "/a.txt", base + "/sub/b.md", base + "/rows.jsonl#r1", base + "/rows.jsonl#L2", base + "/gone.txt"])
        let read = documents.compactMap { try? $0.content.get() }
        #expect(Set(read.map(\.text)) == ["Plain text.", "Title\n\nMarkdown text.", "row one"])
        #expect(read.allSatisfy { $0.source.hasPrefix(folder + "/") && !$0.source.contains("..") }, "sources are the standardized paths")
        let failures = documents.compactMap { if case let .failure(error) = $0.content { error } else { nil } }
        #expect(failures.count == 2)
        #expect(failures.contains { $0.field == "body" && $0.line == 2 })
        #expect(throws: DocumentReadError.self) { try InputDocument.read([folder + "/nothing-here"]) }
    }
}

@Suite struct DocumentSummarizerTests {
    static let root = GroundedAnswererTests.root

    static func summarizer(maxTokens: Int, contextTokens: Int = 2048, realignment: LambdaSetting? = nil)
        throws -> DocumentSummarizer {
        let bundle = try ModelBundle.open(root + "/models/SmolLM2-135M-Instruct.Q4_1.gguf", workers: 2)
        var pair: GroundedAnswerer.Realignment?
        if let realignment {
            pair = .init(pair: try RealignmentPair(reference: bundle, adapter: LoRAAdapter.open(
                root + "/models/adapters/smollm2-dpo-beta0.1", for: bundle.model)), setting: realignment)
        }
        let decoder = OutputDecoder(bundle: bundle, realignment: pair, maxTokens: maxTokens, sampling: .greedy)
        var summarizer = DocumentSummarizer(decoder: decoder,
                                            template: try PromptTemplate(contentsOf: root + "/prompts/summarize.txt"))
        let calibration = try CheckerCalibration.load(root + "/" + CheckerCalibration.defaultPath)
        summarizer.selfCheck = SelfCheck(checker: try FactualityChecker(profile: calibration.profile("general", path: "calibration")),
                                         naturalness: NaturalnessScorer(expected: .summary), fluency: ModelGrounding(bundle: bundle))
        summarizer.contextTokens = contextTokens
        return summarizer
    }

    static let baikal = ExtractedDocument(source: "/docs/baikal.txt", title: "Lake Baikal", text: """
        Lake Baikal is a rift lake in Siberia, Russia. It is the deepest lake in the world, at 1,642 metres. \
        It holds about a fifth of the fresh surface water on Earth.
        """)

    @Test(.enabled(if: GroundedAnswererTests.modelAvailable, "needs models/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/setup)"))
    func summarizesAShortDocumentWholeAndChecksItAgainstTheDocument() throws {
        let summary = try Self.summarizer(maxTokens: 48).summarize(Self.baikal, id: "baikal")
        #expect(summary.id == "baikal" && summary.source == "/docs/baikal.txt")
        #expect(summary.chunks == 1 && summary.lambda == nil && summary.candidates == nil)
        #expect(!summary.summary.isEmpty && summary.words == summary.summary.split(separator: " ").count)
        #expect(summary.generatedTokens > 0 && summary.generatedTokens <= 48)
        let check = try #require(summary.check)
        #expect(check.answer == summary.summary && check.question == nil)
        #expect(!check.claims.isEmpty)
        // Evidence points at the document's one passage, and quotes it.
        for claim in check.claims {
            if let evidence = claim.evidence { #expect(evidence.passageID == "1" && Self.baikal.text.contains(evidence.text)) }
        }
        #expect(summary.correctness == check.rankingScore)
        #expect((summary.naturalness?.fluency ?? 1) < 0)
    }

    @Test(.enabled(if: GroundedAnswererTests.modelAvailable, "needs models/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/setup)"))
    func cutsADocumentLongerThanTheContextAndCombinesThePartialSummaries() throws {
        let sentences = (1...12).map { "Station \($0) on the Baikal shore recorded \($0 * 3) seals and \($0 + 40) gulls in spring." }
        let long = ExtractedDocument(source: "/docs/long.txt", title: "", text: sentences.joined(separator: " "))
        let summarizer = try Self.summarizer(maxTokens: 24, contextTokens: 160)
        let whole = try summarizer.prompt(long.text, title: "")
        #expect(whole.count + 24 > 160, "the test document must not fit")
        let summary = try summarizer.summarize(long, id: "long")
        #expect(summary.chunks >= 2)
        #expect(!summary.summary.isEmpty)
        // Every piece and the combining pass were decoded: more prompt tokens than the document's one prompt.
        #expect(summary.promptTokens > whole.count)
        // The check reads the whole document, cut into passages.
        #expect(summary.check != nil)
        // An empty document is refused by name; one that needs too many pieces is reported as too long.
        #expect(throws: PipelineError.emptyDocument(id: "blank")) {
            try summarizer.summarize(ExtractedDocument(source: "/b", title: "", text: " \n "), id: "blank")
        }
        var strict = summarizer
        strict.maximumChunks = 1
        #expect(throws: PipelineError.documentTooLong(id: "long", pieces: summary.chunks, limit: 1)) {
            try strict.summarize(long, id: "long")
        }
    }

    @Test(.enabled(if: GroundedAnswererTests.modelAvailable, "needs models/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/setup)"))
    func autoDecodesEveryCandidateAndKeepsTheOneTheRulePicks() throws {
        let summarizer = try Self.summarizer(maxTokens: 32, realignment: .auto(candidates: [1], rule: .default))
        let summary = try summarizer.summarize(Self.baikal, id: "baikal")
        let candidates = try #require(summary.candidates)
        #expect(candidates.map(\.lambda) == [0, 1])
        #expect(summary.chosen == SelectionRule.default.choose(candidates))
        let chosen = candidates[summary.chosen!]
        #expect(summary.summary == chosen.text && summary.lambda == chosen.lambda)
        // Each candidate is what a lone fixed-lambda run decodes.
        var fixed = summarizer
        fixed.decoder.realignment?.setting = .fixed(1)
        #expect(try fixed.summarize(Self.baikal, id: "baikal").summary == candidates[1].text)
    }

    @Test(.enabled(if: GroundedAnswererTests.modelAvailable, "needs models/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/setup)"))
    func severalDocumentsDecodeTogetherAsEachWouldAloneAndFailAlone() throws {
        var summarizer = try Self.summarizer(maxTokens: 32, contextTokens: 200)
        summarizer.batchSize = 16
        let saturn = ExtractedDocument(source: "/docs/saturn.md", title: "Saturn", text: """
            Saturn is the sixth planet from the Sun. It has a prominent ring system made mostly of ice. \
            Saturn has 146 known moons, the largest of which is Titan.
            """)
        let long = ExtractedDocument(source: "/docs/long.txt", title: "", text: (1...10).map {
            "Station \($0) on the Baikal shore recorded \($0 * 3) seals and \($0 + 40) gulls in spring." }.joined(separator: " "))
        let empty = ExtractedDocument(source: "/docs/empty.txt", title: "", text: "")
        let documents = [(Self.baikal, "baikal"), (empty, "empty"), (long, "long"), (saturn, "saturn")]
        let together = summarizer.summarize(documents)
        #expect(together.count == 4)
        #expect(throws: PipelineError.emptyDocument(id: "empty")) { try together[1].get() }
        for index in [0, 2, 3] {
            let batched = try together[index].get()
            let alone = try summarizer.summarize(documents[index].0, id: documents[index].1)
            #expect(batched.id == documents[index].1)
            #expect(batched.summary == alone.summary, "\(batched.id)")
            #expect(batched.chunks == alone.chunks && batched.promptTokens == alone.promptTokens)
            #expect(batched.correctness == alone.correctness)
        }
        #expect(try together[2].get().chunks >= 2)
    }
}
