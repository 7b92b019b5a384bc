#ifndef DERA_CKERNELS_H
#define DERA_CKERNELS_H
#include <stddef.h>
#include <stdint.h>
#endif
