// libFuzzer's entry points that the Swift harness calls; the symbols come from the libFuzzer runtime that
// `-sanitize=fuzzer` links in.
#include <stddef.h>
#include <stdint.h>

typedef int (*dera_fuzz_callback)(const uint8_t *data, size_t size);

/// Runs libFuzzer's driver with the given command line (the main() libFuzzer would otherwise supply).
int LLVMFuzzerRunDriver(int *argc, char ***argv, dera_fuzz_callback callback);

/// libFuzzer's own mutators, for a custom mutator to fall back on.
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
