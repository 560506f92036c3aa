#include "io/blob.h"

#include <string.h>

void spd__blob_init(spd__blob_t *b, spd_ctx_t *ctx) { *b = (spd__blob_t){.ctx = ctx}; }

void spd__blob_free(spd__blob_t *b) {
  spd_free(b->ctx, b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

static void append(spd__blob_t *b, const void *data, size_t bytes) {
  if (b->err || bytes == 0)
    return;
  if (b->len + bytes > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + bytes)
      cap *= 2;
    uint8_t *grown = spd_realloc(b->ctx, b->data, cap);
    if (!grown) {
      b->err = spd_ctx_fail(b->ctx, SPD_ENOMEM, "checkpoint state: out of memory (%zu bytes)",
                            cap);
      return;
    }
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, bytes);
  b->len += bytes;
}

void spd__blob_put(spd__blob_t *b, const char *name, const void *data, size_t elem,
                   size_t count) {
  uint32_t name_len = (uint32_t)strlen(name), elem32 = (uint32_t)elem;
  uint64_t count64 = count;
  append(b, &name_len, sizeof name_len);
  append(b, name, name_len);
  append(b, &elem32, sizeof elem32);
  append(b, &count64, sizeof count64);
  append(b, data, elem * count);
}

static int take(spd__blob_reader_t *r, void *out, size_t bytes, const char *name) {
  if (r->len - r->pos < bytes)
    return spd_ctx_fail(r->ctx, SPD_EFORMAT, "'%s' ends inside the record '%s'", r->file, name);
  if (bytes)
    memcpy(out, r->data + r->pos, bytes);
  r->pos += bytes;
  return 0;
}

int spd__blob_get(spd__blob_reader_t *r, const char *name, void *out, size_t elem,
                  size_t count) {
  uint32_t name_len = 0, elem32 = 0;
  uint64_t count64 = 0;
  char found[128];
  int err = take(r, &name_len, sizeof name_len, name);
  if (!err && name_len >= sizeof found)
    return spd_ctx_fail(r->ctx, SPD_EFORMAT, "'%s': a record name of %u bytes where '%s' "
                        "should be", r->file, name_len, name);
  if (!err)
    err = take(r, found, name_len, name);
  if (err)
    return err;
  found[name_len] = '\0';
  if (strcmp(found, name))
    return spd_ctx_fail(r->ctx, SPD_EFORMAT, "'%s' holds '%s' where this run expects '%s' "
                        "(a checkpoint of another model or optimizer?)", r->file, found, name);
  if ((err = take(r, &elem32, sizeof elem32, name)) ||
      (err = take(r, &count64, sizeof count64, name)))
    return err;
  if (elem32 != elem || count64 != count)
    return spd_ctx_fail(r->ctx, SPD_EFORMAT, "'%s': '%s' has %llu values of %u bytes, this run "
                        "expects %zu of %zu (a checkpoint of another model?)", r->file, name,
                        (unsigned long long)count64, elem32, count, elem);
  return take(r, out, elem * count, name);
}
