/* Element types and n-dimensional arrays read from files. */
#include <string.h>

#include "spindle/dataset.h"

static const size_t dtype_sizes[SPD_DTYPE_COUNT] = {1, 1, 2, 2, 4, 8, 4, 8};
static const char *const dtype_names[SPD_DTYPE_COUNT] = {
    "uint8", "int8", "uint16", "int16", "int32", "int64", "float32", "float64"};

size_t spd_dtype_size(spd_dtype_t t) {
  return (unsigned)t < SPD_DTYPE_COUNT ? dtype_sizes[t] : 0;
}

const char *spd_dtype_name(spd_dtype_t t) {
  return (unsigned)t < SPD_DTYPE_COUNT ? dtype_names[t] : "?";
}

uint64_t spd_array_count(const spd_array_t *a) {
  uint64_t n = 1;
  for (int i = 0; i < a->rank; i++)
    n *= a->dims[i];
  return n;
}

void spd_array_free(spd_array_t *a) {
  if (!a)
    return;
  spd_free(a->ctx, a->data);
  memset(a, 0, sizeof *a);
}
