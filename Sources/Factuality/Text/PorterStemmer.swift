/// The Porter (1980) suffix-stripping stemmer for English, as the original paper describes it
/// ("An algorithm for suffix stripping", steps 1a to 5b).
///
/// Words are expected in lowercase. Words of one or two letters, and words holding anything but the ASCII
/// letters a-z, are returned unchanged, so text in other scripts passes through.
///
/// ```swift
/// PorterStemmer.stem("generalizations")   // "gener"
/// PorterStemmer.stem("ponies")            // "poni"
/// ```
public enum PorterStemmer {
    public static func stem(_ word: String) -> String {
        var letters = Array(word.utf8)
        guard letters.count > 2, letters.allSatisfy({ $0 >= 97 && $0 <= 122 }) else { return word }
        var w = Word(letters)
        w.step1a()
        w.step1b()
        w.step1c()
        w.step2()
        w.step3()
        w.step4()
        w.step5()
        letters = w.b
        return String(decoding: letters, as: UTF8.self)
    }
}

/// The word being stemmed, as ASCII bytes, with the paper's predicates over a candidate stem `b[0..<end]`.
private struct Word {
    var b: [UInt8]

    init(_ b: [UInt8]) { self.b = b }

    static let a = UInt8(ascii: "a"), e = UInt8(ascii: "e"), i = UInt8(ascii: "i"), o = UInt8(ascii: "o"),
               u = UInt8(ascii: "u"), y = UInt8(ascii: "y"), w = UInt8(ascii: "w"), x = UInt8(ascii: "x"),
               l = UInt8(ascii: "l"), s = UInt8(ascii: "s"), z = UInt8(ascii: "z"), t = UInt8(ascii: "t")

    /// A consonant is a letter other than a, e, i, o, u, and other than y preceded by a consonant.
    func isConsonant(_ k: Int) -> Bool {
        switch b[k] {
        case Self.a, Self.e, Self.i, Self.o, Self.u: return false
        case Self.y: return k == 0 ? true : !isConsonant(k - 1)
        default: return true
        }
    }

    /// m in [C](VC)^m[V] for the stem `b[0..<end]`.
    func measure(_ end: Int) -> Int {
        var m = 0, k = 0
        while k < end, isConsonant(k) { k += 1 }
        while k < end {
            while k < end, !isConsonant(k) { k += 1 }
            guard k < end else { break }
            m += 1
            while k < end, isConsonant(k) { k += 1 }
        }
        return m
    }

    /// *v*: the stem contains a vowel.
    func hasVowel(_ end: Int) -> Bool { (0..<end).contains { !isConsonant($0) } }

    /// *d: the stem ends with a double consonant.
    func endsWithDoubleConsonant(_ end: Int) -> Bool {
        end >= 2 && b[end - 1] == b[end - 2] && isConsonant(end - 1)
    }

    /// *o: the stem ends consonant-vowel-consonant, the last consonant not w, x or y.
    func endsCVC(_ end: Int) -> Bool {
        guard end >= 3, isConsonant(end - 3), !isConsonant(end - 2), isConsonant(end - 1) else { return false }
        let last = b[end - 1]
        return last != Self.w && last != Self.x && last != Self.y
    }

    func endsWith(_ suffix: [UInt8]) -> Bool {
        guard b.count >= suffix.count else { return false }
        let offset = b.count - suffix.count
        for k in 0..<suffix.count where b[offset + k] != suffix[k] { return false }
        return true
    }

    /// Length of the stem left when `suffix` is removed.
    func stemLength(_ suffix: [UInt8]) -> Int { b.count - suffix.count }

    mutating func replace(_ suffix: [UInt8], with replacement: [UInt8]) {
        b.removeLast(suffix.count)
        b.append(contentsOf: replacement)
    }

    /// Applies the rule whose suffix is the longest match, if its stem satisfies `condition`; only that rule is
    /// tried, as the paper specifies. The condition is m > 0 on the stem.
    mutating func applyLongest(_ rules: [(suffix: [UInt8], replacement: [UInt8])]) {
        var best: (suffix: [UInt8], replacement: [UInt8])?
        for rule in rules where endsWith(rule.suffix) {
            if best == nil || rule.suffix.count > best!.suffix.count { best = rule }
        }
        guard let rule = best, measure(stemLength(rule.suffix)) > 0 else { return }
        replace(rule.suffix, with: rule.replacement)
    }

    mutating func step1a() {
        if endsWith(S.sses) { replace(S.sses, with: S.ss) }
        else if endsWith(S.ies) { replace(S.ies, with: S.i) }
        else if endsWith(S.ss) { return }
        else if endsWith(S.s) { b.removeLast() }
    }

    mutating func step1b() {
        if endsWith(S.eed) {
            if measure(stemLength(S.eed)) > 0 { b.removeLast() }
            return
        }
        var removed = false
        for suffix in [S.ed, S.ing] where endsWith(suffix) {
            if hasVowel(stemLength(suffix)) {
                b.removeLast(suffix.count)
                removed = true
            }
            break
        }
        guard removed else { return }
        if endsWith(S.at) || endsWith(S.bl) || endsWith(S.iz) {
            b.append(Self.e)
        } else if endsWithDoubleConsonant(b.count), ![Self.l, Self.s, Self.z].contains(b[b.count - 1]) {
            b.removeLast()
        } else if measure(b.count) == 1, endsCVC(b.count) {
            b.append(Self.e)
        }
    }

    mutating func step1c() {
        if endsWith(S.y), hasVowel(b.count - 1) { b[b.count - 1] = Self.i }
    }

    mutating func step2() {
        applyLongest(Self.step2Rules)
    }

    mutating func step3() {
        applyLongest(Self.step3Rules)
    }

    mutating func step4() {
        var best: [UInt8]?
        for suffix in Self.step4Suffixes where endsWith(suffix) {
            if best == nil || suffix.count > best!.count { best = suffix }
        }
        guard let suffix = best else { return }
        let end = stemLength(suffix)
        guard measure(end) > 1 else { return }
        if suffix == S.ion {
            guard end > 0, b[end - 1] == Self.s || b[end - 1] == Self.t else { return }
        }
        b.removeLast(suffix.count)
    }

    mutating func step5() {
        if endsWith(S.e) {
            let m = measure(b.count - 1)
            if m > 1 || (m == 1 && !endsCVC(b.count - 1)) { b.removeLast() }
        }
        if measure(b.count) > 1, endsWithDoubleConsonant(b.count), b[b.count - 1] == Self.l { b.removeLast() }
    }

    static let step2Rules: [(suffix: [UInt8], replacement: [UInt8])] = [
        ("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"), ("izer", "ize"),
        ("abli", "able"), ("alli", "al"), ("entli", "ent"), ("eli", "e"), ("ousli", "ous"),
        ("ization", "ize"), ("ation", "ate"), ("ator", "ate"), ("alism", "al"), ("iveness", "ive"),
        ("fulness", "ful"), ("ousness", "ous"), ("aliti", "al"), ("iviti", "ive"), ("biliti", "ble"),
    ].map { (bytes($0.0), bytes($0.1)) }

    static let step3Rules: [(suffix: [UInt8], replacement: [UInt8])] = [
        ("icate", "ic"), ("ative", ""), ("alize", "al"), ("iciti", "ic"), ("ical", "ic"), ("ful", ""),
        ("ness", ""),
    ].map { (bytes($0.0), bytes($0.1)) }

    static let step4Suffixes: [[UInt8]] = [
        "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion", "ou", "ism",
        "ate", "iti", "ous", "ive", "ize",
    ].map(bytes)
}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Suffixes the steps test for, as bytes.
private enum S {
    static let at: [UInt8] = Array("at".utf8)
    static let bl: [UInt8] = Array("bl".utf8)
    static let e: [UInt8] = Array("e".utf8)
    static let ed: [UInt8] = Array("ed".utf8)
    static let eed: [UInt8] = Array("eed".utf8)
    static let i: [UInt8] = Array("i".utf8)
    static let ies: [UInt8] = Array("ies".utf8)
    static let ing: [UInt8] = Array("ing".utf8)
    static let ion: [UInt8] = Array("ion".utf8)
    static let iz: [UInt8] = Array("iz".utf8)
    static let s: [UInt8] = Array("s".utf8)
    static let ss: [UInt8] = Array("ss".utf8)
    static let sses: [UInt8] = Array("sses".utf8)
    static let y: [UInt8] = Array("y".utf8)
}
