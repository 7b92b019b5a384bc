// Declarations only (see include/fuzzer_driver.h); SwiftPM needs one source file per C target.
#include "fuzzer_driver.h"
