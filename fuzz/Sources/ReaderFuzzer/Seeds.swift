import Foundation
import Formats

/// Small valid inputs for every reader, generated here (GGUF with the repo's `GGUFWriter`, safetensors with
/// `SafetensorsFile.encode`) so no binary corpus has to be committed. libFuzzer starts from these.
extension FuzzedReader {
    var seeds: [[UInt8]] {
        switch self {
        case .markdown: Self.markdownSeeds.map { Array($0.utf8) }
        case .html: Self.htmlSeeds.map { Array($0.utf8) }
        case .xml: Self.xmlSeeds.map { Array($0.utf8) } + [Array("<r>".utf8) + [147, 104, 105, 148] + Array("</r>".utf8)]
        case .jsonl: Self.jsonlSeeds.map { Array($0.utf8) }
        case .text: [Array("Plain text.\r\nSecond line\rthird".utf8), [0xEF, 0xBB, 0xBF] + Array("bom text".utf8),
                     [0xFF, 0xFE, 0x68, 0x00, 0x69, 0x00], [0x63, 0x61, 0x66, 0xE9, 0x20, 0x93, 0x71, 0x94]]
        case .gguf: [Self.gguf(withTokenizer: true), Self.gguf(withTokenizer: false)]
        case .safetensors: [Self.safetensors(), Self.loraWeights(rank: 2, layers: 1)]
        case .tokenizer: [Array(Self.tokenizerJSON.utf8),
                          Array(Self.tokenizerJSON.utf8) + [0] + Array(Self.tokenizerConfig.utf8),
                          Array(Self.tokenizerJSON.replacingOccurrences(of: Self.byteLevelOnly,
                                                                        with: Self.splitSequence).utf8)]
        case .peft: [Array(Self.adapterConfig.utf8) + [0] + Self.loraWeights(rank: 2, layers: 2),
                     Array(Self.adapterConfig.replacingOccurrences(of: "\"q_proj\", \"v_proj\"", with: "\"q_proj\"")
                        .utf8) + [0] + Self.loraWeights(rank: 2, layers: 1, projections: ["q_proj"])]
        }
    }

    /// Fragments the structure-aware mutator inserts, alone or repeated (deep nesting, long runs, many attributes).
    var tokens: [String] {
        switch self {
        case .markdown:
            ["[", "]", "(", ")", "![", "](", "[a](b)", "`", "```\n", "~~~\n", "*", "**", "_", "__", "# ", "###### ",
             "---\n", "===\n", "> ", "- ", "1. ", "| a | b |\n", "|---|\n", "\n", "\r\n", "title: \"", "\u{00A0}",
             "e\u{0301}", "\u{1F600}"]
        case .html:
            ["<div>", "</div>", "<p>", "<pre>", "</pre>", "<title>", "</title>", "<h1>", "<script>", "</script>",
             "<!--", "-->", "&amp;", "&#x1F600;", "&#0;", "<meta charset=\"", "utf-16", "shift_jis", "\">",
             " class=\"footer\"", " role=\"navigation\"", " aria-hidden=\"true\"", "<br>", "<li>", "<![CDATA[",
             "<a href=\"x\" ", " x=\"1\"", "<table><tr><td>", "<nav>", "<svg>", "<textarea>", "\u{FEFF}"]
        case .xml:
            ["<a>", "</a>", "<a b=\"1\" ", " c=\"2\"", "/>", "<![CDATA[", "]]>", "<!DOCTYPE d [<!ENTITY e \"xx\">]>",
             "&e;", "&#x10FFFF;", "&lt;", "<?xml version=\"1.0\" encoding=\"", "ISO-8859-1", "UTF-16", "\"?>",
             "<title>", "</title>", "<p>", "<para>", "<!--", "-->", "<?pi x?>", " xmlns:x=\"urn:x\"", "<x:title>",
             "<script>"]
        case .jsonl:
            ["{", "}", "[", "]", "\"text\":", "\"title\":", "\"id\":", ",", ":", "\"\\u0000\"", "\"\\ud800\"",
             "\"\\uDBFF\\uDFFF\"", "1e999", "-0", "0.1e-400", "null", "true", "\n", "\r\n", "\"",
             "12345678901234567890", "\"x\"", "{\"text\":\"t\"}\n"]
        case .text:
            ["\r\n", "\r", "\u{FEFF}", "\u{00FF}\u{00FE}", "\n", "é", "\u{1F600}", "\u{0085}", "\u{2028}"]
        case .gguf:
            ["GGUF", "tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type",
             "tokenizer.ggml.bos_token_id", "tokenizer.chat_template", "general.alignment", "<|im_start|>", "gpt2"]
        case .safetensors:
            ["{", "}", "[", "]", ",", "\"dtype\":", "\"F32\"", "\"F16\"", "\"BF16\"", "\"BOOL\"", "\"shape\":[",
             "\"data_offsets\":[", "\"__metadata__\":{", "1e300", "-1", "4294967296", "18446744073709551615"]
        case .tokenizer:
            ["{", "}", "[", "]", ",", "\"model\":{", "\"vocab\":{", "\"merges\":[", "\"added_tokens\":[",
             "{\"id\": 99999999999999, \"content\": \"x\"}", "\"pre_tokenizer\":", "{\"type\":\"Sequence\",\"pretokenizers\":[",
             "{\"type\":\"Digits\"}", "\"ignore_merges\": true", "\"bos_token\":", "\"Ġ\"", "\"h e\"", "\u{0}", "1e15",
             "-1", "null"]
        case .peft:
            ["{", "}", "[", "]", ",", "\"r\":", "\"lora_alpha\":", "\"use_rslora\": true", "\"target_modules\":",
             "lora_A", "lora_B", "layers.", ".weight", "\"shape\":[", "\"data_offsets\":[", "\"dtype\":\"F32\"",
             "\"F16\"", "1e300", "-1", "0", "\"rank_pattern\":{\"a\":1}", "\u{0}"]
        }
    }

    /// Whether the input is binary with little-endian length and count fields worth corrupting.
    var hasBinaryFields: Bool { [.gguf, .safetensors, .peft].contains(self) }

    static let markdownSeeds = [
        """
        ---
        title: "Rivers of Europe"
        tags: [geo]
        ---
        # The Danube #

        The **Danube** flows _east_ through [ten countries](https://example.org/danube "t") and
        ![a map](map.png) `inline code` and snake_case_word.

        Setext heading
        ==============

        > quoted **text**
        > > nested quote
        - item one
        * item [two](x)
        1. first
        2) second

        | name | length |
        |:-----|-------:|
        | Danube | 2850 |

        ```swift
        let x = [1, 2](3)
        ```
        ~~~
        tilde fence
        ~~~
        """,
        "[outer [inner](a) text](b) and [unclosed ( and ] stray ) and [[[nested]]](c)\n***bold italic*** * lone *",
        "Title\n---\n\r\ntext\r\n####### not a heading\n#no space\n   ## indented ##   \n",
    ]

    static let htmlSeeds = [
        """
        <!DOCTYPE html><html><head><meta charset="utf-8"><title>Rivers &amp; Lakes</title>
        <style>p{}</style><script>var x = "<p>";</script></head>
        <body><nav>menu</nav><h1>The Danube</h1>
        <p>The Danube flows &#8594; east.<br>Second line</p>
        <div class="sidebar footer">boilerplate</div><div role="navigation">nav</div>
        <pre>  keep
            indentation</pre>
        <ul><li>one</li><li>two</li></ul><table><tr><td>a</td><td>b</td></tr></table>
        <aside>aside</aside><footer>foot</footer><span aria-hidden="true">hidden</span>
        </body></html>
        """,
        "<p>unclosed <b>bold <i>italic</p><div><div><div>deep</span></div>&nbsp;&unknown;&#xD800;",
        "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\"></head><body>caf\u{E9}</body></html>",
    ]

    static let xmlSeeds = [
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <book xmlns:dc="http://purl.org/dc/elements/1.1/">
          <dc:title>Rivers &amp; Lakes</dc:title>
          <chapter id="1" lang="en"><para>The Danube flows &#8594; east.</para><para><![CDATA[Raw <text> & more]]></para></chapter>
          <!-- a comment --><?pi data?>
          <record><entry>one</entry><entry>two</entry></record>
        </book>
        """,
        """
        <?xml version="1.0"?>
        <!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;"><!ENTITY ext SYSTEM "file:///etc/passwd">]>
        <lolz a="1" b="2" c="3">&lol2; &ext;</lolz>
        """,
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r><title>t</title><script>s</script>text</r>",
    ]

    static let jsonlSeeds = [
        """
        {"id": "a1", "title": "Danube", "text": "The Danube flows east.", "length": 2850, "tags": ["river", "europe"]}
        {"id": "a1", "title": "Rhine", "text": "The Rhine flows north.", "nested": {"x": [1, 2.5, null, true]}}
        {"text": "no id \\u00e9 \\ud83d\\ude00", "title": null}

        not json
        ["an", "array"]
        {"title": "missing text"}
        {"text": 42}
        """,
        "{\"text\":\"a\\nb\\tc\\\"d\\\\\",\"id\":12345678901234567890,\"score\":-1.5e-300}\r\n{\"text\":\"\"}",
    ]

    static let byteLevelOnly = #"{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}"#
    static let splitSequence = #"{"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true}, {"type": "Split", "pattern": {"Regex": "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]}"#

    static var tokenizerJSON: String {
        let texts = ["h", "e", "l", "o", "Ġ", "w", "r", "d", "he", "ll", "hell", "hello", "Ġw", "Ġwo"]
        let vocab = texts.enumerated().map { "\"\($0.element)\": \($0.offset)" }.joined(separator: ", ")
        return """
            {"version": "1.0",
             "added_tokens": [{"id": 14, "content": "<|end|>", "special": true}, {"id": 15, "content": "<x>", "special": false}],
             "pre_tokenizer": \(byteLevelOnly),
             "model": {"type": "BPE", "ignore_merges": false, "vocab": {\(vocab)},
                       "merges": ["h e", "l l", ["he", "ll"], "hell o", ["Ġ", "w"], "Ġw o"]}}
            """
    }

    static let tokenizerConfig = #"{"bos_token": "<|end|>", "eos_token": {"content": "<|end|>"}, "add_bos_token": true}"#

    static let adapterConfig = """
        {"peft_type": "LORA", "r": 2, "lora_alpha": 4, "use_rslora": false, "bias": "none",
         "target_modules": ["q_proj", "v_proj"], "base_model_name_or_path": "tiny", "rank_pattern": {}}
        """

    /// A PEFT LoRA weights file: `lora_A` (rank x 4) and `lora_B` (4 x rank) per layer and projection.
    static func loraWeights(rank: Int, layers: Int, projections: [String] = ["q_proj", "v_proj"]) -> [UInt8] {
        var tensors: [(name: String, dtype: SafetensorsDType, shape: [Int], bytes: [UInt8])] = []
        for layer in 0..<layers {
            for projection in projections {
                let stem = "base_model.model.model.layers.\(layer).self_attn.\(projection)"
                tensors.append((stem + ".lora_A.weight", .f32, [rank, 4], floats(rank * 4)))
                tensors.append((stem + ".lora_B.weight", .f16, [4, rank], [UInt8](repeating: 0x3C, count: 8 * rank)))
            }
        }
        return try! SafetensorsFile.encode(tensors)
    }

    static func safetensors() -> [UInt8] {
        try! SafetensorsFile.encode([("embed.weight", .f32, [2, 3], floats(6)), ("norm", .bf16, [3], [0, 0x3F, 0, 0x40, 0, 0]),
                                     ("mask", .bool, [2], [1, 0]), ("empty", .i64, [0], [])],
                                    metadata: ["format": "pt"])
    }

    static func gguf(withTokenizer: Bool) -> [UInt8] {
        var writer = GGUFWriter()
        writer.set("general.architecture", .string("llama"))
        writer.set("llama.block_count", .uint32(1))
        writer.set("llama.rope.freq_base", .float32(10_000))
        if withTokenizer {
            let texts = ["h", "e", "l", "o", "Ġ", "w", "r", "d", "he", "ll", "hell", "hello", "Ġw", "Ġwo",
                         "<|im_start|>", "<|im_end|>", "<x>"]
            writer.set("tokenizer.ggml.model", .string("gpt2"))
            writer.set("tokenizer.ggml.pre", .string("gpt-2"))
            writer.set("tokenizer.ggml.tokens", .array(texts.map { .string($0) }))
            writer.set("tokenizer.ggml.token_type", .array((0..<texts.count).map { .int32($0 >= 14 ? ($0 == 16 ? 4 : 3) : 1) }))
            writer.set("tokenizer.ggml.scores", .array(texts.map { _ in .float32(0) }))
            writer.set("tokenizer.ggml.merges", .array(["h e", "l l", "he ll", "hell o", "Ġ w", "Ġw o"].map { .string($0) }))
            writer.set("tokenizer.ggml.bos_token_id", .uint32(14))
            writer.set("tokenizer.ggml.eos_token_id", .uint32(15))
            writer.set("tokenizer.ggml.add_bos_token", .bool(false))
            writer.set("tokenizer.chat_template", .string(
                "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
                + "{{ '<|im_start|>system\nYou are helpful<|im_end|>\n' }}{% endif %}"
                + "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"))
            writer.set("general.nested", .array([.array([.uint8(1), .uint8(2)]), .array([])]))
        }
        writer.addTensor("token_embd.weight", dimensions: [4, 2], floats: (0..<8).map(Float.init))
        writer.addTensor("blk.0.attn_q.weight", type: .q8_0, dimensions: [32, 1], bytes: [0x00, 0x3C] + [UInt8](repeating: 1, count: 32))
        writer.addTensor("output_norm.weight", type: .f16, dimensions: [4], bytes: [UInt8](repeating: 0x3C, count: 8))
        return writer.encoded()
    }

    private static func floats(_ count: Int) -> [UInt8] {
        (0..<count).flatMap { withUnsafeBytes(of: Float($0) * 0.25) { Array($0) } }
    }
}
