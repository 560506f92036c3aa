/* Whole-file reads and atomic writes for io/: a file is written to a
 * temporary file beside it, flushed to disk and renamed over the target, so a
 * reader never sees half a file and a failed write leaves the old one. */
#ifndef SPINDLE_IO_FILE_H
#define SPINDLE_IO_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "spindle/context.h"

/** Read all of @p path into a new NUL-terminated buffer (spd_free).
 *  @return 0, SPD_EIO (names the file and the reason), SPD_ENOMEM. */
int spd__read_file(spd_ctx_t *ctx, const char *path, char **data_out, size_t *len_out);

/** Create an empty temporary file in the folder of @p path; its name goes to
 *  @p tmp (at least strlen(path) + 16 bytes). */
int spd__atomic_begin(spd_ctx_t *ctx, const char *path, char *tmp, size_t tmp_size);

/** fsync @p tmp, rename it to @p path and fsync the folder. On failure the
 *  temporary file is removed. */
int spd__atomic_commit(spd_ctx_t *ctx, const char *tmp, const char *path);

/** Remove the temporary file of a write that failed. */
void spd__atomic_abort(const char *tmp);

/** Writes a file's content to @p f; false on failure (errno says why). */
typedef bool (*spd__file_writer_cb)(FILE *f, void *arg);

/** Write @p path atomically: a temporary file beside it, filled by @p write
 *  (given @p arg), then spd__atomic_commit. On failure the target is left as
 *  it was and the temporary file is removed.
 *  @return 0, SPD_EIO (names the file and the reason), SPD_EINVAL. */
int spd__write_file_with(spd_ctx_t *ctx, const char *path, spd__file_writer_cb write, void *arg);

/** Write @p len bytes to @p path atomically. */
int spd__write_file(spd_ctx_t *ctx, const char *path, const void *data, size_t len);

#endif
