/* Routing every net: the default router is chosen here, in one place. */
#include "spindle/map_route.h"

#include <string.h>

#include "map/route_tree.h"

/* Rig's default NER radius (route/ner.py). */
#define SPD_MAP_NER_RADIUS 20

spd_map_route_opts_t spd_map_route_opts_default(void) {
  return (spd_map_route_opts_t){spd_map_route_ner, SPD_MAP_NER_RADIUS};
}

void spd_map_tree_free(spd_ctx_t *ctx, spd_map_tree_t *tree) {
  if (!tree)
    return;
  spd_free(ctx, tree->nodes);
  tree->nodes = NULL;
  tree->n_nodes = 0;
}

int spd_map_route(spd_ctx_t *ctx, const spd_machine_t *m, const spd_map_net_t *nets,
                  uint32_t n, const spd_map_route_opts_t *opts, spd_map_tree_t *trees) {
  spd_map_route_opts_t o = opts ? *opts : spd_map_route_opts_default();
  spd_map_router_fn router = o.router ? o.router : spd_map_route_ner;
  spd_map_tree_t *tmp = spd_calloc(ctx, n ? n : 1, sizeof *tmp);
  if (!tmp)
    return spd_ctx_fail(ctx, SPD_ENOMEM, "route: out of memory for %u trees", n);
  spd_map_route_work_t *w = NULL;
  int rc = spd__route_work_new(ctx, m, o.radius, &w);
  uint32_t done = 0;
  for (; rc == 0 && done < n; done++)
    rc = router(w, &nets[done], &tmp[done]);
  spd__route_work_free(w);
  if (rc == 0 && n > 0)
    memcpy(trees, tmp, (size_t)n * sizeof *trees);
  else
    for (uint32_t i = 0; i < done; i++)
      spd_map_tree_free(ctx, &tmp[i]);
  spd_free(ctx, tmp);
  return rc;
}
