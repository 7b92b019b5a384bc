#ifndef DERA_CKERNELS_POOL_H
#define DERA_CKERNELS_POOL_H

#ifdef __cplusplus
extern "C" {
#endif

// One share of a parallel region: share in [0, shares).
typedef void (*dera_pool_fn)(void *context, int share, int shares);

// Runs fn(context, i, shares) for every share in [0, shares) on up to `threads` threads: the calling
// thread and persistent workers (created on first use, kept for the process), each claiming the next
// unclaimed share. Returns after every share has finished. A region started while another runs (nested or
// from another thread) runs serially on its caller.
int dera_pool_run(int threads, int shares, dera_pool_fn fn, void *context);

#ifdef __cplusplus
}
#endif
#endif
