/* Internal helpers for arrays read from files. */
#ifndef SPINDLE_IO_ARRAY_H
#define SPINDLE_IO_ARRAY_H

#include <stdbool.h>

#include "io/stream.h"
#include "spindle/dataset.h"

/** spd_idx_read and spd_npy_read on an open stream (not closed here). */
int spd__idx_read_stream(spd__stream_t *s, uint64_t limit, spd_array_t *out);
int spd__npy_read_stream(spd__stream_t *s, spd_array_t *out);

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
