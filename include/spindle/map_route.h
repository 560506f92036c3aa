/* The routing half of the compiler (map/): key allocation, multicast trees on
 * the triangular torus around dead links and chips, per-chip routing tables
 * and their minimisation. The partitioner and placer produce nets (one source
 * core's outgoing partition and the cores that receive it); this module turns
 * them into key blocks and router tables that fit the 1023 application
 * entries of every chip (SPINNAKER.md #10, §2, §8).
 *
 * Pipeline (spd_map_routing_build runs it all):
 *   spd_map_keys_allocate   nets -> one aligned key block per net
 *   spd_map_route           nets -> one multicast tree per net
 *   spd_map_tables_build    trees + key blocks -> per-chip entry lists
 *   spd_map_tables_minimise per-chip minimiser chain, fails naming the chip
 *
 * Algorithms of one family share one signature (routers: spd_map_router_fn,
 * minimisers: spd_map_minimiser_fn); the defaults are chosen in one place
 * (src/map/route.c and src/map/minimise.c). */
#ifndef SPINDLE_MAP_ROUTE_H
#define SPINDLE_MAP_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "spindle/context.h"
#include "spindle/machine.h"
#include "spindle/route.h"

typedef struct spd_transceiver spd_transceiver_t; /* spindle/transceiver.h */

/** One core of the machine. */
typedef struct spd_map_core {
  uint16_t x, y;
  uint8_t core; /* physical core 1..17 (0 is the monitor) */
} spd_map_core_t;

/** A net: a source core's named stream of packets (an outgoing partition,
 *  SPINNAKER.md §9) with n_keys atoms, each atom one key, and the cores that
 *  must receive every packet of it. Nets with the same @p group (e.g. the
 *  tiles of one layer) get adjacent, equally sized key blocks so that their
 *  routing entries merge well. A net without sinks gets no entries (its
 *  packets die at the source router). Borrowed by every function below. */
typedef struct spd_map_net {
  spd_map_core_t source;
  uint32_t n_keys;             /* >= 1 */
  uint32_t group;              /* any id; equal ids are laid out together */
  const spd_map_core_t *sinks; /* n_sinks cores; duplicates are harmless */
  uint32_t n_sinks;
} spd_map_net_t;

/* ---------------------------------------------------------------- keys */

/** A contiguous, aligned block of keys: the net's atom i is key base + i, so
 *  a receiver indexes by key - base. The block size is a power of two >=
 *  n_keys and base is a multiple of it; mask covers exactly the block. */
typedef struct spd_key_block {
  uint32_t base;
  uint32_t mask;
  uint32_t n_keys;
} spd_key_block_t;

/** Number of keys in the block (2^32 when mask is 0). */
static inline uint64_t spd_key_block_size(const spd_key_block_t *b) {
  return (uint64_t)(uint32_t)~b->mask + 1u;
}

/** Allocate one key block per net. Layout: each group gets a region of
 *  2^(index bits + atom bits) keys, with atom bits sized by the group's
 *  largest net, so a group's blocks differ only in their index field
 *  (PACMAN's zoned layout, SPINNAKER.md §8); regions are packed largest
 *  first, which keeps every one aligned. When that layout overflows the
 *  32-bit key space, each net gets its own power-of-two block instead.
 *  @param out n blocks, written only on success.
 *  @return 0; SPD_EINVAL (a net with 0 keys); SPD_ERANGE when even the
 *  packed layout needs more than 2^32 keys (the diagnostic says how many);
 *  SPD_ENOMEM. */
int spd_map_keys_allocate(spd_ctx_t *ctx, const spd_map_net_t *nets, uint32_t n,
                          spd_key_block_t *out);

/* --------------------------------------------------------------- trees */

/** One chip of a multicast tree. */
typedef struct spd_map_node {
  uint16_t x, y;
  int32_t parent;  /* index of the parent node, -1 at the source chip */
  int8_t in_link;  /* this chip's link the packet arrives on, -1 at the source */
  uint32_t route;  /* route word: links to children and local sink cores */
} spd_map_node_t;

/** A net's multicast tree: node 0 is the source chip; every other node's
 *  parent has a lower index. Each chip appears at most once. Owned; free with
 *  spd_map_tree_free. */
typedef struct spd_map_tree {
  uint32_t n_nodes;
  spd_map_node_t *nodes;
} spd_map_tree_t;

void spd_map_tree_free(spd_ctx_t *ctx, spd_map_tree_t *tree);

/** Scratch space a router reuses across nets (per-chip lookups, a BFS
 *  queue); opaque. */
typedef struct spd_map_route_work spd_map_route_work_t;

/** A router: build @p out for one net on the machine of @p w, using only
 *  working links and chips (dead parts are absent from the machine).
 *  @return 0; SPD_EINVAL (source or sink on an absent chip or core);
 *  SPD_ENOFIT when a sink cannot be reached over working links (diagnostic
 *  names source and sink); SPD_ENOMEM. */
typedef int (*spd_map_router_fn)(spd_map_route_work_t *w, const spd_map_net_t *net,
                                 spd_map_tree_t *out);

/** Rig's neighbour-exploring router (Navaridas et al., SPINNAKER.md §8):
 *  sinks in order of distance from the source; each joins the nearest tree
 *  node within the radius by a longest-dimension-first path cut where it
 *  meets the tree; a path blocked by a dead link or chip is replaced by the
 *  shortest working path (breadth-first) from the tree. The default. */
int spd_map_route_ner(spd_map_route_work_t *w, const spd_map_net_t *net,
                      spd_map_tree_t *out);
/** Longest-dimension-first from the source only (NER with radius 0). */
int spd_map_route_ldf(spd_map_route_work_t *w, const spd_map_net_t *net,
                      spd_map_tree_t *out);

typedef struct spd_map_route_opts {
  spd_map_router_fn router; /* NULL: the default (NER) */
  uint32_t radius;          /* NER search radius in hops; 0 = pure LDF */
} spd_map_route_opts_t;

/** Default options: NER with rig's radius of 20. */
spd_map_route_opts_t spd_map_route_opts_default(void);

/** Route every net. @param trees n trees, written only on success (free
 *  each with spd_map_tree_free). @p opts may be NULL for the defaults.
 *  @return 0 or the first router failure (see spd_map_router_fn). */
int spd_map_route(spd_ctx_t *ctx, const spd_machine_t *m, const spd_map_net_t *nets,
                  uint32_t n, const spd_map_route_opts_t *opts, spd_map_tree_t *trees);

/* -------------------------------------------------------------- tables */

/** Where packets matching an entry may arrive from: bit l for link l
 *  (0..5), SPD_MAP_SOURCE_LOCAL for packets injected by a core of the chip.
 *  Default routing needs it: only a packet arriving on link l can leave on
 *  the opposite link without an entry (SPINNAKER.md §2). */
#define SPD_MAP_SOURCE_LOCAL (1u << 6)

/** A routing entry as the mapper keeps it: the router's entry plus the
 *  sources of its packets. */
typedef struct spd_map_entry {
  uint32_t key, mask, route;
  uint32_t sources;
} spd_map_entry_t;

/** One chip's table. */
typedef struct spd_map_table {
  uint16_t x, y;
  uint32_t n, cap;
  spd_map_entry_t *entries; /* owned */
} spd_map_table_t;

/** The tables of every chip of a machine, indexed like machine->chips.
 *  Owned; free with spd_map_tables_free. */
typedef struct spd_map_tables {
  uint32_t n_chips;
  spd_map_table_t *chips;
} spd_map_tables_t;

/** One entry per (net, chip of its tree) with the net's key block, the
 *  node's route and the link it arrives on. The key blocks must be disjoint
 *  (spd_map_keys_allocate makes them so): the minimisers rely on it. Nothing is left to default
 *  routing here; that is the minimisers' job.
 *  @return 0, SPD_EINVAL (a tree node off the machine), SPD_ENOMEM; on
 *  failure @p out is untouched. */
int spd_map_tables_build(spd_ctx_t *ctx, const spd_machine_t *m, const spd_map_tree_t *trees,
                         const spd_key_block_t *keys, uint32_t n_nets,
                         spd_map_tables_t *out);
void spd_map_tables_free(spd_ctx_t *ctx, spd_map_tables_t *t);

/** Load every chip's table that has entries through the transceiver (the
 *  only door to the machine); chips without entries are left alone, so an
 *  emulator allocates no table for them.
 *  @return 0 or the transceiver's failure (SPD_EROUTER above 1023 entries,
 *  naming the chip), SPD_ENOMEM. */
int spd_map_tables_load(spd_transceiver_t *tx, const spd_map_tables_t *t);
/** Load only the tables of @p t that differ from @p old, what the routers
 *  hold (the same machine's chips; NULL: every table with entries, as
 *  spd_map_tables_load); a chip whose table emptied gets an empty one.
 *  @p loaded (or NULL) gets how many chips were written. */
int spd_map_tables_load_changed(spd_transceiver_t *tx, const spd_map_tables_t *t,
                                const spd_map_tables_t *old, uint32_t *loaded);

/** Largest entry count over all chips. */
uint32_t spd_map_tables_max_entries(const spd_map_tables_t *t);

/** Copy a table's entries as the router holds them (key, mask, route).
 *  @param out at least t->n entries. */
void spd_map_table_export(const spd_map_table_t *t, spd_route_entry_t *out);

/* ---------------------------------------------------------- minimising */

/** A minimiser: shrink @p table[0..*n) in place, keeping the route of every
 *  packet that can reach the chip (keys of entries, arriving on their
 *  sources), stopping once *n <= target (target 0: as small as it can).
 *  Expects an orthogonal table (no key hits two entries), which disjoint key
 *  blocks guarantee. A minimiser may end above target; the chain judges.
 *  @return 0 or SPD_ENOMEM (table untouched). */
typedef int (*spd_map_minimiser_fn)(spd_ctx_t *ctx, spd_map_entry_t *table, uint32_t *n,
                                    uint32_t target);

/** Rig's remove_default_routes: drop entries whose packets arrive on exactly
 *  one link and leave only on the opposite link, when no later entry
 *  intersects them (the hardware then routes them by default). */
int spd_map_minimise_default_routes(spd_ctx_t *ctx, spd_map_entry_t *table, uint32_t *n,
                                    uint32_t target);
/** Mundy's ordered covering (rig's ordered_covering.minimise): sort by
 *  generality, merge same-route entries into covering entries that neither
 *  hide nor are hidden by an entry with another route, then remove default
 *  routes. Leaves the table sorted by generality. */
int spd_map_minimise_ordered_covering(spd_ctx_t *ctx, spd_map_entry_t *table, uint32_t *n,
                                      uint32_t target);

/** Minimise one chip's table with the default chain (as it is, then
 *  default-route removal, then ordered covering: cheapest first, stopping as
 *  soon as the table fits @p target; target 0 = run all, keep the smallest).
 *  @return 0; SPD_EROUTER when no method fits, with a diagnostic naming the
 *  chip (x,y), the smallest entry count reached and the target (the table is
 *  then left untouched); SPD_ENOMEM. */
int spd_map_table_minimise(spd_ctx_t *ctx, spd_map_table_t *t, uint32_t target);

/** Minimise every chip's table to SPD_ROUTER_APP_ENTRIES (or @p target if
 *  non-zero). @return 0 or the first failure of spd_map_table_minimise. */
int spd_map_tables_minimise(spd_ctx_t *ctx, spd_map_tables_t *t, uint32_t target);

/* ------------------------------------------------------ whole pipeline */

/** Everything routing produces for a set of nets. Owned; free with
 *  spd_map_routing_free. */
typedef struct spd_map_routing {
  uint32_t n_nets;
  spd_key_block_t *keys;  /* n_nets */
  spd_map_tree_t *trees;  /* n_nets */
  spd_map_tables_t tables;
  uint32_t entries_before; /* largest table before minimising */
  uint32_t entries_after;  /* largest table after minimising */
} spd_map_routing_t;

/** Allocate keys, route, build and minimise tables to fit the router.
 *  @p opts may be NULL. @return 0 or the first failing step's code (its
 *  diagnostic in ctx); on failure @p out is untouched. */
int spd_map_routing_build(spd_ctx_t *ctx, const spd_machine_t *m, const spd_map_net_t *nets,
                          uint32_t n, const spd_map_route_opts_t *opts,
                          spd_map_routing_t *out);
void spd_map_routing_free(spd_ctx_t *ctx, spd_map_routing_t *r);

#endif
