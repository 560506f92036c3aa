#include "io/stream.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#define IN_CHUNK (64u * 1024u)

static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
  return spd_calloc(opaque, items, size);
}

static void z_free(voidpf opaque, voidpf ptr) { spd_free(opaque, ptr); }

static int start_gzip(spd__stream_t *s) {
  s->in = spd_malloc(s->ctx, IN_CHUNK);
  if (!s->in)
    return spd_ctx_fail(s->ctx, SPD_ENOMEM, "'%s': out of memory for decompression", s->path);
  s->z.zalloc = z_alloc;
  s->z.zfree = z_free;
  s->z.opaque = s->ctx;
  /* 16 + MAX_WBITS: a gzip wrapper, its CRC and length checked at the end. */
  int zr = inflateInit2(&s->z, 16 + MAX_WBITS);
  if (zr != Z_OK)
    return spd_ctx_fail(s->ctx, zr == Z_MEM_ERROR ? SPD_ENOMEM : SPD_EIO,
                        "'%s': cannot start decompression (zlib %d)", s->path, zr);
  s->z_ready = true;
  return 0;
}

/* Takes @p f (closed by spd__stream_close, also on failure). */
static int attach(spd_ctx_t *ctx, FILE *f, const char *path, spd__stream_t *s) {
  memset(s, 0, sizeof *s);
  s->ctx = ctx;
  s->path = path;
  s->file_size = -1;
  s->file = f;
  unsigned char magic[2] = {0, 0};
  size_t n = fread(magic, 1, 2, s->file);
  s->gzip = n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  if (fseek(s->file, 0, SEEK_END) == 0)
    s->file_size = ftell(s->file);
  if (fseek(s->file, 0, SEEK_SET) != 0) {
    int err = spd_ctx_fail(ctx, SPD_EIO, "cannot seek in '%s': %s", path, strerror(errno));
    spd__stream_close(s);
    return err;
  }
  int err = s->gzip ? start_gzip(s) : 0;
  if (err)
    spd__stream_close(s);
  return err;
}

int spd__stream_open(spd_ctx_t *ctx, const char *path, spd__stream_t *s) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    memset(s, 0, sizeof *s);
    return spd_ctx_fail(ctx, errno == ENOENT ? SPD_ENOTFOUND : SPD_EIO, "cannot open '%s': %s",
                        path, strerror(errno));
  }
  return attach(ctx, f, path, s);
}

int spd__stream_open_memory(spd_ctx_t *ctx, const void *data, size_t len, const char *name,
                            spd__stream_t *s) {
  /* fmemopen in read mode never writes to the buffer. */
  FILE *f = fmemopen((void *)data, len, "rb");
  if (!f) {
    memset(s, 0, sizeof *s);
    return spd_ctx_fail(ctx, SPD_ENOMEM, "'%s': cannot open %zu bytes in memory: %s", name, len,
                        strerror(errno));
  }
  return attach(ctx, f, name, s);
}

static int read_plain(spd__stream_t *s, void *buf, size_t n, size_t *got) {
  *got = fread(buf, 1, n, s->file);
  if (*got < n && ferror(s->file))
    return spd_ctx_fail(s->ctx, SPD_EIO, "cannot read '%s'", s->path);
  return 0;
}

/* Refills the input buffer; false at the end of the file. */
static int refill(spd__stream_t *s, bool *eof) {
  size_t n = fread(s->in, 1, IN_CHUNK, s->file);
  if (n == 0 && ferror(s->file))
    return spd_ctx_fail(s->ctx, SPD_EIO, "cannot read '%s'", s->path);
  s->z.next_in = s->in;
  s->z.avail_in = (uInt)n;
  *eof = n == 0;
  return 0;
}

/* A gzip file may hold several members one after another (as `cat a.gz
 * b.gz` makes); after one ends, data that follows starts the next. */
static int next_member(spd__stream_t *s, bool *more) {
  *more = false;
  if (s->z.avail_in == 0) {
    bool eof = false;
    int err = refill(s, &eof);
    if (err || eof)
      return err;
  }
  *more = true;
  s->z_end = false;
  return inflateReset(&s->z) == Z_OK ? 0 : spd_ctx_fail(s->ctx, SPD_EIO, "'%s': zlib reset", s->path);
}

static int inflate_step(spd__stream_t *s) {
  int zr = inflate(&s->z, Z_NO_FLUSH);
  if (zr == Z_STREAM_END)
    s->z_end = true;
  else if (zr == Z_MEM_ERROR)
    return spd_ctx_fail(s->ctx, SPD_ENOMEM, "'%s': out of memory decompressing", s->path);
  else if (zr != Z_OK && zr != Z_BUF_ERROR)
    return spd_ctx_fail(s->ctx, SPD_EFORMAT, "'%s': corrupt gzip data (%s)", s->path,
                        s->z.msg ? s->z.msg : "zlib error");
  return 0;
}

static int read_gzip(spd__stream_t *s, void *buf, size_t n, size_t *got) {
  unsigned char *out = buf;
  size_t done = 0;
  while (done < n) {
    if (s->z_end) {
      bool more;
      int err = next_member(s, &more);
      if (err)
        return err;
      if (!more)
        break;
    }
    if (s->z.avail_in == 0) {
      bool eof = false;
      int err = refill(s, &eof);
      if (err)
        return err;
      if (eof)
        return spd_ctx_fail(s->ctx, SPD_EFORMAT, "'%s': truncated gzip data", s->path);
    }
    size_t want = n - done > UINT32_MAX ? UINT32_MAX : n - done;
    s->z.next_out = out + done;
    s->z.avail_out = (uInt)want;
    int err = inflate_step(s);
    done += want - s->z.avail_out;
    if (err)
      return err;
  }
  *got = done;
  return 0;
}

int spd__stream_read(spd__stream_t *s, void *buf, size_t n, size_t *got) {
  *got = 0;
  return s->gzip ? read_gzip(s, buf, n, got) : read_plain(s, buf, n, got);
}

int spd__stream_read_exact(spd__stream_t *s, void *buf, size_t n, const char *what) {
  size_t got;
  int err = spd__stream_read(s, buf, n, &got);
  if (!err && got < n)
    err = spd_ctx_fail(s->ctx, SPD_EFORMAT, "'%s': truncated: %zu of the %zu bytes of %s",
                       s->path, got, n, what);
  return err;
}

int spd__stream_expect_end(spd__stream_t *s, const char *what) {
  unsigned char extra;
  size_t got;
  int err = spd__stream_read(s, &extra, 1, &got);
  if (!err && got)
    err = spd_ctx_fail(s->ctx, SPD_EFORMAT,
                       "'%s': size mismatch: more data than the %s in its header", s->path,
                       what);
  return err;
}

void spd__stream_close(spd__stream_t *s) {
  if (s->z_ready)
    inflateEnd(&s->z);
  spd_free(s->ctx, s->in);
  if (s->file)
    fclose(s->file);
  memset(s, 0, sizeof *s);
}

/* deflate codes at most 258 bytes in one match of at least 2 bits. */
#define DEFLATE_MAX_RATIO 1032u

uint64_t spd__stream_max_bytes(const spd__stream_t *s) {
  if (s->file_size < 0)
    return UINT64_MAX;
  uint64_t n = (uint64_t)s->file_size;
  if (!s->gzip)
    return n;
  return n > UINT64_MAX / DEFLATE_MAX_RATIO ? UINT64_MAX : n * DEFLATE_MAX_RATIO;
}

bool spd__host_little_endian(void) {
  const uint16_t one = 1;
  unsigned char first;
  memcpy(&first, &one, 1);
  return first == 1;
}

void spd__swap_bytes(void *data, size_t count, size_t size) {
  unsigned char *p = data;
  for (size_t i = 0; i < count; i++, p += size)
    for (size_t a = 0, b = size - 1; a < b; a++, b--) {
      unsigned char t = p[a];
      p[a] = p[b];
      p[b] = t;
    }
}
