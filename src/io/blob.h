/* A checkpoint's binary state payload: a sequence of named arrays, each
 * [u32 name length][name][u32 element size][u64 count][count * size bytes],
 * little-endian as the host writes it (docs/formats.md "Checkpoints"). The
 * reader asks for the records in the order they were written, by name and
 * size, so a payload of another model or optimizer is refused at its first
 * differing record instead of being read as something else. */
#ifndef SPINDLE_IO_BLOB_H
#define SPINDLE_IO_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "spindle/context.h"

/** A growing payload. The first failure sticks in @c err (SPD_ENOMEM with a
 *  diagnostic in @c ctx); later puts do nothing. */
typedef struct spd__blob {
  spd_ctx_t *ctx;
  uint8_t *data;
  size_t len, cap;
  int err;
} spd__blob_t;

void spd__blob_init(spd__blob_t *b, spd_ctx_t *ctx);
void spd__blob_free(spd__blob_t *b);

/** Append the record @p name of @p count elements of @p elem bytes. */
void spd__blob_put(spd__blob_t *b, const char *name, const void *data, size_t elem,
                   size_t count);

/** Reads records in order from a payload it borrows. */
typedef struct spd__blob_reader {
  spd_ctx_t *ctx;
  const char *file;          /* for messages */
  const uint8_t *data;
  size_t len, pos;
} spd__blob_reader_t;

/** Read the next record into @p out: it must be called @p name and hold
 *  @p count elements of @p elem bytes.
 *  @return 0 or SPD_EFORMAT naming the record expected and what was found. */
int spd__blob_get(spd__blob_reader_t *r, const char *name, void *out, size_t elem,
                  size_t count);

#endif
