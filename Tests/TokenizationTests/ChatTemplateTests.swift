import Formats
import Testing
@testable import Tokenization

@Suite struct ChatTemplateTests {
    /// SmolLM2-135M-Instruct's `tokenizer.chat_template`, copied from the GGUF.
    static let smolLM2Template = """
        {% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system
        You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>
        ' }}{% endif %}{{'<|im_start|>' + message['role'] + '
        ' + message['content'] + '<|im_end|>' + '
        '}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant
        ' }}{% endif %}
        """

    /// The start of Qwen2.5's template, whose default system message sits before the message loop.
    static let qwenTemplate = """
        {%- if tools %}\n    {{- '<|im_start|>system\\n' }}\n    {%- if messages[0]['role'] == 'system' %}\n\
            {{- messages[0]['content'] }}\n    {%- else %}\n\
            {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n    {%- endif %}\n\
        {%- else %}\n    {%- if messages[0]['role'] == 'system' %}\n\
            {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n    {%- else %}\n\
            {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}\n\
            {%- endif %}\n{%- endif %}\n{%- for message in messages %}\n\
            {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n{%- endfor %}\n\
        {%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}
        """

    @Test func smolLM2WithoutSystemMessageGetsTheDefault() throws {
        let template = try ChatTemplate(jinja: Self.smolLM2Template)
        #expect(template.defaultSystemMessage == "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        let text = template.render([.user("What is 2+2?"), .assistant("4"), .user("And 3+3?")], addGenerationPrompt: true)
        #expect(text == "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            + "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n"
            + "<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n")
        #expect(template.render([], addGenerationPrompt: false) == "")
    }

    @Test func smolLM2WithSystemMessage() throws {
        let template = try ChatTemplate(jinja: Self.smolLM2Template)
        let text = template.render([.system("Be brief."), .user("Hi")], addGenerationPrompt: false)
        #expect(text == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n")
    }

    @Test(.enabled(if: TestPaths.exists(TestPaths.smolLM2) || TestPaths.isCI))
    func templateReadFromTheGGUF() throws {
        let file = try GGUFFile(path: TestPaths.smolLM2)
        #expect(file.string("tokenizer.chat_template") == Self.smolLM2Template)
        let template = try ChatTemplate(gguf: file)
        #expect(template == (try ChatTemplate(jinja: Self.smolLM2Template)))
        let tokenizer = try #require(SmolLM2.tokenizer)
        let ids = tokenizer.encode(template.render([.user("Hi")], addGenerationPrompt: true))
        #expect(ids.first == 1)
        #expect(ids.filter { $0 == 1 }.count == 3 && ids.filter { $0 == 2 }.count == 2)
    }

    @Test func qwenDefaultSystemMessage() throws {
        let template = try ChatTemplate(jinja: Self.qwenTemplate)
        #expect(template.defaultSystemMessage == "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")
        #expect(template.render([.user("Hi")], addGenerationPrompt: true) ==
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
            + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        #expect(template.render([.system("S"), .user("Hi")], addGenerationPrompt: false) ==
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n")
    }

    @Test func plainChatMLWhenThereIsNoTemplate() throws {
        let template = try ChatTemplate(jinja: nil)
        #expect(template.defaultSystemMessage == nil)
        #expect(template.render([.user("Hi")], addGenerationPrompt: true)
            == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test func otherTemplatesAreRefused() {
        let llama3 = "{% set loop_messages = messages %}{% for message in loop_messages %}<|start_header_id|>"
        #expect(throws: TokenizerError.unsupportedChatTemplate(start: String(llama3.prefix(80)))) { try ChatTemplate(jinja: llama3) }
        #expect {
            try ChatTemplate(jinja: String(repeating: "{{ bos_token }}", count: 20))
        } throws: { error in
            "\(error)".contains("unsupported chat template") && "\(error)".contains("{{ bos_token }}")
        }
    }
}
