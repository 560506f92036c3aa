/* Nets from a placed machine graph: the bridge from the partitioner and
 * placer to routing. */
#include <string.h>

#include "spindle/map_route.h"
#include "spindle/partition.h"
#include "spindle/place.h"

void spd_map_nets_free(spd_ctx_t *ctx, spd_map_nets_t *nets) {
  if (!nets)
    return;
  spd_free(ctx, nets->nets);
  spd_free(ctx, nets->sinks);
  nets->nets = NULL;
  nets->sinks = NULL;
  nets->n = 0;
}

static spd_map_core_t core_of(const spd_placement_t *p, uint32_t v) {
  return (spd_map_core_t){p->loc[v].x, p->loc[v].y, p->loc[v].core};
}

/* The group of partition i: the index of the first partition with the same
 * layer and name. Quadratic in the partitions of a graph, which number in
 * the thousands at most. */
static uint32_t group_of(const spd_machine_graph_t *g, uint32_t i) {
  const spd_partition_t *a = &g->partitions[i];
  for (uint32_t j = 0; j < i; j++) {
    const spd_partition_t *b = &g->partitions[j];
    if (b->layer == a->layer && strcmp(b->name, a->name) == 0)
      return j;
  }
  return i;
}

static int check_vertices(spd_ctx_t *ctx, const spd_machine_graph_t *g, const spd_placement_t *p,
                          uint64_t *n_sinks) {
  if (p->n_vertices != g->n_vertices)
    return spd_ctx_fail(ctx, SPD_EINVAL, "nets: the placement has %u vertices, the graph %u",
                        p->n_vertices, g->n_vertices);
  *n_sinks = 0;
  for (uint32_t i = 0; i < g->n_partitions; i++) {
    const spd_partition_t *part = &g->partitions[i];
    bool bad = part->source >= g->n_vertices;
    for (uint32_t t = 0; t < part->n_targets; t++)
      bad |= part->targets[t] >= g->n_vertices;
    if (bad)
      return spd_ctx_fail(ctx, SPD_EINVAL, "nets: partition %u ('%s') names a vertex beyond the "
                          "graph's %u", i, part->name, g->n_vertices);
    *n_sinks += part->n_targets;
  }
  return 0;
}

int spd_map_nets_from_graph(spd_ctx_t *ctx, const spd_machine_graph_t *g, const spd_placement_t *p,
                            spd_map_nets_t *out) {
  uint64_t n_sinks = 0;
  int rc = check_vertices(ctx, g, p, &n_sinks);
  if (rc < 0)
    return rc;
  spd_map_nets_t r = {g->n_partitions,
                      spd_calloc(ctx, g->n_partitions ? g->n_partitions : 1, sizeof *r.nets),
                      spd_calloc(ctx, n_sinks ? n_sinks : 1, sizeof *r.sinks)};
  if (!r.nets || !r.sinks) {
    spd_map_nets_free(ctx, &r);
    return spd_ctx_fail(ctx, SPD_ENOMEM, "nets: out of memory for %u nets", g->n_partitions);
  }
  uint64_t k = 0;
  for (uint32_t i = 0; i < g->n_partitions; i++) {
    const spd_partition_t *part = &g->partitions[i];
    spd_map_core_t *sinks = &r.sinks[k];
    for (uint32_t t = 0; t < part->n_targets; t++)
      r.sinks[k++] = core_of(p, part->targets[t]);
    r.nets[i] = (spd_map_net_t){core_of(p, part->source), part->n_keys, group_of(g, i), sinks,
                                part->n_targets};
  }
  *out = r;
  return 0;
}
