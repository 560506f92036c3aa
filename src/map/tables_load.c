/* Routing tables to the machine, through the transceiver. */
#include "spindle/map_route.h"

#include "spindle/transceiver.h"

/* Whether chip @p c's table differs from the routers' (@p old at the same
 * chip index, or NULL: nothing known). */
static bool table_changed(const spd_map_table_t *chip, const spd_map_tables_t *old, uint32_t c) {
  if (!old || c >= old->n_chips)
    return true;
  const spd_map_table_t *was = &old->chips[c];
  if (was->n != chip->n)
    return true;
  for (uint32_t i = 0; i < chip->n; i++)
    if (was->entries[i].key != chip->entries[i].key ||
        was->entries[i].mask != chip->entries[i].mask ||
        was->entries[i].route != chip->entries[i].route)
      return true;
  return false;
}

int spd_map_tables_load_changed(spd_transceiver_t *tx, const spd_map_tables_t *t,
                                const spd_map_tables_t *old, uint32_t *loaded) {
  spd_route_entry_t *buf = spd_malloc(tx->ctx, SPD_ROUTER_ENTRIES * sizeof *buf);
  if (!buf)
    return spd_ctx_fail(tx->ctx, SPD_ENOMEM, "route: out of memory for a table to load");
  int rc = 0;
  uint32_t count = 0;
  for (uint32_t c = 0; c < t->n_chips && rc == 0; c++) {
    const spd_map_table_t *chip = &t->chips[c];
    if ((chip->n == 0 && !old) || !table_changed(chip, old, c))
      continue;
    if (chip->n > SPD_ROUTER_ENTRIES) {
      rc = spd_ctx_fail(tx->ctx, SPD_EROUTER,
                        "route: chip (%u,%u) has %u routing entries; its router holds %u",
                        chip->x, chip->y, chip->n, SPD_ROUTER_APP_ENTRIES);
      break;
    }
    spd_map_table_export(chip, buf);
    rc = spd_tx_load_routes(tx, chip->x, chip->y, buf, chip->n);
    count++;
  }
  spd_free(tx->ctx, buf);
  if (loaded)
    *loaded = count;
  return rc;
}

int spd_map_tables_load(spd_transceiver_t *tx, const spd_map_tables_t *t) {
  return spd_map_tables_load_changed(tx, t, NULL, NULL);
}
