/* The .npy reader (npy.c, through stream.c, gzip or not): any bytes are read
 * or refused without a crash, and an array read holds exactly the bytes its
 * shape announces. */
#include <string.h>

#include "fuzz.h"
#include "io/array.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  spd_ctx_t ctx;
  fuzz_ctx_init(&ctx);
  spd__stream_t s;
  if (spd__stream_open_memory(&ctx, data, size, "fuzz.npy", &s))
    return 0;
  spd_array_t a;
  if (spd__npy_read_stream(&s, &a) == 0) {
    size_t bytes;
    FUZZ_CHECK(spd__array_bytes(a.dims, a.rank, spd_dtype_size(a.dtype), &bytes));
    fuzz_touch(a.data, bytes);
    spd_array_free(&a);
  }
  spd__stream_close(&s);
  return 0;
}
