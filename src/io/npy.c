/* NumPy .npy files (numpy.lib.format, "NEP 1"): the magic "\x93NUMPY", a
 * major and minor version, the header length (uint16 little-endian in 1.0,
 * uint32 in 2.0 and 3.0), a Python dict literal with 'descr',
 * 'fortran_order' and 'shape', padded with spaces and a newline, then the
 * elements. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/array.h"
#include "io/file.h"
#include "io/stream.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_HEADER_MAX (1u << 20)
/* numpy aligns the data to 64 bytes. */
#define NPY_ALIGN 64

typedef struct npy_header {
  spd_dtype_t dtype;
  bool swap;          /* stored in the other byte order than the host's */
  int rank;
  uint64_t dims[SPD_ARRAY_MAX_RANK];
} npy_header_t;

/* The type letters and sizes numpy writes in 'descr', by spd_dtype_t. */
static const char *const descr_codes[SPD_DTYPE_COUNT] = {"u1", "i1", "u2", "i2",
                                                          "i4", "i8", "f4", "f8"};

/* Points after `'key':` (or "key":) in the dict, or NULL. */
static const char *find_key(const char *dict, const char *key) {
  char quoted[32];
  for (int q = 0; q < 2; q++) {
    snprintf(quoted, sizeof quoted, "%c%s%c", q ? '"' : '\'', key, q ? '"' : '\'');
    const char *p = strstr(dict, quoted);
    if (!p)
      continue;
    p += strlen(quoted);
    while (isspace((unsigned char)*p))
      p++;
    if (*p != ':')
      return NULL;
    p++;
    while (isspace((unsigned char)*p))
      p++;
    return p;
  }
  return NULL;
}

static int bad_header(spd__stream_t *s, const char *what) {
  return spd_ctx_fail(s->ctx, SPD_EFORMAT, "'%s': malformed .npy header: %s", s->path, what);
}

static int parse_descr(spd__stream_t *s, const char *dict, npy_header_t *h) {
  const char *p = find_key(dict, "descr");
  if (!p || (*p != '\'' && *p != '"'))
    return bad_header(s, "no 'descr' string");
  const char *end = strchr(p + 1, *p);
  if (!end || end - p - 1 > 8)
    return bad_header(s, "bad 'descr'");
  char descr[9];
  snprintf(descr, sizeof descr, "%.*s", (int)(end - p - 1), p + 1);
  const char *code = descr;
  char order = strchr("<>|=", descr[0]) && descr[0] ? descr[0] : '=';
  if (code[0] && strchr("<>|=", code[0]))
    code++;
  for (int t = 0; t < SPD_DTYPE_COUNT; t++)
    if (!strcmp(code, descr_codes[t])) {
      h->dtype = (spd_dtype_t)t;
      bool little = order == '<' || ((order == '=' || order == '|') && spd__host_little_endian());
      h->swap = spd_dtype_size(h->dtype) > 1 && little != spd__host_little_endian();
      return 0;
    }
  return spd_ctx_fail(s->ctx, SPD_EUNSUPPORTED,
                      "'%s': dtype '%s' not supported (u1 i1 u2 i2 i4 i8 f4 f8)", s->path, descr);
}

static int parse_order(spd__stream_t *s, const char *dict) {
  const char *p = find_key(dict, "fortran_order");
  if (p && !strncmp(p, "False", 5))
    return 0;
  if (p && !strncmp(p, "True", 4))
    return spd_ctx_fail(s->ctx, SPD_EUNSUPPORTED,
                        "'%s': Fortran-ordered array (fortran_order True) not supported; "
                        "save it C-ordered (numpy.ascontiguousarray)", s->path);
  return bad_header(s, "no 'fortran_order' True/False");
}

static int parse_shape(spd__stream_t *s, const char *dict, npy_header_t *h) {
  const char *p = find_key(dict, "shape");
  if (!p || *p != '(')
    return bad_header(s, "no 'shape' tuple");
  p++;
  h->rank = 0;
  for (;;) {
    while (isspace((unsigned char)*p) || *p == ',')
      p++;
    if (*p == ')')
      return 0;
    if (!isdigit((unsigned char)*p))
      return bad_header(s, "bad 'shape'");
    if (h->rank == SPD_ARRAY_MAX_RANK)
      return spd_ctx_fail(s->ctx, SPD_EUNSUPPORTED, "'%s': rank above %d", s->path,
                          SPD_ARRAY_MAX_RANK);
    char *end;
    h->dims[h->rank++] = strtoull(p, &end, 10);
    p = end;
    if (*p == 'L') /* Python 2 long literals */
      p++;
  }
}

static int read_dict(spd__stream_t *s, char **dict) {
  unsigned char pre[NPY_MAGIC_LEN + 2];
  int err = spd__stream_read_exact(s, pre, sizeof pre, "the .npy magic");
  if (err)
    return err;
  if (memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) || pre[6] < 1 || pre[6] > 3)
    return spd_ctx_fail(s->ctx, SPD_EFORMAT,
                        "'%s': not a .npy file (bad magic or version %u.%u)", s->path, pre[6],
                        pre[7]);
  unsigned char len_bytes[4] = {0, 0, 0, 0};
  err = spd__stream_read_exact(s, len_bytes, pre[6] == 1 ? 2 : 4, "the .npy header length");
  if (err)
    return err;
  uint32_t len = len_bytes[0] | len_bytes[1] << 8 | (uint32_t)len_bytes[2] << 16 |
                 (uint32_t)len_bytes[3] << 24;
  if (len > NPY_HEADER_MAX)
    return bad_header(s, "longer than 1 MB");
  *dict = spd_malloc(s->ctx, len + 1);
  if (!*dict)
    return spd_ctx_fail(s->ctx, SPD_ENOMEM, "'%s': out of memory", s->path);
  err = spd__stream_read_exact(s, *dict, len, "the .npy header");
  if (err) {
    spd_free(s->ctx, *dict);
    return err;
  }
  (*dict)[len] = '\0';
  return 0;
}

static int read_header(spd__stream_t *s, npy_header_t *h) {
  char *dict;
  int err = read_dict(s, &dict);
  if (err)
    return err;
  err = parse_descr(s, dict, h);
  if (!err)
    err = parse_order(s, dict);
  if (!err)
    err = parse_shape(s, dict, h);
  spd_free(s->ctx, dict);
  return err;
}

static int read_data(spd__stream_t *s, const npy_header_t *h, spd_array_t *out) {
  spd_array_t a = {.dtype = h->dtype, .rank = h->rank, .ctx = s->ctx};
  memcpy(a.dims, h->dims, sizeof a.dims);
  size_t elem = spd_dtype_size(a.dtype), bytes;
  if (!spd__array_bytes(a.dims, a.rank, elem, &bytes))
    return spd_ctx_fail(s->ctx, SPD_EFORMAT, "'%s': shape too large", s->path);
  if (bytes > spd__stream_max_bytes(s))
    return spd_ctx_fail(s->ctx, SPD_EFORMAT,
                        "'%s': truncated: the shape needs %zu bytes, the file %s %ld", s->path,
                        bytes, s->gzip ? "is gzip of" : "has", s->file_size);
  a.data = spd_malloc(s->ctx, bytes);
  if (!a.data)
    return spd_ctx_fail(s->ctx, SPD_ENOMEM, "'%s': out of memory for %zu bytes", s->path, bytes);
  int err = spd__stream_read_exact(s, a.data, bytes, "data the shape announces");
  if (!err)
    err = spd__stream_expect_end(s, "shape");
  if (err) {
    spd_free(s->ctx, a.data);
    return err;
  }
  if (h->swap)
    spd__swap_bytes(a.data, bytes / elem, elem);
  *out = a;
  return 0;
}

int spd__npy_read_stream(spd__stream_t *s, spd_array_t *out) {
  npy_header_t h = {0};
  int err = read_header(s, &h);
  return err ? err : read_data(s, &h, out);
}

int spd_npy_read(spd_ctx_t *ctx, const char *path, spd_array_t *out) {
  spd__stream_t s;
  int err = spd__stream_open(ctx, path, &s);
  if (err)
    return err;
  err = spd__npy_read_stream(&s, out);
  spd__stream_close(&s);
  return err;
}

/* The dict numpy writes, padded so that the data starts 64-byte aligned;
 * returns its length (0 if it does not fit in @p cap). */
static size_t format_dict(const spd_array_t *a, size_t prefix, char *buf, size_t cap) {
  const char *order = spd_dtype_size(a->dtype) == 1 ? "|" : "<";
  int n = snprintf(buf, cap, "{'descr': '%s%s', 'fortran_order': False, 'shape': (", order,
                   descr_codes[a->dtype]);
  for (int i = 0; i < a->rank && n > 0 && (size_t)n < cap; i++)
    n += snprintf(buf + n, cap - (size_t)n, "%" PRIu64 "%s", a->dims[i],
                  a->rank == 1 ? "," : (i + 1 < a->rank ? ", " : ""));
  if (n > 0 && (size_t)n < cap)
    n += snprintf(buf + n, cap - (size_t)n, "), }");
  size_t len = (size_t)n + 1; /* with the final newline */
  size_t padded = (prefix + len + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN - prefix;
  if (n < 0 || padded >= cap)
    return 0;
  memset(buf + n, ' ', padded - (size_t)n);
  buf[padded - 1] = '\n';
  return padded;
}

/* Elements in little-endian order, swapping through a bounce buffer on a
 * big-endian host. */
static bool write_elements(FILE *f, const spd_array_t *a, size_t bytes) {
  size_t elem = spd_dtype_size(a->dtype);
  if (elem == 1 || spd__host_little_endian())
    return fwrite(a->data, 1, bytes, f) == bytes;
  unsigned char chunk[4096];
  for (size_t off = 0; off < bytes; off += sizeof chunk) {
    size_t n = bytes - off < sizeof chunk ? bytes - off : sizeof chunk;
    memcpy(chunk, (const unsigned char *)a->data + off, n);
    spd__swap_bytes(chunk, n / elem, elem);
    if (fwrite(chunk, 1, n, f) != n)
      return false;
  }
  return true;
}

/* What spd_npy_write puts in the file: header, padded dict, elements. */
typedef struct npy_out {
  const spd_array_t *a;
  size_t bytes;
  char dict[512];
  size_t dict_len;
} npy_out_t;

/* Version 1.0: magic, 2 version bytes, a 2-byte length; the dict of a rank-8
 * array stays far below its 65535-byte limit. */
static bool write_npy(FILE *f, void *arg) {
  const npy_out_t *o = arg;
  size_t len = o->dict_len;
  unsigned char pre[NPY_MAGIC_LEN + 4] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                          (unsigned char)(len & 0xff), (unsigned char)(len >> 8)};
  return fwrite(pre, 1, sizeof pre, f) == sizeof pre && fwrite(o->dict, 1, len, f) == len &&
         write_elements(f, o->a, o->bytes);
}

int spd_npy_write(spd_ctx_t *ctx, const char *path, const spd_array_t *a) {
  size_t bytes;
  if ((unsigned)a->dtype >= SPD_DTYPE_COUNT || a->rank < 0 || a->rank > SPD_ARRAY_MAX_RANK ||
      !spd__array_bytes(a->dims, a->rank, spd_dtype_size(a->dtype), &bytes) ||
      (bytes && !a->data))
    return spd_ctx_fail(ctx, SPD_EINVAL, "writing '%s': invalid array", path);
  npy_out_t out = {.a = a, .bytes = bytes};
  out.dict_len = format_dict(a, NPY_MAGIC_LEN + 4, out.dict, sizeof out.dict);
  return spd__write_file_with(ctx, path, write_npy, &out);
}
