#include <cblas.h>
// OpenBLAS extension: its worker threads spin, so callers set the count explicitly.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

// dera parallelises around OpenBLAS (its own workers, each calling single-threaded sgemm), and the thread count is
// process-wide: every model that uses OpenBLAS calls this, and nothing sets another count. OpenBLAS starts at the
// core count, and a count changed while a decoder runs changes how its products run (docs/retrieval.md).
static inline void dera_openblas_use_one_thread(void) { openblas_set_num_threads(1); }
