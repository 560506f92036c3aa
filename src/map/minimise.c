/* The minimiser chain, chosen here in one place (rig's minimise_table):
 * the table as built, then default-route removal, then ordered covering
 * (which removes default routes after merging), cheapest first; the first
 * result that fits the router wins. */
#include "spindle/map_route.h"

#include <string.h>

typedef struct minimiser {
  const char *name;
  spd_map_minimiser_fn fn; /* NULL: the table as it is */
} minimiser_t;

static const minimiser_t CHAIN[] = {
    {"none", NULL},
    {"default-route removal", spd_map_minimise_default_routes},
    {"ordered covering", spd_map_minimise_ordered_covering},
};
#define CHAIN_LEN (sizeof CHAIN / sizeof CHAIN[0])

/* Run one method on a copy of the table in @p work. */
static int run_method(spd_ctx_t *ctx, const minimiser_t *mm, const spd_map_table_t *t,
                      spd_map_entry_t *work, uint32_t *n, uint32_t target) {
  memcpy(work, t->entries, (size_t)t->n * sizeof *work);
  *n = t->n;
  return mm->fn ? mm->fn(ctx, work, n, target) : 0;
}

int spd_map_table_minimise(spd_ctx_t *ctx, spd_map_table_t *t, uint32_t target) {
  if (t->n == 0 || (target != 0 && t->n <= target))
    return 0;
  spd_map_entry_t *work = spd_malloc(ctx, (size_t)t->n * sizeof *work);
  spd_map_entry_t *best = spd_malloc(ctx, (size_t)t->n * sizeof *best);
  if (!work || !best) {
    spd_free(ctx, work);
    spd_free(ctx, best);
    return spd_ctx_fail(ctx, SPD_ENOMEM, "minimise: out of memory for chip (%u,%u)'s %u entries",
                        t->x, t->y, t->n);
  }
  uint32_t best_n = UINT32_MAX;
  int rc = 0;
  for (size_t i = 0; i < CHAIN_LEN && rc == 0; i++) {
    uint32_t n;
    rc = run_method(ctx, &CHAIN[i], t, work, &n, target);
    if (rc == 0 && n < best_n) {
      best_n = n;
      memcpy(best, work, (size_t)n * sizeof *best);
    }
    if (target != 0 && best_n <= target)
      break;
  }
  if (rc == 0 && target != 0 && best_n > target)
    rc = spd_ctx_fail(ctx, SPD_EROUTER,
                      "route: chip (%u,%u) needs %u routing entries after minimisation "
                      "(%u before; default-route removal and ordered covering tried), "
                      "but its router holds %u",
                      t->x, t->y, best_n, t->n, target);
  if (rc == 0) {
    memcpy(t->entries, best, (size_t)best_n * sizeof *best);
    t->n = best_n;
  }
  spd_free(ctx, work);
  spd_free(ctx, best);
  return rc;
}

int spd_map_tables_minimise(spd_ctx_t *ctx, spd_map_tables_t *t, uint32_t target) {
  uint32_t limit = target ? target : SPD_ROUTER_APP_ENTRIES;
  for (uint32_t c = 0; c < t->n_chips; c++) {
    int rc = spd_map_table_minimise(ctx, &t->chips[c], limit);
    if (rc < 0)
      return rc;
  }
  return 0;
}
