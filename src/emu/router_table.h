/* One chip's multicast routing table as the emulated router holds it:
 * at most 1023 application entries (SPINNAKER.md #10), exact key/mask
 * matching with the lowest index winning (spindle/route.h).
 * A table whose masks are all prefix masks (ones then zeros, as every
 * table the mapper makes) gets a direct key -> route table at load: the
 * key's bits above the coarsest mask pick a bucket by one hash probe, and
 * the bits between that and the bucket's finest mask index the bucket's
 * array of route words, filled lowest entry first, so a look-up is two
 * memory reads whatever the key (docs/emulator.md "Host speed").
 * Another table is looked up in an index: one hash probe per distinct mask
 * (tables hold few), each giving the lowest entry with that mask and key,
 * behind a small direct-mapped cache of recent look-ups; a table with more
 * masks than the index holds is scanned.
 * Caller-allocated (_init/_deinit); the storage is allocated when a table is
 * first loaded, so chips without a table cost nothing. */
#ifndef SPINDLE_EMU_ROUTER_TABLE_H
#define SPINDLE_EMU_ROUTER_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "spindle/context.h"
#include "spindle/route.h"

#define SPD_ROUTER_CACHE_SLOTS 1024

typedef struct spd_router_cache_slot {
  uint32_t key;
  uint32_t word; /* route in bits 0..23; bit 30 hit; bit 31 slot in use */
} spd_router_cache_slot_t;

#define SPD_ROUTER_INDEX_SLOTS 2048 /* twice the entries: probes stay short */
#define SPD_ROUTER_INDEX_MASKS 8

typedef struct spd_router_index_slot {
  uint32_t key;   /* an entry's key (its mask's bits only) */
  uint16_t mask;  /* index into masks[] + 1; 0: empty */
  uint16_t entry; /* lowest entry with this mask and key */
} spd_router_index_slot_t;

/* The direct table: a bucket per distinct key >> shift of the entries
 * (shift: the most zero bits of any mask), found by open addressing. */
#define SPD_ROUTER_BUCKET_SLOTS 2048 /* twice the entries: probes stay short */
#define SPD_ROUTER_DIRECT_MAX_WORDS (1u << 18) /* more: the index instead */

typedef struct spd_router_bucket {
  uint32_t prefix; /* key >> shift */
  uint8_t used;
  uint8_t low;     /* the bucket's finest mask's zero bits: words index key >> low */
  uint32_t at;     /* its first word in words[] */
} spd_router_bucket_t;

typedef struct spd_router_table {
  spd_route_entry_t *entries; /* SPD_ROUTER_ENTRIES slots once loaded */
  spd_router_bucket_t *buckets; /* the direct table, or NULL */
  uint32_t *words;            /* route | SPD_ROUTER_HIT per key, or 0 */
  uint32_t shift;
  bool direct;                /* the direct table is built */
  spd_router_cache_slot_t *cache;
  spd_router_index_slot_t *index;
  uint32_t n;
  uint32_t masks[SPD_ROUTER_INDEX_MASKS]; /* distinct masks of live entries */
  uint32_t n_masks;                        /* > SPD_ROUTER_INDEX_MASKS: scan */
} spd_router_table_t;

void spd_router_table_init(spd_router_table_t *t);
void spd_router_table_deinit(spd_router_table_t *t, spd_ctx_t *ctx);

/** Replace the table of chip (@p x, @p y) by @p entries[0..n).
 *  @return 0; SPD_EROUTER when n exceeds the 1023 application entries (the
 *  diagnostic names the chip and the count); SPD_ENOMEM. On failure the old
 *  table stays. */
int spd_router_table_load(spd_router_table_t *t, spd_ctx_t *ctx, int x, int y,
                          const spd_route_entry_t *entries, uint32_t n);

/** Look @p key up: true and the route word in @p route when an entry hits. */
bool spd_router_table_lookup(spd_router_table_t *t, uint32_t key, uint32_t *route);

#endif
