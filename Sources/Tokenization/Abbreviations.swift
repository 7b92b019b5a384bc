/// Words that end in a period without ending a sentence ("Dr.", "No. 1", "e.g.", "U.S."), lower-cased and
/// without their final period: the one list every sentence splitter in dera reads (retrieval's chunker, the
/// factuality checker's claims, the decoder's answer stop), so they agree on where a sentence ends.
public enum Abbreviations {
    public static let periodWords: Set<String> = [
        "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "e.g", "i.e", "eg", "ie", "no", "nos",
        "fig", "figs", "inc", "ltd", "co", "corp", "mt", "ft", "approx", "cf", "al", "vol", "ed", "gen", "col",
        "lt", "sgt", "capt", "rev", "gov", "sen", "rep", "u.s", "u.k", "u.n", "u.s.a", "d.c", "a.m", "p.m",
        "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "est", "dept",
        "univ", "assn", "bros", "ph.d", "b.c", "a.d", "op", "pp", "ca",
    ]

    /// Whether the full stop at `period` in `s` closes an initial or an abbreviation rather than a sentence: the
    /// word before it (back to whitespace or an opening bracket or quote) is a lone capital letter ("J. K.
    /// Rowling") or one of ``periodWords``. The one rule every sentence splitter in dera applies to a period.
    public static func isInitialOrAbbreviation(_ s: [Unicode.Scalar], before period: Int) -> Bool {
        var begin = period
        while begin > 0, !s[begin - 1].properties.isWhitespace, !opening.contains(s[begin - 1]) { begin -= 1 }
        guard begin < period else { return false }
        if period - begin == 1 { return s[begin].properties.isUppercase }
        return periodWords.contains(String(String.UnicodeScalarView(s[begin..<period])).lowercased())
    }

    /// Brackets and quotes that can open a word.
    public static let opening = Set("\"'([{\u{AB}\u{201C}\u{2018}\u{300C}\u{300E}".unicodeScalars)
}
