import Foundation
import Formats
import Inference
import Testing
import Tokenization
@testable import Pipelines
@testable import Retrieval

@Suite struct PromptTemplateTests {
    @Test func fillsSectionsAndPlaceholders() throws {
        let template = try PromptTemplate(text: "[system]\nBe brief.\n[user]\nQ: {{question}}\n{{ passages }}\n")
        #expect(template.system == "Be brief.")
        let messages = try template.messages(["question": "Why?", "passages": "[1] Because."])
        #expect(messages.map(\.role) == ["system", "user"])
        #expect(messages[1].content == "Q: Why?\n[1] Because.")
    }

    @Test func rejectsBadTemplatesNamingTheProblem() {
        #expect(throws: PipelineError.badPromptTemplate(path: "t.txt", reason: "no [user] section")) {
            try PromptTemplate(text: "[system]\nonly a system part", path: "t.txt")
        }
        #expect(throws: PipelineError.badPromptTemplate(path: "t.txt", reason: "unknown section [assistant]")) {
            try PromptTemplate(text: "[assistant]\nhi", path: "t.txt")
        }
        #expect(throws: PipelineError.missingPlaceholderValue("topic")) {
            try PromptTemplate(text: "[user]\n{{topic}}").messages([:])
        }
    }

    @Test func shippedTemplateParses() throws {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        let template = try PromptTemplate(contentsOf: root.path + "/prompts/grounded-qa.txt")
        let user = try template.messages(["passages": "P", "question": "Q"]).last!.content
        #expect(user.contains("P") && user.contains("Q"))
    }
}

@Suite struct GroundedAnswererTests {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()
    static var modelAvailable: Bool {
        FileManager.default.fileExists(atPath: root + "/models/SmolLM2-135M-Instruct.Q4_1.gguf")
            || ProcessInfo.processInfo.environment["CI"] != nil
    }

    static func store() throws -> PassageStore {
        let path = NSTemporaryDirectory() + "dera-grounded-\(getpid())-\(UUID().uuidString).sqlite"
        let store = try PassageStore(path: path)
        let documents = [
            ("Mount Kilimanjaro", "Mount Kilimanjaro is a dormant volcano in Tanzania. It is 5,895 metres high."),
            ("Lake Baikal", "Lake Baikal is a rift lake in Siberia, Russia. It is the deepest lake in the world."),
            ("Saturn", "Saturn is the sixth planet from the Sun and has a prominent ring system."),
        ]
        let extracted = documents.map { ExtractedDocument(source: "test://\($0.0)", title: $0.0, text: $0.1) }
        _ = try Ingestor(store: store).ingest(documents: extracted)
        return store
    }

    @Test(.enabled(if: modelAvailable, "needs models/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/setup)"))
    func answersFromTheRetrievedPassageWithCitations() throws {
        let bundle = try ModelBundle.open(Self.root + "/models/SmolLM2-135M-Instruct.Q4_1.gguf", workers: 2)
        var answerer = GroundedAnswerer(store: try Self.store(), bundle: bundle,
                                        template: try PromptTemplate(contentsOf: Self.root + "/prompts/grounded-qa.txt"))
        answerer.passageCount = 2
        answerer.maxTokens = 40
        let answer = try answerer.answer("Which country is Mount Kilimanjaro in?")
        #expect(answer.citations.first?.title == "Mount Kilimanjaro")
        #expect(answer.citations.count <= 2)
        #expect(answer.answer.contains("Tanzania"), "\(answer.answer)")
        #expect(answer.generatedTokens > 0 && answer.generatedTokens <= 40)
    }
}
