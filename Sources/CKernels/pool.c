// A persistent worker pool for the many small parallel regions of decoding (about 7 matrix products per
// layer per token): threads are created once, spin briefly on a generation counter between regions and
// then sleep on a futex, and the caller takes part, so a region costs a few hundred nanoseconds instead of
// a dispatch-queue round trip.
//
// The machine is shared, so any thread may be descheduled for a whole time slice. Shares are therefore
// claimed from a ticket that carries the region's generation, and the caller waits for shares to finish,
// not for workers to show up: a worker that wakes late finds nothing left (or a newer region) and the
// caller never waits for a thread that has not started a share.
#include "CKernelsPool.h"
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define MAX_THREADS 64
// Pause iterations a worker spins before it sleeps (tens of microseconds).
#define SPIN_ITERATIONS 4000

typedef struct {
    _Alignas(64) unsigned generation;  // bumped by the caller for every region; futex word
    int sleepers;                      // workers waiting on the futex
    _Alignas(64) uint64_t ticket;      // TICKET(generation, shares) + next unclaimed share
    _Alignas(64) int done;             // shares finished in the current region
    _Alignas(64) dera_pool_fn fn;
    void *context;
    int threads;                       // worker threads (the caller is not counted)
    int busy;                          // a region is running (nested or concurrent callers go serial)
    pthread_t tid[MAX_THREADS];
} pool_t;

static pool_t g_pool;
static pthread_mutex_t g_grow = PTHREAD_MUTEX_INITIALIZER;

static void futex_wait(unsigned *addr, unsigned expected) {
#if defined(__linux__)
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
#else
    (void)addr; (void)expected;
    sched_yield();
#endif
}

static void futex_wake_all(unsigned *addr) {
#if defined(__linux__)
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#else
    (void)addr;
#endif
}

// The ticket packs everything a claim must agree on into one word: the region's generation (high 32 bits),
// its share count (next 16) and the next unclaimed share (low 16). A worker compares the share against the
// count from the same word it claims with, so a late worker never pairs one region's ticket with another
// region's count (it once did: fn, context and shares were read as plain fields before the claim, a worker
// could see a newer region's larger count beside the finished region's ticket, claim a share that did not
// exist and run a dead region's job while the caller had moved on). After a successful claim the region
// cannot finish before this share is counted done, so fn and context read then are the claimed region's.
#define TICKET(generation, shares) (((uint64_t)(generation) << 32) | ((uint64_t)(shares) << 16))
#define MAX_SHARES 0xffff

static void run_shares(pool_t *p, unsigned generation) {
    uint64_t t = __atomic_load_n(&p->ticket, __ATOMIC_ACQUIRE);
    for (;;) {
        const int next = (int)(t & 0xffff), shares = (int)((t >> 16) & 0xffff);
        if ((unsigned)(t >> 32) != generation || next >= shares) return;
        if (!__atomic_compare_exchange_n(&p->ticket, &t, t + 1, 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) continue;
        const dera_pool_fn fn = p->fn;
        void *const context = p->context;
        fn(context, next, shares);
        __atomic_add_fetch(&p->done, 1, __ATOMIC_RELEASE);
        t = __atomic_load_n(&p->ticket, __ATOMIC_ACQUIRE);
    }
}

static void *worker_main(void *arg) {
    (void)arg;
    pool_t *p = &g_pool;
    unsigned seen = __atomic_load_n(&p->generation, __ATOMIC_ACQUIRE);
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = __atomic_load_n(&p->generation, __ATOMIC_ACQUIRE)) == seen) {
            if (++spins < SPIN_ITERATIONS) {
                CPU_RELAX();
                continue;
            }
            __atomic_add_fetch(&p->sleepers, 1, __ATOMIC_SEQ_CST);
            if (__atomic_load_n(&p->generation, __ATOMIC_SEQ_CST) == seen) futex_wait(&p->generation, seen);
            __atomic_sub_fetch(&p->sleepers, 1, __ATOMIC_SEQ_CST);
            spins = 0;
        }
        seen = g;
        run_shares(p, g);
    }
    return NULL;
}

static int ensure_threads(int wanted) {
    pool_t *p = &g_pool;
    if (wanted > MAX_THREADS) wanted = MAX_THREADS;
    if (__atomic_load_n(&p->threads, __ATOMIC_ACQUIRE) >= wanted) return wanted;
    pthread_mutex_lock(&g_grow);
    while (p->threads < wanted) {
        if (pthread_create(&p->tid[p->threads], NULL, worker_main, NULL) != 0) break;
        __atomic_store_n(&p->threads, p->threads + 1, __ATOMIC_RELEASE);
    }
    const int have = p->threads;
    pthread_mutex_unlock(&g_grow);
    return have < wanted ? have : wanted;
}

int dera_pool_run(int threads, int shares, dera_pool_fn fn, void *context) {
    pool_t *p = &g_pool;
    if (threads > shares) threads = shares;
    if (threads <= 1 || shares > MAX_SHARES) {
        for (int i = 0; i < shares; i++) fn(context, i, shares);
        return 1;
    }
    int expected = 0;
    if (!__atomic_compare_exchange_n(&p->busy, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        // Nested or concurrent region: run every share here.
        for (int i = 0; i < shares; i++) fn(context, i, shares);
        return 0;
    }
    // Workers beyond `threads - 1` may also take shares; that changes no result, only who computes.
    ensure_threads(threads - 1);
    const unsigned generation = p->generation + 1;
    p->fn = fn;
    p->context = context;
    __atomic_store_n(&p->done, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&p->ticket, TICKET(generation, shares), __ATOMIC_RELEASE);
    __atomic_store_n(&p->generation, generation, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&p->sleepers, __ATOMIC_SEQ_CST) > 0) futex_wake_all(&p->generation);
    run_shares(p, generation);
    // Shares still running belong to workers that may have been descheduled: after a short spin, yield
    // the core instead of competing with them for it.
    for (int spins = 0; __atomic_load_n(&p->done, __ATOMIC_ACQUIRE) < shares; spins++) {
        if (spins < 2000) CPU_RELAX();
        else sched_yield();
    }
    __atomic_store_n(&p->busy, 0, __ATOMIC_RELEASE);
    return 1;
}
