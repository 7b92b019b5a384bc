/// Ranking and thresholded metrics for a binary task where higher scores mean "positive" (supported).
public enum BinaryMetrics {
    /// Area under the ROC curve: the chance a random positive outscores a random negative (ties count half).
    /// O(n log n).
    public static func rocAUC(scores: [Double], labels: [Bool]) -> Double {
        precondition(scores.count == labels.count, "one label per score")
        let positives = labels.filter { $0 }.count, negatives = labels.count - positives
        guard positives > 0, negatives > 0 else { return .nan }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        // Mid-ranks, averaged over ties.
        var rankSum = 0.0
        var k = 0
        while k < order.count {
            var end = k
            while end + 1 < order.count, scores[order[end + 1]] == scores[order[k]] { end += 1 }
            let rank = Double(k + end) / 2 + 1
            for i in k...end where labels[order[i]] { rankSum += rank }
            k = end + 1
        }
        let p = Double(positives), n = Double(negatives)
        return (rankSum - p * (p + 1) / 2) / (p * n)
    }

    /// Mean of the true-positive and true-negative rates when scores at or above `threshold` are positive.
    public static func balancedAccuracy(scores: [Double], labels: [Bool], threshold: Double) -> Double {
        var tp = 0, tn = 0, p = 0, n = 0
        for (score, label) in zip(scores, labels) {
            if label { p += 1; if score >= threshold { tp += 1 } } else { n += 1; if score < threshold { tn += 1 } }
        }
        guard p > 0, n > 0 else { return .nan }
        return (Double(tp) / Double(p) + Double(tn) / Double(n)) / 2
    }

    /// The threshold (a midpoint between neighbouring scores) that maximises balanced accuracy on these scores.
    public static func bestThreshold(scores: [Double], labels: [Bool]) -> Double {
        let sorted = Array(Set(scores)).sorted()
        guard sorted.count > 1 else { return sorted.first ?? 0.5 }
        var candidates = [sorted[0] - 1e-9]
        for i in 1..<sorted.count { candidates.append((sorted[i - 1] + sorted[i]) / 2) }
        // Each candidate in O(n) would be quadratic; sweep instead over the sorted examples.
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        let positives = labels.filter { $0 }.count, negatives = labels.count - positives
        guard positives > 0, negatives > 0 else { return 0.5 }
        var best = (accuracy: -1.0, threshold: 0.5)
        var below = 0 // examples under the current candidate, in sorted order
        var negativesBelow = 0, positivesBelow = 0
        for candidate in candidates {
            while below < order.count, scores[order[below]] < candidate {
                if labels[order[below]] { positivesBelow += 1 } else { negativesBelow += 1 }
                below += 1
            }
            let accuracy = (Double(positives - positivesBelow) / Double(positives)
                + Double(negativesBelow) / Double(negatives)) / 2
            if accuracy > best.accuracy { best = (accuracy, candidate) }
        }
        return best.threshold
    }
}
