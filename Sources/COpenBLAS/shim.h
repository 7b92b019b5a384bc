#include <cblas.h>
// OpenBLAS extension: its worker threads spin, so callers set the count explicitly.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
