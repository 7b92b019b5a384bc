import Foundation
import Formats
import Inference
import Tokenization

/// The two models decoding-time realignment mixes: a reference (SFT) model and a model aligned from it.
///
/// The aligned model is either a second checkpoint with the same tokenizer, or the reference plus a LoRA
/// adapter. With an adapter one forward pass over the shared base weights computes both sides: the
/// adapter's low-rank update is added to the aligned rows only.
public final class RealignmentPair: @unchecked Sendable {
    public enum Aligned: Sendable {
        /// A separate checkpoint.
        case model(DecoderModel)
        /// The reference model with the attached adapter of this index (``DecoderModel/attach(_:)``).
        case adapter(Int)
    }

    public let reference: DecoderModel
    public let aligned: Aligned
    public let tokenizer: Tokenizer
    public let chatTemplate: ChatTemplate?
    /// Where each side came from, for messages and reports.
    public let referencePath: String
    public let alignedPath: String

    public var vocabularySize: Int { reference.config.vocabularySize }

    /// Pairs two checkpoints.
    /// - Throws: ``RealignmentError/incompatible(reference:aligned:reason:)`` when the vocabularies differ in size,
    ///   token texts or special tokens: logits of different vocabularies cannot be mixed index by index.
    public init(reference: ModelBundle, aligned: ModelBundle) throws {
        func refuse(_ reason: String) -> RealignmentError {
            .incompatible(reference: reference.path, aligned: aligned.path, reason: reason)
        }
        let (r, a) = (reference.model.config.vocabularySize, aligned.model.config.vocabularySize)
        guard r == a else { throw refuse("vocabulary sizes differ (\(r) and \(a) logits)") }
        if let reason = reference.tokenizer.incompatibility(with: aligned.tokenizer) { throw refuse(reason) }
        self.reference = reference.model
        self.aligned = .model(aligned.model)
        tokenizer = reference.tokenizer
        chatTemplate = reference.chatTemplate
        referencePath = reference.path
        alignedPath = aligned.path
    }

    /// The reference model and, as the aligned model, the same weights with `adapter` (attached here).
    public init(reference: ModelBundle, adapter: LoRAAdapter) throws {
        let index = try reference.model.attach(adapter)
        self.reference = reference.model
        aligned = .adapter(index)
        tokenizer = reference.tokenizer
        chatTemplate = reference.chatTemplate
        referencePath = reference.path
        alignedPath = adapter.path
    }

    /// Opens a pair: `aligned` (a GGUF file or Hugging Face folder) or `adapter` (a PEFT folder or a GGUF LoRA).
    public static func open(reference path: String, aligned: String? = nil, adapter: String? = nil, workers: Int = 1,
                            arithmetic: DecoderModel.Arithmetic = .llamaCpp) throws -> RealignmentPair {
        let reference = try ModelBundle.open(path, workers: workers)
        reference.model.arithmetic = arithmetic
        switch (aligned, adapter) {
        case let (aligned?, nil):
            let other = try ModelBundle.open(aligned, workers: workers)
            other.model.arithmetic = arithmetic
            return try RealignmentPair(reference: reference, aligned: other)
        case let (nil, adapter?):
            return try RealignmentPair(reference: reference, adapter: LoRAAdapter.open(adapter, for: reference.model))
        default:
            throw RealignmentError.noAlignedModel
        }
    }

    /// Whether both sides run in one pass over shared weights.
    public var sharesBase: Bool {
        if case .adapter = aligned { return true }
        return false
    }

    /// A KV cache pair for one sequence.
    public func makeCaches(capacity: Int) -> SequenceCaches {
        let alignedCache = switch aligned {
        case .model(let model): model.makeCache(capacity: capacity)
        case .adapter: reference.makeCache(capacity: capacity)
        }
        return SequenceCaches(reference: reference.makeCache(capacity: capacity), aligned: alignedCache)
    }

    /// Appends `feeds[i].tokens` to sequence i's caches on both sides and writes the next-token logits of each
    /// sequence's last token: reference rows first (`feeds.count x vocabularySize` floats at `logits`), then the
    /// aligned rows (the same again). With a shared base, one forward pass in which the aligned rows are twins of
    /// the reference rows (``DecoderBatch/twins``); with two checkpoints one pass per side.
    ///
    /// `sides` (one per feed, all `.both` when nil) leaves out the rows of a side no one will read: a fixed lambda
    /// of 0 reads only the reference logits and 1 only the aligned ones. A left-out side's logits rows are not
    /// written and its cache does not grow, so the sequence must keep to that side from then on.
    public func forward(_ feeds: [(caches: SequenceCaches, tokens: [Int])], logits: UnsafeMutablePointer<Float>,
                        sides: [Sides]? = nil) throws {
        let v = vocabularySize, k = feeds.count
        let sides = sides ?? Array(repeating: .both, count: k)
        // A forward pass: its batch and caches, and the layout row each of its logits rows goes to.
        struct Pass {
            var batch = DecoderBatch(), caches: [KVCache] = [], targets: [Int] = []
        }
        /// Adds the rows of every feed that needs `side` to `pass`, twins of `twinsOf`'s rows when given; returns
        /// each feed's first row in the pass.
        func add(_ side: (Sides) -> Bool, adapter: Int?, cache: (SequenceCaches) -> KVCache, layoutOffset: Int,
                 to pass: inout Pass, twinsOf: [Int?]? = nil) -> [Int?] {
            var firstRows = [Int?](repeating: nil, count: k)
            for (s, feed) in feeds.enumerated() where side(sides[s]) {
                let sequence = pass.caches.count
                pass.caches.append(cache(feed.caches))
                firstRows[s] = pass.batch.count
                for (i, token) in feed.tokens.enumerated() {
                    pass.batch.append(token: token, sequence: sequence, wantsLogits: i == feed.tokens.count - 1,
                                      adapter: adapter, twin: twinsOf?[s].map { $0 + i })
                }
                pass.targets.append(layoutOffset + s)
            }
            return firstRows
        }
        func run(_ model: DecoderModel, _ pass: Pass) throws {
            guard let first = pass.targets.first else { return }
            if pass.targets.enumerated().allSatisfy({ $0.element == first + $0.offset }) {
                // The rows land in layout order (every side of every feed, or one side whole): written in place.
                try model.forward(pass.batch, caches: pass.caches, logits: logits + first * v)
                return
            }
            var rows = [Float](repeating: 0, count: pass.targets.count * v)
            try rows.withUnsafeMutableBufferPointer { try model.forward(pass.batch, caches: pass.caches, logits: $0.baseAddress!) }
            rows.withUnsafeBufferPointer { rows in
                for (i, target) in pass.targets.enumerated() { (logits + target * v).update(from: rows.baseAddress! + i * v, count: v) }
            }
        }
        var first = Pass()
        switch aligned {
        case let .model(model):
            var second = Pass()
            _ = add(\.reference, adapter: nil, cache: \.reference, layoutOffset: 0, to: &first)
            _ = add(\.aligned, adapter: nil, cache: \.aligned, layoutOffset: k, to: &second)
            try run(reference, first)
            try run(model, second)
        case .adapter(let index):
            let referenceRows = add(\.reference, adapter: nil, cache: \.reference, layoutOffset: 0, to: &first)
            if reference.arithmetic == .float32 && (feeds.contains { $0.tokens.count != 1 } || 2 * k > 4) {
                // Float products of more than four rows go through OpenBLAS, whose sums depend on the row count:
                // there each side gets its own pass, as it would alone.
                var second = Pass()
                _ = add(\.aligned, adapter: index, cache: \.aligned, layoutOffset: k, to: &second)
                try run(reference, first)
                try run(reference, second)
                return
            }
            // One pass: each aligned row is the twin of the reference row with its token (where the reference side
            // runs), so the layers below the adapter's first one are computed once for both sides, and every row
            // takes the kernels it would take with its side alone.
            _ = add(\.aligned, adapter: index, cache: \.aligned, layoutOffset: k, to: &first, twinsOf: referenceRows)
            try run(reference, first)
        }
    }
}

extension RealignmentPair {
    /// Which sides of a sequence a pass computes.
    public enum Sides: Sendable, Equatable {
        case both, referenceOnly, alignedOnly
        public var reference: Bool { self != .alignedOnly }
        public var aligned: Bool { self != .referenceOnly }

        /// The sides a fixed lambda reads (0: the reference, 1: the aligned model); both for any other policy.
        public init(policy: LambdaPolicy) {
            switch policy.fixedLambda {
            case 0: self = .referenceOnly
            case 1: self = .alignedOnly
            default: self = .both
            }
        }

        /// The sides any of `members` needs.
        public init(union members: [Sides]) {
            let reference = members.contains { $0.reference }, aligned = members.contains { $0.aligned }
            self = reference && aligned ? .both : reference ? .referenceOnly : .alignedOnly
        }
    }
}

/// One sequence's KV caches on the reference and on the aligned side.
public struct SequenceCaches: Sendable {
    public let reference: KVCache
    public let aligned: KVCache

    /// Copies of both caches, for another sequence that shares this one's prompt.
    public func copy() -> SequenceCaches { SequenceCaches(reference: reference.copy(), aligned: aligned.copy()) }
}

/// Why a realignment could not run.
public enum RealignmentError: Error, Equatable, CustomStringConvertible {
    case incompatible(reference: String, aligned: String, reason: String)
    case noAlignedModel
    case emptyPrompt(request: Int)
    case noAlignedSide(request: Int)

    public var description: String {
        switch self {
        case let .incompatible(reference, aligned, reason):
            "cannot mix \(reference) with \(aligned): \(reason); DeRa needs the same tokenizer on both sides"
        case .noAlignedModel:
            "give the aligned model either as a checkpoint (--aligned) or as an adapter (--adapter), not both"
        case let .emptyPrompt(request):
            "request \(request) has an empty prompt"
        case let .noAlignedSide(request):
            "request \(request) asks for a lambda other than 0, but only one model was given (no aligned side to mix)"
        }
    }
}
