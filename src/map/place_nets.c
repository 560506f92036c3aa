/* From a placed machine graph to the nets the routing step takes. */
#include <string.h>

#include "spindle/place.h"

/* Traffic kinds, in the order a group id uses them. */
static const char *const kinds[] = {"x", "psum", "y", "dz", "dxpsum", "record", "credit"};
#define N_KINDS (sizeof kinds / sizeof kinds[0])

static uint32_t kind_of(const char *name) {
  for (uint32_t k = 0; k < N_KINDS; k++)
    if (!strcmp(name, kinds[k]))
      return k;
  return N_KINDS;
}

static spd_map_core_t core_of(const spd_placement_t *p, uint32_t v) {
  return (spd_map_core_t){p->loc[v].x, p->loc[v].y, p->loc[v].core};
}

int spd_placement_nets(spd_ctx_t *ctx, const spd_machine_graph_t *g, const spd_placement_t *p,
                       spd_map_net_t **nets_out, spd_map_core_t **sinks_out) {
  size_t n_sinks = 0;
  for (uint32_t i = 0; i < g->n_partitions; i++)
    n_sinks += g->partitions[i].n_targets;
  spd_map_net_t *nets = spd_calloc(ctx, g->n_partitions ? g->n_partitions : 1, sizeof *nets);
  spd_map_core_t *sinks = spd_calloc(ctx, n_sinks ? n_sinks : 1, sizeof *sinks);
  if (!nets || !sinks) {
    spd_free(ctx, nets);
    spd_free(ctx, sinks);
    return SPD_ENOMEM;
  }
  size_t at = 0;
  for (uint32_t i = 0; i < g->n_partitions; i++) {
    const spd_partition_t *e = &g->partitions[i];
    for (uint32_t t = 0; t < e->n_targets; t++)
      sinks[at + t] = core_of(p, e->targets[t]);
    nets[i] = (spd_map_net_t){.source = core_of(p, e->source),
                              .n_keys = e->n_keys,
                              .group = (uint32_t)e->layer * (N_KINDS + 1) + kind_of(e->name),
                              .sinks = &sinks[at],
                              .n_sinks = e->n_targets};
    at += e->n_targets;
  }
  *nets_out = nets;
  *sinks_out = sinks;
  return 0;
}
