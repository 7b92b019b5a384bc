import Foundation
import Formats
import Testing
@testable import Tokenization

/// The greedy-decoding fixtures recorded from llama.cpp (`Tests/Fixtures/greedy-*.json`) carry each model's Jinja chat
/// template, the conversations, the prompt jinja2 rendered and llama.cpp's prompt ids: the chat template must render
/// the same prompt character for character and the tokenizer must give the same ids.
struct GreedyFixture: Decodable {
    struct Case: Decodable {
        let name: String
        let messages: [ChatMessage]
        let prompt: String
        let prompt_ids: [Int]
        let generated_ids: [Int]
        let text: String
    }
    let chat_template: String
    let cases: [Case]

    static func path(_ model: String) -> String { TestPaths.root + "/Tests/Fixtures/greedy-\(model).json" }

    static func load(_ model: String) throws -> GreedyFixture {
        try JSONDecoder().decode(GreedyFixture.self, from: Data(contentsOf: URL(fileURLWithPath: path(model))))
    }
}

@Suite struct ChatFixtureTests {
    @Test(.enabled(if: TestPaths.exists(GreedyFixture.path("smollm2"))
                   && (TestPaths.exists(TestPaths.smolLM2) || TestPaths.isCI)))
    func smolLM2PromptsMatchLlamaCpp() throws {
        let fixture = try GreedyFixture.load("smollm2")
        let template = try ChatTemplate(jinja: fixture.chat_template)
        let tokenizer = try #require(SmolLM2.tokenizer)
        for testCase in fixture.cases {
            let prompt = template.render(testCase.messages, addGenerationPrompt: true)
            #expect(prompt == testCase.prompt, "\(testCase.name)")
            #expect(tokenizer.encode(prompt) == testCase.prompt_ids, "\(testCase.name)")
            #expect(template.encode(testCase.messages, tokenizer: tokenizer, addGenerationPrompt: true)
                    == testCase.prompt_ids, "\(testCase.name)")
            #expect(tokenizer.decode(testCase.generated_ids) == testCase.text, "\(testCase.name)")
        }
    }

    /// Qwen2.5-Coder's prompts; the ids are checked with llama.cpp's qwen2 test vocabulary, which has the same
    /// byte-level vocabulary and merges.
    @Test(.enabled(if: TestPaths.exists(GreedyFixture.path("qwen2"))))
    func qwenPromptsMatchLlamaCpp() throws {
        let fixture = try GreedyFixture.load("qwen2")
        let template = try ChatTemplate(jinja: fixture.chat_template)
        #expect(template.defaultSystemMessage == "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")
        let vocabulary = VocabularyVectors.path("qwen2")
        let tokenizer = TestPaths.exists(vocabulary) || TestPaths.isCI
            ? try Tokenizer(gguf: GGUFFile(path: vocabulary)) : nil
        for testCase in fixture.cases {
            let prompt = template.render(testCase.messages, addGenerationPrompt: true)
            #expect(prompt == testCase.prompt, "\(testCase.name)")
            if let tokenizer {
                #expect(tokenizer.encode(prompt) == testCase.prompt_ids, "\(testCase.name)")
                #expect(template.encode(testCase.messages, tokenizer: tokenizer, addGenerationPrompt: true)
                        == testCase.prompt_ids, "\(testCase.name)")
                #expect(tokenizer.decode(testCase.generated_ids) == testCase.text, "\(testCase.name)")
            }
        }
    }

    /// Tool results in Qwen2.5's real template; the expected text is what jinja2 3.1.6 renders
    /// (`ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)`, as transformers does).
    @Test(.enabled(if: TestPaths.exists(GreedyFixture.path("qwen2"))))
    func qwenToolResponses() throws {
        let template = try ChatTemplate(jinja: GreedyFixture.load("qwen2").chat_template)
        let conversation = [ChatMessage.user("Weather?"), .assistant("Let me check."),
                            ChatMessage(role: "tool", content: #"{"t": 21}"#), ChatMessage(role: "tool", content: "sunny"),
                            .user("Thanks")]
        #expect(template.render(conversation, addGenerationPrompt: true) ==
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
            + "<|im_start|>user\nWeather?<|im_end|>\n<|im_start|>assistant\nLet me check.<|im_end|>\n"
            + "<|im_start|>user\n<tool_response>\n{\"t\": 21}\n</tool_response>\n<tool_response>\nsunny\n</tool_response>"
            + "<|im_end|>\n<|im_start|>user\nThanks<|im_end|>\n<|im_start|>assistant\n")
        #expect(template.render([.system("S"), ChatMessage(role: "tool", content: "x")], addGenerationPrompt: false) ==
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\n<tool_response>\nx\n</tool_response><|im_end|>\n")
        // SmolLM2's template has no tool handling: a tool message is an ordinary turn.
        let smol = try ChatTemplate(jinja: ChatTemplateTests.smolLM2Template)
        #expect(smol.render([.system("S"), ChatMessage(role: "tool", content: "x")], addGenerationPrompt: false) ==
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>tool\nx<|im_end|>\n")
    }
}
