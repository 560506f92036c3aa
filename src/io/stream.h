/* A byte stream over a file that may be gzip-compressed: the compression is
 * recognised by the gzip magic bytes (1f 8b), not by the file's name. zlib
 * allocates through the context's allocator. */
#ifndef SPINDLE_IO_STREAM_H
#define SPINDLE_IO_STREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <zlib.h>

#include "spindle/context.h"

typedef struct spd__stream {
  spd_ctx_t *ctx;
  const char *path;       /* borrowed, for diagnostics */
  FILE *file;
  bool gzip;
  bool z_ready;           /* inflateInit2 succeeded */
  bool z_end;             /* the current gzip member ended */
  z_stream z;
  unsigned char *in;      /* compressed input buffer (gzip only) */
  long file_size;         /* bytes in the file, -1 if unknown */
} spd__stream_t;

/** Open @p path (borrowed until close). @return 0, SPD_EIO, SPD_ENOMEM. */
int spd__stream_open(spd_ctx_t *ctx, const char *path, spd__stream_t *s);

/** A stream over @p len bytes at @p data (borrowed until close, never
 *  written), named @p name in diagnostics: the readers on bytes that are
 *  not a file (the fuzz harnesses in tests/fuzz). @return 0, SPD_ENOMEM. */
int spd__stream_open_memory(spd_ctx_t *ctx, const void *data, size_t len, const char *name,
                            spd__stream_t *s);

/** Read up to @p n bytes into @p buf; *got < n only at the clean end of the
 *  data. @return 0, SPD_EIO, SPD_EFORMAT (corrupt or truncated gzip),
 *  SPD_ENOMEM, with a diagnostic naming the file. */
int spd__stream_read(spd__stream_t *s, void *buf, size_t n, size_t *got);

/** Read exactly @p n bytes of @p what; a short read is SPD_EFORMAT
 *  ("truncated"). */
int spd__stream_read_exact(spd__stream_t *s, void *buf, size_t n, const char *what);

/** Fails with SPD_EFORMAT when any data is left; @p what names the part the
 *  header announced. */
int spd__stream_expect_end(spd__stream_t *s, const char *what);

void spd__stream_close(spd__stream_t *s);

/** The most bytes the stream's data can hold, for checking a header's
 *  announced size before allocating for it: the file's size when it is not
 *  compressed, at most 1032 times it when it is gzip (deflate's largest
 *  ratio, RFC 1951's 258-byte matches coded in 2 bits), UINT64_MAX when the
 *  size is unknown. */
uint64_t spd__stream_max_bytes(const spd__stream_t *s);

/** True on a little-endian host. */
bool spd__host_little_endian(void);
/** Reverse the bytes of each of @p count elements of @p size bytes. */
void spd__swap_bytes(void *data, size_t count, size_t size);

#endif
