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
}
