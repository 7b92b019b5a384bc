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
        // The repeated-sentence rule alone (the answer rules would also cut a shared run of four words).
        let rule = TextStop(paragraph: false, repeatedSentence: true)
        let text = "The film was made in 1915. The film was made"
        let (stop, settled) = rule.scan(text)
        #expect(stop == nil)
        #expect(settled == "The film was made in 1915.".unicodeScalars.count,
                "the growing repeat is held back, with the space before it")
        // Once it ends with its full stop it is a repeat; once it differs it is released.
        #expect(rule.scan(text + " in 1915.").stop == settled + 1)
        let differs = text + " in Spain."
        #expect(rule.scan(differs) == (nil, differs.unicodeScalars.count))
        // With every answer rule the repeat is cut too (the loop rule sees it first, just after the full stop).
        #expect(cut(text + " in 1915.")?.trimmingCharacters(in: .whitespaces) == "The film was made in 1915.")
        #expect(cut(differs) == "The film was made in 1915. ")
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

    @Test func aLaterSentenceSayingARunOfAnEarlierOneAgainIsCut() {
        let text = "Kavad I, the son of Kavad I, was the son of the Sasanian King of Kings. He was the son of the House of Sasan."
        #expect(cut(text) == "Kavad I, the son of Kavad I, was the son of the Sasanian King of Kings. ")
        // The cut comes as soon as the shared run is there, before the sentence ends.
        #expect(cut("It opened in 1889. Then it was the son of the") == nil)
        #expect(cut("It was the son of Kavad. Then it was the son of") == "It was the son of Kavad. ")
        // Three shared words are not a run; summaries (repetition) may share runs.
        #expect(cut("It lies in the north of Spain. Its capital lies far in the north.") == nil)
        #expect(cut(text, .repetition) == nil)
    }

    @Test func aLaterSentenceShowsOnlyOnceTheNextBegins() {
        let first = "The tower was completed in 1889."
        let text = first + " It is 330 metres tall."
        #expect(TextStop.answer.scan(text) == (nil, first.unicodeScalars.count),
                "the second sentence is held back, with the space before it")
        let third = text + " It"
        #expect(TextStop.answer.scan(third).settled == text.unicodeScalars.count)
        // Without the sentence rules that hold it, a finished second sentence is settled.
        let loopOnly = TextStop(paragraph: false, repeatedSentence: false, loop: true)
        #expect(loopOnly.scan(text) == (nil, text.unicodeScalars.count))
    }

    @Test func aRunSaidAgainRightAfterItselfKeepsTheFirstSaying() {
        let text = "Soong Ching-ling married Sun Yat-sen, known as Madame Sun Yat-sen and the \"Mother of Modern China\" and the \"Mother of Modern China\" and the"
        #expect(cut(text) == "Soong Ching-ling married Sun Yat-sen, known as Madame Sun Yat-sen and the \"Mother of Modern China\"")
        #expect(cut("1991: 1991: 1991: 19") == "1991", "one word three times")
        #expect(cut("It was very very good.") == nil, "one word twice is speech")
        #expect(cut("New York, New York is a song.") == nil, "two words twice too")
        // Words that so far repeat the ones before them are held back, and released once they differ.
        let growing = "Sun Yat-sen and the Mother of Modern China and the Mother of"
        let (stop, settled) = TextStop.answer.scan(growing)
        #expect(stop == nil)
        #expect(settled == "Sun Yat-sen and the Mother of Modern China".unicodeScalars.count)
        let differs = growing + " Taiwan "
        #expect(TextStop.answer.scan(differs).settled == differs.unicodeScalars.count)
        // The word being written is held back: it may still grow ("th" into "the", "the" into "theory").
        #expect(TextStop.answer.scan("It is the th").settled == "It is the".unicodeScalars.count)
        #expect(TextStop.answer.scan("It is the the").settled == "It is the".unicodeScalars.count)
        #expect(cut("It is the the the ") == "It is the")
    }

    @Test func initialsAndAbbreviationsEndNoSentence() {
        // "J. K. Rowling" is one sentence: the later-sentence hold-back does not start at "K." or "Rowling".
        let text = "J. K. Rowling wrote the Harry Potter novels"
        #expect(TextStop.answer.scan(text).settled == "J. K. Rowling wrote the Harry Potter".unicodeScalars.count)
        #expect(TextStop.sentenceStarts(Array("It is J. K. Rowling. She wrote it.".unicodeScalars)) == [0, 21])
        // Nor do abbreviations: "No. 1" twice in one sentence is not two sentences sharing four words.
        let federer = "The year-end No. 1 in men's singles was 237, and the year-end No. 1 in women's singles was 103."
        #expect(cut(federer) == nil)
        #expect(TextStop.sentenceStarts(Array("Dr. Watson met Mr. Holmes. They talked.".unicodeScalars)) == [0, 27])
    }

    @Test func plainTextIsSettledWhole() {
        let text = "Gustave Eiffel's company designed and built the tower."
        #expect(TextStop.answer.scan(text) == (nil, text.unicodeScalars.count))
        // Only the word being written waits (with the loop rule: it may turn out to repeat the words before it).
        #expect(TextStop.answer.scan("Gustave Eiffel's company designed").settled == "Gustave Eiffel's company".unicodeScalars.count)
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
