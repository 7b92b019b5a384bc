/// What kind of vocabulary entry a token is, as llama.cpp's `llama_token_attr` records it.
public struct TokenAttributes: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let unknown = TokenAttributes(rawValue: 1 << 0)
    public static let unused = TokenAttributes(rawValue: 1 << 1)
    public static let normal = TokenAttributes(rawValue: 1 << 2)
    /// Control tokens (`<|im_start|>`): matched in text only when parsing specials, hidden on request when decoding.
    public static let control = TokenAttributes(rawValue: 1 << 3)
    /// Added tokens that are always split out of text and decode to their literal text.
    public static let userDefined = TokenAttributes(rawValue: 1 << 4)
    public static let byte = TokenAttributes(rawValue: 1 << 5)

    /// The attributes of a GGUF `tokenizer.ggml.token_type` value.
    init(ggufTokenType type: Int) {
        switch type {
        case 1: self = .normal
        case 2: self = .unknown
        case 3: self = .control
        case 4: self = .userDefined
        case 5: self = .unused
        case 6: self = .byte
        default: self = []
        }
    }
}
