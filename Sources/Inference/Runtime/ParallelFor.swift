import CKernels

/// Splits `0..<count` into contiguous ranges and runs `body` on each, in parallel when
/// `workers > 1`. Ranges start at multiples of `granularity`, so workers never share a cache line of output.
/// `body` must only write to memory that no other range touches.
///
/// Parallel regions run on a persistent pool (`dera_pool_run`): decoding opens about seven regions per
/// layer per token, too many for a dispatch-queue round trip each. The range is cut into up to four shares
/// per worker, claimed dynamically (the caller takes part), so a descheduled thread delays little.
func parallelFor(workers: Int, count: Int, granularity: Int = 16, _ body: (Range<Int>) -> Void) {
    let units = (count + granularity - 1) / granularity
    let workers = max(1, min(workers, units))
    if workers == 1 {
        body(0..<count)
        return
    }
    withoutActuallyEscaping(body) { body in
        var job = ParallelJob(body: body, count: count, units: units, granularity: granularity)
        withUnsafeMutablePointer(to: &job) { pointer in
            _ = dera_pool_run(Int32(workers), Int32(min(units, 4 * workers)), { context, share, shares in
                let job = context!.assumingMemoryBound(to: ParallelJob.self)
                let units = job.pointee.units, granularity = job.pointee.granularity
                let share = Int(share), shares = Int(shares)
                let begin = units * share / shares * granularity
                let end = min(job.pointee.count, units * (share + 1) / shares * granularity)
                if begin < end { job.pointee.body(begin..<end) }
            }, pointer)
        }
    }
}

private struct ParallelJob {
    let body: (Range<Int>) -> Void
    let count: Int
    let units: Int
    let granularity: Int
}
