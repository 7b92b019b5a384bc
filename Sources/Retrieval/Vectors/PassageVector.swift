import CKernels
import Foundation

/// How passage vectors are made and stored: which text of a passage is embedded, and the blob format.
public enum PassageVector {
    /// The text embedded for a passage: its document title on a line of its own, then the passage (the title
    /// names what a later passage of a long article is about, as BM25's title column does).
    public static func embeddingText(title: String, text: String) -> String {
        title.isEmpty ? text : title + "\n" + text
    }

    /// IEEE half floats, little endian: half the size of F32 and, for unit vectors, a cosine error near 1e-4.
    static func encode(_ vector: [Float]) -> Data {
        var halves = [UInt16](repeating: 0, count: vector.count)
        vector.withUnsafeBufferPointer { dera_f32_to_f16($0.baseAddress!, &halves, Int64(vector.count)) }
        return halves.withUnsafeBytes { Data($0) }
    }

    /// Decodes a blob written by ``encode(_:)`` into `destination` (`dimension` floats); false when the blob has
    /// another length.
    static func decode(_ blob: Data, dimension: Int, into destination: UnsafeMutablePointer<Float>) -> Bool {
        guard blob.count == dimension * 2 else { return false }
        blob.withUnsafeBytes { raw in
            var halves = [UInt16](repeating: 0, count: dimension)
            halves.withUnsafeMutableBytes { $0.copyMemory(from: raw) }
            dera_f16_to_f32(halves, destination, Int64(dimension))
        }
        return true
    }

    static func decode(_ blob: Data, dimension: Int) -> [Float]? {
        var vector = [Float](repeating: 0, count: dimension)
        let ok = vector.withUnsafeMutableBufferPointer { decode(blob, dimension: dimension, into: $0.baseAddress!) }
        return ok ? vector : nil
    }
}

/// The embedder a store's vectors were made with.
public struct VectorModel: Sendable, Hashable, Codable {
    public var identity: String
    public var dimension: Int

    public init(identity: String, dimension: Int) {
        self.identity = identity
        self.dimension = dimension
    }
}
