/* The IDX reader (idx.c, through stream.c, gzip or not), whole and with a
 * sample limit: any bytes are read or refused without a crash, and an array
 * read holds exactly the bytes its dimensions announce. */
#include "fuzz.h"
#include "io/array.h"

static void read_idx(const uint8_t *data, size_t size, uint64_t limit) {
  spd_ctx_t ctx;
  fuzz_ctx_init(&ctx);
  spd__stream_t s;
  if (spd__stream_open_memory(&ctx, data, size, "fuzz.idx", &s))
    return;
  spd_array_t a;
  if (spd__idx_read_stream(&s, limit, &a) == 0) {
    size_t bytes;
    FUZZ_CHECK(spd__array_bytes(a.dims, a.rank, spd_dtype_size(a.dtype), &bytes));
    FUZZ_CHECK(!limit || a.rank == 0 || a.dims[0] <= limit);
    fuzz_touch(a.data, bytes);
    spd_array_free(&a);
  }
  spd__stream_close(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  read_idx(data, size, 0);
  read_idx(data, size, 2);
  return 0;
}
