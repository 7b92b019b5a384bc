/// One share of a batch of documents, `index/count` (index from 0), for splitting a corpus over machines under a
/// scheduler (a Kubernetes indexed Job's completion index, a Slurm array task id).
///
/// The ids are sorted and the share is every id whose position is `index` modulo `count`: deterministic, the
/// shares of one corpus are disjoint and together hold every id, and their sizes differ by at most one.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    /// The whole batch.
    public static let all = Shard(index: 0, count: 1)!

    public init?(index: Int, count: Int) {
        guard count >= 1, (0..<count).contains(index) else { return nil }
        self.index = index
        self.count = count
    }

    /// Parses `i/n`.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]) else { return nil }
        self.init(index: index, count: count)
    }

    /// The ids of `ids` in this share (duplicates counted once).
    public func share(of ids: [String]) -> Set<String> {
        let sorted = Set(ids).sorted()
        return Set(stride(from: index, to: sorted.count, by: count).map { sorted[$0] })
    }

    public var description: String { "\(index)/\(count)" }
}
