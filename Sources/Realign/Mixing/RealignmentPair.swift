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
        if let sides, sides.contains(where: { $0 != .both }) {
            try forward(feeds, logits: logits, partial: sides)
            return
        }
        let v = vocabularySize, k = feeds.count
        func batch(adapter: Int?) -> DecoderBatch {
            var batch = DecoderBatch()
            for (s, feed) in feeds.enumerated() {
                for (i, token) in feed.tokens.enumerated() {
                    batch.append(token: token, sequence: s, wantsLogits: i == feed.tokens.count - 1, adapter: adapter)
                }
            }
            return batch
        }
        let referenceCaches = feeds.map(\.caches.reference), alignedCaches = feeds.map(\.caches.aligned)
        switch aligned {
        case .model(let model):
            try reference.forward(batch(adapter: nil), caches: referenceCaches, logits: logits)
            try model.forward(batch(adapter: nil), caches: alignedCaches, logits: logits + k * v)
        case .adapter(let index):
            let single = feeds.allSatisfy { $0.tokens.count == 1 }
            if reference.arithmetic == .float32 && (!single || 2 * k > 4) {
                // Float products of more than four rows go through OpenBLAS, whose sums depend on the row count:
                // there each side gets its own pass, as it would alone.
                try reference.forward(batch(adapter: nil), caches: referenceCaches, logits: logits)
                try reference.forward(batch(adapter: index), caches: alignedCaches, logits: logits + k * v)
                return
            }
            // One pass: each aligned row is the twin of the reference row with its token, so the layers below the
            // adapter's first one are computed once for both sides, and every row takes the kernels it would
            // take with its side alone.
            var both = batch(adapter: nil)
            var row = 0
            for (s, feed) in feeds.enumerated() {
                for (i, token) in feed.tokens.enumerated() {
                    both.append(token: token, sequence: k + s, wantsLogits: i == feed.tokens.count - 1, adapter: index,
                                twin: row)
                    row += 1
                }
            }
            try reference.forward(both, caches: referenceCaches + alignedCaches, logits: logits)
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

    /// `forward` for feeds some of which need one side only: the rows of the needed sides in one pass (aligned rows
    /// the twins of their reference rows where both are there) or one per side, their logits then put in the
    /// layout of `forward`.
    fileprivate func forward(_ feeds: [(caches: SequenceCaches, tokens: [Int])], logits: UnsafeMutablePointer<Float>,
                             partial sides: [Sides]) throws {
        let v = vocabularySize, k = feeds.count
        // The wanted rows of each pass, in order, and the layout row each goes to.
        func pass(_ side: (Sides) -> Bool, adapter: Int?, cacheOf: (SequenceCaches) -> KVCache, layoutOffset: Int,
                  into batch: inout DecoderBatch, caches: inout [KVCache], targets: inout [Int],
                  twins: [Int: Int]? = nil) -> [Int: Int] {
            var firstRow: [Int: Int] = [:]
            for (s, feed) in feeds.enumerated() where side(sides[s]) {
                let sequence = caches.count
                caches.append(cacheOf(feed.caches))
                firstRow[s] = batch.count
                for (i, token) in feed.tokens.enumerated() {
                    batch.append(token: token, sequence: sequence, wantsLogits: i == feed.tokens.count - 1, adapter: adapter,
                                 twin: twins?[s].map { $0 + i })
                }
                targets.append(layoutOffset + s)
            }
            return firstRow
        }
        var rows: [Float] = []
        var targets: [Int] = []
        func run(_ model: DecoderModel, _ batch: DecoderBatch, _ caches: [KVCache]) throws {
            guard batch.count > 0 else { return }
            var out = [Float](repeating: 0, count: batch.logitRowCount * v)
            try out.withUnsafeMutableBufferPointer { try model.forward(batch, caches: caches, logits: $0.baseAddress!) }
            rows += out
        }
        switch aligned {
        case let .model(model):
            var first = DecoderBatch(), firstCaches: [KVCache] = []
            _ = pass(\.reference, adapter: nil, cacheOf: \.reference, layoutOffset: 0, into: &first, caches: &firstCaches,
                     targets: &targets)
            try run(reference, first, firstCaches)
            var second = DecoderBatch(), secondCaches: [KVCache] = []
            _ = pass(\.aligned, adapter: nil, cacheOf: \.aligned, layoutOffset: k, into: &second, caches: &secondCaches,
                     targets: &targets)
            try run(model, second, secondCaches)
        case let .adapter(index):
            let single = feeds.allSatisfy { $0.tokens.count == 1 }
            var batch = DecoderBatch(), caches: [KVCache] = []
            if reference.arithmetic == .float32 && (!single || 2 * k > 4) {
                // As in `forward`: float products of more than four rows depend on the row count.
                _ = pass(\.reference, adapter: nil, cacheOf: \.reference, layoutOffset: 0, into: &batch, caches: &caches,
                         targets: &targets)
                try run(reference, batch, caches)
                var second = DecoderBatch(), secondCaches: [KVCache] = []
                _ = pass(\.aligned, adapter: index, cacheOf: \.aligned, layoutOffset: k, into: &second,
                         caches: &secondCaches, targets: &targets)
                try run(reference, second, secondCaches)
            } else {
                let referenceRows = pass(\.reference, adapter: nil, cacheOf: \.reference, layoutOffset: 0, into: &batch,
                                         caches: &caches, targets: &targets)
                _ = pass(\.aligned, adapter: index, cacheOf: \.aligned, layoutOffset: k, into: &batch, caches: &caches,
                         targets: &targets, twins: referenceRows)
                try run(reference, batch, caches)
            }
        }
        for (i, target) in targets.enumerated() {
            rows.withUnsafeBufferPointer { (logits + target * v).update(from: $0.baseAddress! + i * v, count: v) }
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
