// A persistent worker pool for the many small parallel regions of decoding (about 7 matrix products per
// layer per token): threads are created once, spin briefly on a generation counter between regions and
// then sleep on a futex, and the caller runs one share itself, so a region costs a few hundred nanoseconds
// instead of a dispatch-queue round trip. Shares are claimed from a counter, so a participant that the
// shared machine deschedules does not hold up the others.
#include "CKernelsPool.h"
#include <limits.h>
#include <pthread.h>
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
// Pause iterations a worker spins before it sleeps (roughly 50-100 microseconds).
#define SPIN_ITERATIONS 4000

typedef struct {
    _Alignas(64) unsigned generation;  // bumped by the caller for every region; futex word
    int sleepers;                      // workers waiting on the futex
    _Alignas(64) int pending;          // workers of the current region not finished yet
    _Alignas(64) int next;             // next unclaimed share
    _Alignas(64) dera_pool_fn fn;
    void *context;
    int shares;                        // shares in the current region
    int helpers;                       // workers taking part in the current region
    int threads;                       // worker threads (the caller is not counted)
    int busy;                          // a region is running (nested or concurrent callers go serial)
    int stop;
    pthread_t tid[MAX_THREADS];
} pool_t;

static pool_t g_pool;
// The generation each worker starts from: set before it is created (inside a region, before the
// region's generation bump), so a thread that starts late still sees that region.
static unsigned g_start_generation[MAX_THREADS + 1];
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

// Claims shares until none is left: a participant that is descheduled (the machine is shared) leaves its
// shares to the others instead of holding up the region.
static void run_shares(pool_t *p) {
    const int shares = p->shares;
    for (;;) {
        const int share = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED);
        if (share >= shares) return;
        p->fn(p->context, share, shares);
    }
}

static void *worker_main(void *arg) {
    const int index = (int)(intptr_t)arg;  // 1-based share index
    pool_t *p = &g_pool;
    unsigned seen = g_start_generation[index];
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
        if (__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) return NULL;
        if (index <= p->helpers) {
            run_shares(p);
            __atomic_sub_fetch(&p->pending, 1, __ATOMIC_ACQ_REL);
        }
    }
}

static int ensure_threads(int wanted) {
    pool_t *p = &g_pool;
    if (wanted > MAX_THREADS) wanted = MAX_THREADS;
    if (__atomic_load_n(&p->threads, __ATOMIC_ACQUIRE) >= wanted) return wanted;
    pthread_mutex_lock(&g_grow);
    while (p->threads < wanted) {
        g_start_generation[p->threads + 1] = __atomic_load_n(&p->generation, __ATOMIC_ACQUIRE);
        if (pthread_create(&p->tid[p->threads], NULL, worker_main, (void *)(intptr_t)(p->threads + 1)) != 0) break;
        __atomic_store_n(&p->threads, p->threads + 1, __ATOMIC_RELEASE);
    }
    const int have = p->threads;
    pthread_mutex_unlock(&g_grow);
    return have < wanted ? have : wanted;
}

int dera_pool_run(int threads, int shares, dera_pool_fn fn, void *context) {
    pool_t *p = &g_pool;
    if (threads > shares) threads = shares;
    if (threads <= 1) {
        for (int i = 0; i < shares; i++) fn(context, i, shares);
        return 1;
    }
    int expected = 0;
    if (!__atomic_compare_exchange_n(&p->busy, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        // Nested or concurrent region: run every share here.
        for (int i = 0; i < shares; i++) fn(context, i, shares);
        return 0;
    }
    // If threads cannot be created, fewer workers take part; the shares are the same.
    const int workers = ensure_threads(threads - 1);
    p->fn = fn;
    p->context = context;
    p->shares = shares;
    p->helpers = workers;
    p->next = 0;
    __atomic_store_n(&p->pending, workers, __ATOMIC_RELEASE);
    __atomic_add_fetch(&p->generation, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&p->sleepers, __ATOMIC_SEQ_CST) > 0) futex_wake_all(&p->generation);
    run_shares(p);
    while (__atomic_load_n(&p->pending, __ATOMIC_ACQUIRE) > 0) CPU_RELAX();
    __atomic_store_n(&p->busy, 0, __ATOMIC_RELEASE);
    return 1;
}
