import Foundation
import Testing
@testable import Inference
@testable import Realign
import Tokenization

/// The text rules alone: where they cut, and what they hold back while the text could still be cut.
struct TextStopRuleTests {
    func cut(_ text: String, _ rule: TextStop = .answer) -> String? {
        rule.scan(text).stop.map { String(String.UnicodeScalarView(text.unicodeScalars.prefix($0))) }
    }

    @Test func aRepeatedSentenceIsCutAtItsStart() {
        let loop = "The song is of Sri Lankan Tamil origin. It was a hit. The song is of Sri Lankan Tamil origin. The song"
        #expect(cut(loop) == "The song is of Sri Lankan Tamil origin. It was a hit. ")
        // Case and punctuation do not hide a repeat.
        #expect(cut("The answer is 38,756. The answer is 38 756! More.") == "The answer is 38,756. ")
    }

    @Test func shortRepeatsAndDifferentSentencesPass() {
        #expect(cut("Yes. Yes. It is.") == nil, "a repeat under three words is not a loop")
        #expect(cut("El Dorado is a 1915 film. The film was a 1915 Spanish film.") == nil)
        // Abbreviations split sentences into fragments; equal fragments under three words never cut.
        #expect(cut("It is in Washington, D. C., since 1995. It moved to Washington, D. C., later.") == nil)
    }

    @Test func aRepeatStillBeingWrittenIsHeldBackNotCut() {
        let text = "The film was made in 1915. The film was made"
        let (stop, settled) = TextStop.answer.scan(text)
        #expect(stop == nil)
        #expect(settled == "The film was made in 1915.".unicodeScalars.count,
                "the growing repeat is held back, with the space before it")
        // Once it ends with its full stop it is a repeat; once it differs it is released.
        #expect(TextStop.answer.scan(text + " in 1915.").stop == settled + 1)
        let differs = text + " in Spain."
        #expect(TextStop.answer.scan(differs) == (nil, differs.unicodeScalars.count))
    }

    @Test func aNewParagraphOrPassageMarkerEndsAnAnswer() {
        #expect(cut("Both are in China.\n\n[1] Langzhong is a city.") == "Both are in China.")
        #expect(cut("Both are in China.\n[2] Qidong is a city.") == "Both are in China.")
        #expect(cut("Both are in China.\n  \nMore text.") == "Both are in China.")
        // A single line break followed by text is not a paragraph; a trailing break is held back.
        #expect(cut("Line one.\nLine two.") == nil)
        let open = "Both are in China.\n"
        #expect(TextStop.answer.scan(open) == (nil, open.unicodeScalars.count - 1))
        #expect(TextStop.answer.scan(open + "[1").settled == open.unicodeScalars.count - 1)
        // Summaries keep their paragraphs: the repetition rule alone does not cut them.
        #expect(cut("First paragraph.\n\nSecond paragraph.", .repetition) == nil)
    }

    @Test func plainTextIsSettledWhole() {
        let text = "Gustave Eiffel's company designed and built the tower"
        #expect(TextStop.answer.scan(text) == (nil, text.unicodeScalars.count))
        #expect(TextStop.answer.scan("") == (nil, 0))
    }
}

/// The rules inside the decoding loop, on SmolLM2: a stopped output is the unstopped one cut where the rule says.
@Suite(.enabled(if: Support.smolLM2Available, "needs models/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/setup)"))
struct TextStopDecodingTests {
    @Test func greedyOutputWithAStopIsThePrefixTheRuleCuts() throws {
        let bundle = try Support.bundle()
        let loop = DecodingLoop(model: bundle.model, tokenizer: bundle.tokenizer)
        let prompt = try Support.chatPrompt(bundle, "Write three short paragraphs about the sea, separated by blank lines.")
        let (free, _) = try loop.generate([RealignmentRequest(prompt: prompt, lambda: 0, maxTokens: 120)])
        let full = free[0].text
        let stop = try #require(TextStop.answer.scan(full).stop, "the free output should hold a paragraph break: \(full)")

        var streamed = ""
        let (outputs, _) = try loop.generate(
            [RealignmentRequest(prompt: prompt, lambda: 0, maxTokens: 120, textStop: .answer)],
            onPiece: { streamed += $0.text; return true })
        let output = outputs[0]
        let expected = String(String.UnicodeScalarView(full.unicodeScalars.prefix(stop)))
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(output.text == expected)
        #expect(output.stoppedAtText && !output.stoppedAtEndOfGeneration && output.finished)
        #expect(streamed == output.text, "nothing the cut drops was streamed")
        #expect(output.tokens.count < free[0].tokens.count)
        #expect(Array(free[0].tokens.prefix(output.tokens.count)) == output.tokens)
        #expect(output.lambdas.count == output.tokens.count)
        // The kept tokens spell the kept text (the last one may reach into the dropped break).
        let spelled = bundle.tokenizer.decode(output.tokens)
        #expect(spelled.hasPrefix(output.text))
    }
}
