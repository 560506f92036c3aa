/* The routing half of the compiler end to end: keys, trees, tables,
 * minimisation (include/spindle/map_route.h). */
#include "spindle/map_route.h"

void spd_map_routing_free(spd_ctx_t *ctx, spd_map_routing_t *r) {
  if (!r)
    return;
  for (uint32_t i = 0; r->trees && i < r->n_nets; i++)
    spd_map_tree_free(ctx, &r->trees[i]);
  spd_free(ctx, r->trees);
  spd_free(ctx, r->keys);
  spd_map_tables_free(ctx, &r->tables);
  r->trees = NULL;
  r->keys = NULL;
  r->n_nets = 0;
}

static int build(spd_ctx_t *ctx, const spd_machine_t *m, const spd_map_net_t *nets, uint32_t n,
                 const spd_map_route_opts_t *opts, spd_map_routing_t *r) {
  int rc = spd_map_keys_allocate(ctx, nets, n, r->keys);
  if (rc < 0)
    return rc;
  rc = spd_map_route(ctx, m, nets, n, opts, r->trees);
  if (rc < 0)
    return rc;
  r->n_nets = n;
  rc = spd_map_tables_build(ctx, m, r->trees, r->keys, n, &r->tables);
  if (rc < 0)
    return rc;
  r->entries_before = spd_map_tables_max_entries(&r->tables);
  rc = spd_map_tables_minimise(ctx, &r->tables, 0);
  r->entries_after = spd_map_tables_max_entries(&r->tables);
  return rc;
}

int spd_map_routing_build(spd_ctx_t *ctx, const spd_machine_t *m, const spd_map_net_t *nets,
                          uint32_t n, const spd_map_route_opts_t *opts,
                          spd_map_routing_t *out) {
  spd_map_routing_t r = {0};
  r.keys = spd_calloc(ctx, n ? n : 1, sizeof *r.keys);
  r.trees = spd_calloc(ctx, n ? n : 1, sizeof *r.trees);
  int rc = (!r.keys || !r.trees)
               ? spd_ctx_fail(ctx, SPD_ENOMEM, "route: out of memory for %u nets", n)
               : build(ctx, m, nets, n, opts, &r);
  if (rc < 0) {
    r.n_nets = n;
    spd_map_routing_free(ctx, &r);
    return rc;
  }
  *out = r;
  return 0;
}
