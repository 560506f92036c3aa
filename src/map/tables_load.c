/* Routing tables to the machine, through the transceiver. */
#include "spindle/map_route.h"

#include "spindle/transceiver.h"

int spd_map_tables_load(spd_transceiver_t *tx, const spd_map_tables_t *t) {
  spd_route_entry_t *buf = spd_malloc(tx->ctx, SPD_ROUTER_ENTRIES * sizeof *buf);
  if (!buf)
    return spd_ctx_fail(tx->ctx, SPD_ENOMEM, "route: out of memory for a table to load");
  int rc = 0;
  for (uint32_t c = 0; c < t->n_chips && rc == 0; c++) {
    const spd_map_table_t *chip = &t->chips[c];
    if (chip->n == 0)
      continue;
    if (chip->n > SPD_ROUTER_ENTRIES) {
      rc = spd_ctx_fail(tx->ctx, SPD_EROUTER,
                        "route: chip (%u,%u) has %u routing entries; its router holds %u",
                        chip->x, chip->y, chip->n, SPD_ROUTER_APP_ENTRIES);
      break;
    }
    spd_map_table_export(chip, buf);
    rc = spd_tx_load_routes(tx, chip->x, chip->y, buf, chip->n);
  }
  spd_free(tx->ctx, buf);
  return rc;
}
