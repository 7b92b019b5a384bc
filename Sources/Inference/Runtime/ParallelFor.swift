import Dispatch

/// Splits `0..<count` into one contiguous range per worker and runs `body` on each, in parallel when
/// `workers > 1`. Ranges start at multiples of `granularity`, so workers never share a cache line of output.
/// `body` must only write to memory that no other range touches.
func parallelFor(workers: Int, count: Int, granularity: Int = 16, _ body: (Range<Int>) -> Void) {
    let workers = max(1, min(workers, (count + granularity - 1) / granularity))
    if workers == 1 {
        body(0..<count)
        return
    }
    let units = (count + granularity - 1) / granularity
    withoutActuallyEscaping(body) { body in
        let task = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let begin = units * worker / workers * granularity
            let end = min(count, units * (worker + 1) / workers * granularity)
            if begin < end { task.value(begin..<end) }
        }
    }
}

/// Carries a value the compiler cannot prove Sendable into a parallel region whose ranges are disjoint.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
