#include "emu/router_table.h"

#include <string.h>

#include "spindle/machine.h"

#define SLOT_USED 0x80000000u
#define SLOT_HIT 0x40000000u

void spd_router_table_init(spd_router_table_t *t) { memset(t, 0, sizeof *t); }

void spd_router_table_deinit(spd_router_table_t *t, spd_ctx_t *ctx) {
  spd_free(ctx, t->buckets);
  spd_free(ctx, t->words);
  spd_free(ctx, t->entries);
  spd_free(ctx, t->cache);
  spd_free(ctx, t->index);
  memset(t, 0, sizeof *t);
}

static inline uint32_t index_hash(uint32_t key, uint32_t mask_id) {
  return ((key ^ mask_id * 0x9E3779B9u) * 2654435761u) >> (32 - 11); /* 2048 slots */
}

/* Index the live entries by (mask, key), the first of equal ones winning;
 * more distinct masks than the index holds leave n_masks past the limit. */
static void build_index(spd_router_table_t *t) {
  memset(t->index, 0, SPD_ROUTER_INDEX_SLOTS * sizeof *t->index);
  t->n_masks = 0;
  for (uint32_t i = 0; i < t->n; i++) {
    const spd_route_entry_t *e = &t->entries[i];
    if (spd_route_entry_dead(e))
      continue;
    uint32_t m = 0;
    while (m < t->n_masks && t->masks[m] != e->mask)
      m++;
    if (m == t->n_masks) {
      if (t->n_masks == SPD_ROUTER_INDEX_MASKS) {
        t->n_masks++;
        return;
      }
      t->masks[t->n_masks++] = e->mask;
    }
    uint32_t h = index_hash(e->key, m);
    while (t->index[h].mask && !(t->index[h].mask == m + 1 && t->index[h].key == e->key))
      h = (h + 1) & (SPD_ROUTER_INDEX_SLOTS - 1);
    if (!t->index[h].mask)
      t->index[h] = (spd_router_index_slot_t){e->key, (uint16_t)(m + 1), (uint16_t)i};
  }
}

/* Zero bits of a prefix mask (ones, then zeros), or -1 for another mask
 * (or 0, which no bucket can hold). */
static int prefix_zeros(uint32_t mask) {
  if (!mask)
    return -1;
  int z = __builtin_ctz(mask);
  return mask == ~0u << z ? z : -1;
}

static inline uint32_t bucket_hash(uint32_t prefix) {
  return (prefix * 2654435761u) >> (32 - 11); /* 2048 slots */
}

static spd_router_bucket_t *bucket_of(spd_router_bucket_t *b, uint32_t prefix, bool add) {
  uint32_t h = bucket_hash(prefix);
  while (b[h].used && b[h].prefix != prefix)
    h = (h + 1) & (SPD_ROUTER_BUCKET_SLOTS - 1);
  if (!b[h].used) {
    if (!add)
      return NULL;
    b[h] = (spd_router_bucket_t){.prefix = prefix, .used = 1, .low = 32};
  }
  return &b[h];
}

/* The direct key -> route table of @p e[0..n) into fresh storage
 * (*buckets, *words, *shift; the caller's on success). Nothing is built
 * (0, *buckets NULL) for a table with another mask or whose buckets would
 * take more than SPD_ROUTER_DIRECT_MAX_WORDS words (the index serves it).
 * @return 0 or SPD_ENOMEM (nothing allocated). */
static int build_direct(spd_ctx_t *ctx, const spd_route_entry_t *e, uint32_t n,
                        spd_router_bucket_t **buckets, uint32_t **words_out,
                        uint32_t *shift_out) {
  *buckets = NULL;
  *words_out = NULL;
  int shift = -1;
  for (uint32_t i = 0; i < n; i++) {
    if (spd_route_entry_dead(&e[i]))
      continue;
    int z = prefix_zeros(e[i].mask);
    if (z < 0)
      return 0;
    if (z > shift)
      shift = z;
  }
  if (shift < 0)
    return 0;
  spd_router_bucket_t *b = spd_calloc(ctx, SPD_ROUTER_BUCKET_SLOTS, sizeof *b);
  if (!b)
    return SPD_ENOMEM;
  /* Each bucket's finest mask, then its words laid out one after another. */
  for (uint32_t i = 0; i < n; i++) {
    if (spd_route_entry_dead(&e[i]))
      continue;
    spd_router_bucket_t *k = bucket_of(b, e[i].key >> shift, true);
    uint8_t z = (uint8_t)prefix_zeros(e[i].mask);
    if (z < k->low)
      k->low = z;
  }
  uint64_t words = 0;
  for (uint32_t h = 0; h < SPD_ROUTER_BUCKET_SLOTS; h++)
    if (b[h].used) {
      b[h].at = (uint32_t)words;
      words += 1ull << (shift - b[h].low);
    }
  if (words > SPD_ROUTER_DIRECT_MAX_WORDS) {
    spd_free(ctx, b);
    return 0;
  }
  uint32_t *w = spd_calloc(ctx, (size_t)words, sizeof *w);
  if (!w) {
    spd_free(ctx, b);
    return SPD_ENOMEM;
  }
  /* Lowest entry first: a word already filled keeps its entry. */
  for (uint32_t i = 0; i < n; i++) {
    if (spd_route_entry_dead(&e[i]))
      continue;
    const spd_router_bucket_t *k = bucket_of(b, e[i].key >> shift, false);
    uint32_t z = (uint32_t)prefix_zeros(e[i].mask);
    uint32_t span = (uint32_t)shift - k->low;
    uint32_t first = span ? (e[i].key >> k->low) & ((1u << span) - 1u) : 0;
    uint32_t *at = w + k->at + first;
    for (uint32_t j = 0; j < 1u << (z - k->low); j++)
      if (!at[j])
        at[j] = SLOT_USED | (e[i].route & SPD_ROUTE_WORD_MASK);
  }
  *buckets = b;
  *words_out = w;
  *shift_out = (uint32_t)shift;
  return 0;
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
    spd_router_index_slot_t *ix = spd_calloc(ctx, SPD_ROUTER_INDEX_SLOTS, sizeof *ix);
    if (!e || !c || !ix) {
      spd_free(ctx, e);
      spd_free(ctx, c);
      spd_free(ctx, ix);
      return spd_ctx_fail(ctx, SPD_ENOMEM, "router of chip (%d,%d): no memory for its table",
                          x, y);
    }
    t->entries = e;
    t->cache = c;
    t->index = ix;
  }
  spd_router_bucket_t *buckets;
  uint32_t *words, shift = 0;
  if (build_direct(ctx, entries, n, &buckets, &words, &shift))
    return spd_ctx_fail(ctx, SPD_ENOMEM, "router of chip (%d,%d): no memory for its table",
                        x, y);
  if (n)
    memcpy(t->entries, entries, n * sizeof *entries);
  t->n = n;
  memset(t->cache, 0, SPD_ROUTER_CACHE_SLOTS * sizeof *t->cache);
  build_index(t);
  spd_free(ctx, t->buckets);
  spd_free(ctx, t->words);
  t->buckets = buckets;
  t->words = words;
  t->shift = shift;
  t->direct = buckets != NULL;
  return 0;
}

static inline uint32_t cache_index(uint32_t key) {
  return (key * 2654435761u) >> 22; /* Fibonacci hashing onto 1024 slots */
}

/* The lowest entry hit by @p key, or -1: per mask, the index gives the
 * lowest entry with that mask whose key matches; the lowest of those is the
 * lowest of all (what spd_route_lookup's scan finds). */
static long index_lookup(const spd_router_table_t *t, uint32_t key) {
  if (t->n_masks > SPD_ROUTER_INDEX_MASKS)
    return spd_route_lookup(t->entries, t->n, key);
  long best = -1;
  for (uint32_t m = 0; m < t->n_masks; m++) {
    uint32_t k = key & t->masks[m];
    for (uint32_t h = index_hash(k, m); t->index[h].mask;
         h = (h + 1) & (SPD_ROUTER_INDEX_SLOTS - 1))
      if (t->index[h].mask == m + 1 && t->index[h].key == k) {
        if (best < 0 || t->index[h].entry < best)
          best = t->index[h].entry;
        break;
      }
  }
  return best;
}

bool spd_router_table_lookup(spd_router_table_t *t, uint32_t key, uint32_t *route) {
  if (!t->n)
    return false;
  if (t->direct) {
    uint32_t prefix = key >> t->shift;
    const spd_router_bucket_t *b = t->buckets;
    for (uint32_t h = bucket_hash(prefix); b[h].used; h = (h + 1) & (SPD_ROUTER_BUCKET_SLOTS - 1))
      if (b[h].prefix == prefix) {
        uint32_t span = t->shift - b[h].low;
        uint32_t w = t->words[b[h].at + (span ? (key >> b[h].low) & ((1u << span) - 1u) : 0)];
        *route = w & SPD_ROUTE_WORD_MASK;
        return w != 0;
      }
    *route = 0;
    return false;
  }
  spd_router_cache_slot_t *slot = &t->cache[cache_index(key)];
  if ((slot->word & SLOT_USED) && slot->key == key) {
    *route = slot->word & SPD_ROUTE_WORD_MASK;
    return (slot->word & SLOT_HIT) != 0;
  }
  long i = index_lookup(t, key);
  uint32_t word = i >= 0 ? t->entries[i].route & SPD_ROUTE_WORD_MASK : 0;
  slot->key = key;
  slot->word = SLOT_USED | (i >= 0 ? SLOT_HIT : 0) | word;
  *route = word;
  return i >= 0;
}
