import Synchronization
import Testing
@testable import Inference

@Suite struct ParallelForTests {
    /// Every index is visited exactly once, ranges respect the granularity, over many back-to-back regions
    /// (the pool's generations) and nested regions (which run serially on their caller).
    @Test func everyIndexOnceAcrossManyRegions() {
        for workers in [1, 2, 3, 8] {
            for count in [0, 1, 15, 16, 17, 576, 1000] {
                for granularity in [1, 16, 64] {
                    let visits = UnsafeMutablePointer<Int>.allocate(capacity: max(count, 1))
                    visits.initialize(repeating: 0, count: max(count, 1))
                    defer { visits.deallocate() }
                    for _ in 0..<20 {
                        parallelFor(workers: workers, count: count, granularity: granularity) { range in
                            #expect(range.lowerBound % granularity == 0)
                            for i in range { visits[i] += 1 }
                            parallelFor(workers: workers, count: 4, granularity: 1) { _ in }
                        }
                    }
                    for i in 0..<count { #expect(visits[i] == 20, "workers \(workers) count \(count) index \(i)") }
                }
            }
        }
    }

    /// Back-to-back regions whose share counts alternate small and large: a worker that wakes late for a
    /// small region must not take the next region's larger count for its own and run a share twice (the pool
    /// once read the count apart from the ticket it claimed with; in a debug build that showed as "non-escaping
    /// closure has escaped" in `dera summarize`).
    @Test func alternatingShareCountsVisitEachIndexOncePerRegion() {
        let visits = UnsafeMutablePointer<Int>.allocate(capacity: 64)
        visits.initialize(repeating: 0, count: 64)
        defer { visits.deallocate() }
        var wrong = 0
        for region in 0..<20_000 {
            let count = region % 2 == 0 ? 2 : 64
            parallelFor(workers: 4, count: count, granularity: 1) { range in
                for i in range { visits[i] += 1 }
            }
            for i in 0..<count where visits[i] != 1 { wrong += 1 }
            visits.update(repeating: 0, count: 64)
        }
        #expect(wrong == 0)
    }

    /// Regions started from several threads at once all complete (one uses the pool, the others run serially).
    @Test func concurrentCallers() async {
        await withTaskGroup(of: Int.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    let total = Atomic<Int>(0)
                    for _ in 0..<200 {
                        parallelFor(workers: 2, count: 64, granularity: 1) { range in
                            total.add(range.count, ordering: .relaxed)
                        }
                    }
                    return total.load(ordering: .relaxed)
                }
            }
            for await total in group { #expect(total == 200 * 64) }
        }
    }
}
