import Testing
@testable import Factuality

/// Vectors worked by hand from the rules of Porter (1980); most are the paper's own examples.
struct PorterStemmerTests {
    @Test(arguments: [
        // Step 1a
        ("caresses", "caress"), ("ponies", "poni"), ("ties", "ti"), ("caress", "caress"), ("cats", "cat"),
        // Step 1b
        ("feed", "feed"), ("agreed", "agre"), ("plastered", "plaster"), ("bled", "bled"), ("motoring", "motor"),
        ("sing", "sing"), ("conflated", "conflat"), ("troubled", "troubl"), ("sized", "size"), ("hopping", "hop"),
        ("tanned", "tan"), ("falling", "fall"), ("hissing", "hiss"), ("fizzed", "fizz"), ("failing", "fail"),
        ("filing", "file"),
        // Step 1c
        ("happy", "happi"), ("sky", "sky"),
        // Step 2
        ("relational", "relat"), ("conditional", "condit"), ("rational", "ration"), ("valenci", "valenc"),
        ("digitizer", "digit"), ("operator", "oper"), ("hopeful", "hope"), ("goodness", "good"),
        // Step 3
        ("triplicate", "triplic"), ("formative", "form"), ("formalize", "formal"), ("electrical", "electr"),
        // Step 4
        ("revival", "reviv"), ("allowance", "allow"), ("inference", "infer"), ("airliner", "airlin"),
        ("adjustable", "adjust"), ("defensible", "defens"), ("irritant", "irrit"), ("replacement", "replac"),
        ("adjustment", "adjust"), ("dependent", "depend"), ("adoption", "adopt"), ("communism", "commun"),
        ("activate", "activ"), ("homologous", "homolog"), ("effective", "effect"), ("bowdlerize", "bowdler"),
        // Step 5
        ("probate", "probat"), ("rate", "rate"), ("cease", "ceas"), ("controlling", "control"), ("roll", "roll"),
        // Whole words through several steps
        ("generalizations", "gener"), ("oscillators", "oscil"), ("running", "run"), ("nationally", "nation"),
    ])
    func stems(_ word: String, _ stem: String) {
        #expect(PorterStemmer.stem(word) == stem)
    }

    @Test func leavesShortAndForeignWordsAlone() {
        #expect(PorterStemmer.stem("is") == "is")
        #expect(PorterStemmer.stem("варшава") == "варшава")
        #expect(PorterStemmer.stem("café") == "café")
        #expect(PorterStemmer.stem("1990s") == "1990s")
    }

    @Test func paraphrasesShareStems() {
        #expect(PorterStemmer.stem("connected") == PorterStemmer.stem("connection"))
        #expect(PorterStemmer.stem("connecting") == PorterStemmer.stem("connections"))
    }
}
