/* Internal helpers for arrays read from files. */
#ifndef SPINDLE_IO_ARRAY_H
#define SPINDLE_IO_ARRAY_H

#include <stdbool.h>

#include "spindle/dataset.h"

/** Bytes of @p rank dims of @p elem bytes each, or false when the product
 *  overflows size_t. */
static inline bool spd__array_bytes(const uint64_t *dims, int rank, size_t elem, size_t *bytes) {
  uint64_t n = elem;
  for (int i = 0; i < rank; i++) {
    if (dims[i] && n > UINT64_MAX / dims[i])
      return false;
    n *= dims[i];
  }
  if (n > SIZE_MAX)
    return false;
  *bytes = (size_t)n;
  return true;
}

#endif
