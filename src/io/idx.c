/* IDX files (the MNIST format): a 4-byte magic 00 00 TYPE RANK, RANK
 * big-endian uint32 dimensions, then the elements, big-endian, C order
 * (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT"). */
#include <inttypes.h>
#include <string.h>

#include "io/array.h"
#include "io/stream.h"

typedef struct idx_header {
  spd_dtype_t dtype;
  int rank;
  uint64_t dims[SPD_ARRAY_MAX_RANK];
} idx_header_t;

static bool idx_dtype(unsigned code, spd_dtype_t *t) {
  switch (code) {
  case 0x08: *t = SPD_DTYPE_U8; return true;
  case 0x09: *t = SPD_DTYPE_I8; return true;
  case 0x0B: *t = SPD_DTYPE_I16; return true;
  case 0x0C: *t = SPD_DTYPE_I32; return true;
  case 0x0D: *t = SPD_DTYPE_F32; return true;
  case 0x0E: *t = SPD_DTYPE_F64; return true;
  default: return false;
  }
}

static int read_header(spd__stream_t *s, idx_header_t *h) {
  unsigned char magic[4];
  int err = spd__stream_read_exact(s, magic, 4, "the IDX magic number");
  if (err)
    return err;
  if (magic[0] || magic[1] || !idx_dtype(magic[2], &h->dtype) || magic[3] > SPD_ARRAY_MAX_RANK)
    return spd_ctx_fail(s->ctx, SPD_EFORMAT,
                        "'%s': not an IDX file: bad magic %02x %02x %02x %02x (expected 00 00, "
                        "a type 08/09/0b/0c/0d/0e and a rank up to %d)",
                        s->path, magic[0], magic[1], magic[2], magic[3], SPD_ARRAY_MAX_RANK);
  h->rank = magic[3];
  for (int i = 0; i < h->rank; i++) {
    unsigned char d[4];
    err = spd__stream_read_exact(s, d, 4, "the IDX dimensions");
    if (err)
      return err;
    h->dims[i] = (uint64_t)d[0] << 24 | (uint64_t)d[1] << 16 | (uint64_t)d[2] << 8 | d[3];
  }
  return 0;
}

/* A header announcing more data than the file can hold (gzip or not) is
 * caught before allocating for it. */
static int check_size(spd__stream_t *s, const idx_header_t *h, size_t bytes) {
  uint64_t header = 4 + 4 * (uint64_t)h->rank, max = spd__stream_max_bytes(s);
  if (max == UINT64_MAX || (max >= header && bytes <= max - header))
    return 0;
  if (s->gzip)
    return spd_ctx_fail(s->ctx, SPD_EFORMAT,
                        "'%s': truncated: the header announces %zu bytes of data, more than "
                        "%ld bytes of gzip can hold", s->path, bytes, s->file_size);
  return spd_ctx_fail(s->ctx, SPD_EFORMAT,
                      "'%s': truncated: the header announces %zu bytes of data, the file "
                      "holds %" PRIu64, s->path, bytes, max > header ? max - header : 0);
}

static int read_body(spd__stream_t *s, const idx_header_t *h, uint64_t limit,
                     spd_array_t *out) {
  spd_array_t a = {.dtype = h->dtype, .rank = h->rank, .ctx = s->ctx};
  memcpy(a.dims, h->dims, sizeof a.dims);
  if (limit && a.rank > 0 && a.dims[0] > limit)
    a.dims[0] = limit;
  size_t elem = spd_dtype_size(a.dtype), bytes;
  if (!spd__array_bytes(a.dims, a.rank, elem, &bytes))
    return spd_ctx_fail(s->ctx, SPD_EFORMAT, "'%s': dimensions too large", s->path);
  int err = check_size(s, h, bytes);
  if (err)
    return err;
  a.data = spd_malloc(s->ctx, bytes);
  if (!a.data)
    return spd_ctx_fail(s->ctx, SPD_ENOMEM, "'%s': out of memory for %zu bytes of data",
                        s->path, bytes);
  err = spd__stream_read_exact(s, a.data, bytes, "data the header announces");
  if (!err && (!limit || a.rank == 0 || h->dims[0] <= limit))
    err = spd__stream_expect_end(s, "dimensions");
  if (err) {
    spd_free(s->ctx, a.data);
    return err;
  }
  if (elem > 1 && spd__host_little_endian())
    spd__swap_bytes(a.data, bytes / elem, elem);
  *out = a;
  return 0;
}

int spd__idx_read_stream(spd__stream_t *s, uint64_t limit, spd_array_t *out) {
  idx_header_t h = {0};
  int err = read_header(s, &h);
  return err ? err : read_body(s, &h, limit, out);
}

int spd_idx_read(spd_ctx_t *ctx, const char *path, uint64_t limit, spd_array_t *out) {
  spd__stream_t s;
  int err = spd__stream_open(ctx, path, &s);
  if (err)
    return err;
  err = spd__idx_read_stream(&s, limit, out);
  spd__stream_close(&s);
  return err;
}
