import Testing
import Tokenization

/// The period rule every sentence splitter shares (the index's chunker, the checker's claims, the answer stop).
struct AbbreviationTests {
    /// For each text, whether its first full stop closes an initial or an abbreviation.
    @Test(arguments: [
        ("J. K. Rowling wrote it.", true),
        ("Washington, D.C. is the capital.", true),
        ("Ask Dr. Yunus.", true),
        ("It was built in the U.S. Then it moved.", true),
        ("(etc. and more)", true),
        ("\u{201C}Mr. Smith\u{201D}", true),
        ("It ends here. Next one.", false),
        ("Take vitamin a. Then rest.", false),
        ("Plan B. Then C.", true),
        (". Leading stop", false),
        ("It cost 3. Then more.", false),
    ])
    func aPeriodAfterAnInitialOrAbbreviationEndsNoSentence(text: String, keeps: Bool) {
        let scalars = Array(text.unicodeScalars)
        let period = scalars.firstIndex(of: ".")!
        #expect(Abbreviations.isInitialOrAbbreviation(scalars, before: period) == keeps, "\(text)")
    }
}
