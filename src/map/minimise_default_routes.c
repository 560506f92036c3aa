/* Default-route removal (rig's routing_table/remove_default_routes.py).
 * A packet arriving on link l that matches no entry leaves on the opposite
 * link (SPINNAKER.md §2), so an entry whose packets all arrive on one link
 * and leave only on the opposite one, with no local core, does the router's
 * default and can go, as long as no later entry matches any of its keys
 * (those keys would then hit that entry instead of the default). Entries
 * earlier in the table already took those keys before the removal, so only
 * later ones matter. Locally injected packets are never default-routed. */
#include "spindle/map_route.h"

#include "map/minimise_util.h"

static bool is_defaultable(const spd_map_entry_t *table, uint32_t i, uint32_t n) {
  const spd_map_entry_t *e = &table[i];
  uint32_t src = e->sources;
  if (src == 0 || (src & (src - 1)) != 0 || (src & SPD_MAP_SOURCE_LOCAL))
    return false;
  uint32_t in = (uint32_t)__builtin_ctz(src);
  if (e->route != spd_route_link(spd_link_opposite((spd_link_t)in)))
    return false;
  for (uint32_t j = i + 1; j < n; j++)
    if (spd__km_intersect(e->key, e->mask, table[j].key, table[j].mask))
      return false;
  return true;
}

int spd_map_minimise_default_routes(spd_ctx_t *ctx, spd_map_entry_t *table, uint32_t *n,
                                    uint32_t target) {
  (void)ctx;
  (void)target; /* every removable entry goes: removal is free and exact */
  uint32_t kept = 0;
  /* Only later entries are consulted, and compaction writes at or before
   * the entry being judged, so the later ones are still the originals. */
  for (uint32_t i = 0; i < *n; i++)
    if (!is_defaultable(table, i, *n))
      table[kept++] = table[i];
  *n = kept;
  return 0;
}
