/* One chip's SDRAM, emulated sparsely: 64 KB pages are allocated when first
 * written (untouched memory reads as zero), so 48 or 57,600 chips of 128 MB
 * cost only what is used. A bump allocator hands out regions to the host and
 * to the cores (SC&MP's ALLOC and sark_xalloc). Caller-allocated. */
#ifndef SPINDLE_EMU_SDRAM_H
#define SPINDLE_EMU_SDRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spindle/context.h"

#define SPD_SDRAM_PAGE_BITS 16
#define SPD_SDRAM_PAGE_BYTES (1u << SPD_SDRAM_PAGE_BITS)

typedef struct spd_sdram {
  uint8_t **pages;   /* page table, allocated on first write */
  uint32_t size;     /* usable bytes */
  uint32_t used;     /* bytes handed out by the allocator */
} spd_sdram_t;

void spd_sdram_init(spd_sdram_t *s, uint32_t size);
void spd_sdram_deinit(spd_sdram_t *s, spd_ctx_t *ctx);

/** True when [offset, offset+len) lies inside the SDRAM. */
static inline bool spd_sdram_in_range(const spd_sdram_t *s, uint64_t offset, uint64_t len) {
  return offset <= s->size && len <= s->size - offset;
}

/** Copy between host memory and SDRAM at byte @p offset (range checked by
 *  the caller). @return 0 or SPD_ENOMEM (a page could not be allocated; the
 *  bytes before it were written). */
int spd_sdram_write(spd_sdram_t *s, spd_ctx_t *ctx, uint32_t offset, const void *src, size_t len);
void spd_sdram_read(const spd_sdram_t *s, uint32_t offset, void *dst, size_t len);

/** Reserve @p bytes (16-byte aligned); false when they do not fit. */
bool spd_sdram_reserve(spd_sdram_t *s, uint32_t bytes, uint32_t *offset);
/** Bytes still free for the allocator. */
static inline uint32_t spd_sdram_free_bytes(const spd_sdram_t *s) { return s->size - s->used; }

#endif
