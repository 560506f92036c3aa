#include "emu/sdram.h"

#include <string.h>

static uint32_t page_count(const spd_sdram_t *s) {
  return (uint32_t)(((uint64_t)s->size + SPD_SDRAM_PAGE_BYTES - 1) >> SPD_SDRAM_PAGE_BITS);
}

void spd_sdram_init(spd_sdram_t *s, uint32_t size) {
  memset(s, 0, sizeof *s);
  s->size = size;
}

void spd_sdram_deinit(spd_sdram_t *s, spd_ctx_t *ctx) {
  if (s->pages) {
    uint32_t n = page_count(s);
    for (uint32_t i = 0; i < n; i++)
      spd_free(ctx, s->pages[i]);
    spd_free(ctx, s->pages);
  }
  s->pages = NULL;
}

static uint8_t *page_for_write(spd_sdram_t *s, spd_ctx_t *ctx, uint32_t index) {
  if (!s->pages) {
    s->pages = spd_calloc(ctx, page_count(s), sizeof *s->pages);
    if (!s->pages)
      return NULL;
  }
  if (!s->pages[index])
    s->pages[index] = spd_calloc(ctx, 1, SPD_SDRAM_PAGE_BYTES);
  return s->pages[index];
}

int spd_sdram_write(spd_sdram_t *s, spd_ctx_t *ctx, uint32_t offset, const void *src, size_t len) {
  const uint8_t *from = src;
  while (len) {
    uint32_t index = offset >> SPD_SDRAM_PAGE_BITS, within = offset & (SPD_SDRAM_PAGE_BYTES - 1);
    size_t chunk = SPD_SDRAM_PAGE_BYTES - within;
    if (chunk > len)
      chunk = len;
    uint8_t *page = page_for_write(s, ctx, index);
    if (!page)
      return SPD_ENOMEM;
    memcpy(page + within, from, chunk);
    from += chunk;
    offset += (uint32_t)chunk;
    len -= chunk;
  }
  return 0;
}

void spd_sdram_read(const spd_sdram_t *s, uint32_t offset, void *dst, size_t len) {
  uint8_t *to = dst;
  while (len) {
    uint32_t index = offset >> SPD_SDRAM_PAGE_BITS, within = offset & (SPD_SDRAM_PAGE_BYTES - 1);
    size_t chunk = SPD_SDRAM_PAGE_BYTES - within;
    if (chunk > len)
      chunk = len;
    const uint8_t *page = s->pages ? s->pages[index] : NULL;
    if (page)
      memcpy(to, page + within, chunk);
    else
      memset(to, 0, chunk);
    to += chunk;
    offset += (uint32_t)chunk;
    len -= chunk;
  }
}

bool spd_sdram_reserve(spd_sdram_t *s, uint32_t bytes, uint32_t *offset) {
  uint64_t rounded = ((uint64_t)bytes + 15u) & ~(uint64_t)15u;
  if (bytes == 0 || rounded > s->size - s->used)
    return false;
  *offset = s->used;
  s->used += (uint32_t)rounded;
  return true;
}
