#include "emu/router_table.h"

#include <string.h>

#include "spindle/machine.h"

#define SLOT_USED 0x80000000u
#define SLOT_HIT 0x40000000u

void spd_router_table_init(spd_router_table_t *t) { memset(t, 0, sizeof *t); }

void spd_router_table_deinit(spd_router_table_t *t, spd_ctx_t *ctx) {
  spd_free(ctx, t->entries);
  spd_free(ctx, t->cache);
  memset(t, 0, sizeof *t);
}

int spd_router_table_load(spd_router_table_t *t, spd_ctx_t *ctx, int x, int y,
                          const spd_route_entry_t *entries, uint32_t n) {
  if (n > SPD_ROUTER_APP_ENTRIES)
    return spd_ctx_fail(ctx, SPD_EROUTER,
                        "router of chip (%d,%d): table of %u entries refused, only %d "
                        "entries are available to applications",
                        x, y, n, SPD_ROUTER_APP_ENTRIES);
  if (!t->entries) {
    spd_route_entry_t *e = spd_calloc(ctx, SPD_ROUTER_ENTRIES, sizeof *e);
    spd_router_cache_slot_t *c = spd_calloc(ctx, SPD_ROUTER_CACHE_SLOTS, sizeof *c);
    if (!e || !c) {
      spd_free(ctx, e);
      spd_free(ctx, c);
      return spd_ctx_fail(ctx, SPD_ENOMEM, "router of chip (%d,%d): no memory for its table",
                          x, y);
    }
    t->entries = e;
    t->cache = c;
  }
  if (n)
    memcpy(t->entries, entries, n * sizeof *entries);
  t->n = n;
  memset(t->cache, 0, SPD_ROUTER_CACHE_SLOTS * sizeof *t->cache);
  return 0;
}

static inline uint32_t cache_index(uint32_t key) {
  return (key * 2654435761u) >> 22; /* Fibonacci hashing onto 1024 slots */
}

bool spd_router_table_lookup(spd_router_table_t *t, uint32_t key, uint32_t *route) {
  if (!t->n)
    return false;
  spd_router_cache_slot_t *slot = &t->cache[cache_index(key)];
  if ((slot->word & SLOT_USED) && slot->key == key) {
    *route = slot->word & SPD_ROUTE_WORD_MASK;
    return (slot->word & SLOT_HIT) != 0;
  }
  long i = spd_route_lookup(t->entries, t->n, key);
  uint32_t word = i >= 0 ? t->entries[i].route & SPD_ROUTE_WORD_MASK : 0;
  slot->key = key;
  slot->word = SLOT_USED | (i >= 0 ? SLOT_HIT : 0) | word;
  *route = word;
  return i >= 0;
}
