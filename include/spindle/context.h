/* The library context: the allocator hook, the log sink and the last error's
 * diagnostic. Many emulated cores and models live in one process, so nothing
 * is global: every object that allocates holds the context it was made with.
 * A NULL context means the process-wide default (system allocator, warnings
 * and errors to stderr). */
#ifndef SPINDLE_CONTEXT_H
#define SPINDLE_CONTEXT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "spindle/error.h"

/** Allocator hook (realloc's shape, as lua_Alloc without the old size):
 *  alloc(ud, NULL, n) allocates, alloc(ud, p, n) resizes, alloc(ud, p, 0)
 *  frees and returns NULL. Returning NULL for n > 0 is a failure. */
typedef void *(*spd_alloc_fn)(void *ud, void *ptr, size_t new_size);

typedef enum spd_log_level {
  SPD_LOG_DEBUG = 0,
  SPD_LOG_INFO = 1,
  SPD_LOG_WARN = 2,
  SPD_LOG_ERROR = 3,
} spd_log_level_t;

/** Log sink. The library never writes to stdout itself. */
typedef void (*spd_log_fn)(void *ud, spd_log_level_t level, const char *message);

#define SPD_DIAG_MAX 512

typedef struct spd_ctx {
  spd_alloc_fn alloc;
  void *alloc_ud;
  spd_log_fn log;
  void *log_ud;
  spd_log_level_t log_level; /* messages below this level are not formatted */
  int last_error;            /* code of the last spd_ctx_fail() */
  char diag[SPD_DIAG_MAX];   /* what failed and where, for the user */
} spd_ctx_t;

/** Initialise @p ctx with the system allocator and stderr logging (WARN+). */
void spd_ctx_init(spd_ctx_t *ctx);

/** The process-wide default context used when a NULL context is passed. */
spd_ctx_t *spd_ctx_default(void);

/** Record a failure: sets the code and the formatted diagnostic and returns
 *  @p err, so callers can write `return spd_ctx_fail(ctx, SPD_EDTCM, ...)`. */
int spd_ctx_fail(spd_ctx_t *ctx, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** The diagnostic of the last failure, or the code's message if none was set. */
const char *spd_ctx_message(const spd_ctx_t *ctx);

/** Clear the last error. */
void spd_ctx_clear(spd_ctx_t *ctx);

void spd_log(spd_ctx_t *ctx, spd_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Allocation through the context's hook. Sizes are checked for overflow.
 * spd_free accepts NULL. Returned memory is owned by the caller. */
void *spd_malloc(spd_ctx_t *ctx, size_t size);
void *spd_calloc(spd_ctx_t *ctx, size_t count, size_t size);
void *spd_realloc(spd_ctx_t *ctx, void *ptr, size_t new_size);
void spd_free(spd_ctx_t *ctx, void *ptr);
/** Duplicate a NUL-terminated string; NULL on allocation failure. */
char *spd_strdup(spd_ctx_t *ctx, const char *s);

/** A test allocator: counts live allocations and bytes and fails the
 *  @p fail_at-th allocation (1-based; 0 = never). Once one allocation failed,
 *  later ones succeed again unless @p fail_all_after is set. */
typedef struct spd_test_alloc {
  uint64_t attempts;      /* allocation and resize requests so far */
  uint64_t allocations;   /* successful ones */
  uint64_t live;          /* allocations not yet freed */
  uint64_t fail_at;
  int fail_all_after;
  int failed;             /* how many allocations were refused */
} spd_test_alloc_t;

/** Point @p ctx's allocator at @p ta (which must outlive the context). */
void spd_test_alloc_install(spd_ctx_t *ctx, spd_test_alloc_t *ta, uint64_t fail_at);

#endif
