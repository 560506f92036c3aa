#include "spindle/context.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *system_alloc(void *ud, void *ptr, size_t new_size) {
  (void)ud;
  if (new_size == 0) {
    free(ptr);
    return NULL;
  }
  return realloc(ptr, new_size);
}

static void stderr_log(void *ud, spd_log_level_t level, const char *message) {
  static const char *const level_names[] = {"debug", "info", "warning", "error"};
  (void)ud;
  fprintf(stderr, "spindle: %s: %s\n", level_names[level], message);
}

void spd_ctx_init(spd_ctx_t *ctx) {
  memset(ctx, 0, sizeof *ctx);
  ctx->alloc = system_alloc;
  ctx->log = stderr_log;
  ctx->log_level = SPD_LOG_WARN;
}

spd_ctx_t *spd_ctx_default(void) {
  /* Initialised at load time, as spd_ctx_init would, so there is no lazy
   * first call to race on. Only the allocator and log sink are used from
   * the shared default; its diagnostic buffer is best-effort when several
   * threads share it. */
  static spd_ctx_t shared = {.alloc = system_alloc, .log = stderr_log,
                             .log_level = SPD_LOG_WARN};
  return &shared;
}

static spd_ctx_t *resolve(spd_ctx_t *ctx) { return ctx ? ctx : spd_ctx_default(); }

int spd_ctx_fail(spd_ctx_t *ctx, int err, const char *fmt, ...) {
  ctx = resolve(ctx);
  ctx->last_error = err;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx->diag, sizeof ctx->diag, fmt, ap);
  va_end(ap);
  return err;
}

const char *spd_ctx_message(const spd_ctx_t *ctx) {
  if (!ctx)
    ctx = spd_ctx_default();
  return ctx->diag[0] ? ctx->diag : spd_strerror(ctx->last_error);
}

void spd_ctx_clear(spd_ctx_t *ctx) {
  ctx = resolve(ctx);
  ctx->last_error = 0;
  ctx->diag[0] = '\0';
}

void spd_log(spd_ctx_t *ctx, spd_log_level_t level, const char *fmt, ...) {
  ctx = resolve(ctx);
  if (level < ctx->log_level || !ctx->log)
    return;
  char message[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  ctx->log(ctx->log_ud, level, message);
}

void *spd_malloc(spd_ctx_t *ctx, size_t size) {
  ctx = resolve(ctx);
  return ctx->alloc(ctx->alloc_ud, NULL, size ? size : 1);
}

void *spd_calloc(spd_ctx_t *ctx, size_t count, size_t size) {
  if (size && count > SIZE_MAX / size)
    return NULL;
  size_t total = count * size;
  void *p = spd_malloc(ctx, total);
  if (p)
    memset(p, 0, total ? total : 1);
  return p;
}

void *spd_realloc(spd_ctx_t *ctx, void *ptr, size_t new_size) {
  ctx = resolve(ctx);
  return ctx->alloc(ctx->alloc_ud, ptr, new_size ? new_size : 1);
}

void spd_free(spd_ctx_t *ctx, void *ptr) {
  if (!ptr)
    return;
  ctx = resolve(ctx);
  ctx->alloc(ctx->alloc_ud, ptr, 0);
}

char *spd_strdup(spd_ctx_t *ctx, const char *s) {
  size_t n = strlen(s) + 1;
  char *copy = spd_malloc(ctx, n);
  if (copy)
    memcpy(copy, s, n);
  return copy;
}

static void *test_alloc(void *ud, void *ptr, size_t new_size) {
  spd_test_alloc_t *ta = ud;
  if (new_size == 0) {
    if (ptr)
      ta->live--;
    free(ptr);
    return NULL;
  }
  ta->attempts++;
  int refuse = (ta->fail_at && ta->attempts == ta->fail_at) ||
               (ta->fail_all_after && ta->failed > 0);
  if (refuse) {
    ta->failed++;
    return NULL;
  }
  void *p = realloc(ptr, new_size);
  if (p) {
    ta->allocations++;
    if (!ptr)
      ta->live++;
  }
  return p;
}

void spd_test_alloc_install(spd_ctx_t *ctx, spd_test_alloc_t *ta, uint64_t fail_at) {
  memset(ta, 0, sizeof *ta);
  ta->fail_at = fail_at;
  ctx->alloc = test_alloc;
  ctx->alloc_ud = ta;
}
