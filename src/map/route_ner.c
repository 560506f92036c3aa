/* Rig's neighbour-exploring router (route/ner.py, after Navaridas et al.;
 * SPINNAKER.md §8). Sink chips are handled closest to the source first; each
 * attaches to the nearest chip already in the tree within `radius` hops (the
 * source if none) by a longest-dimension-first path, cut where it last meets
 * the tree so no loop can form. Where that path crosses a dead link or chip,
 * the sink is connected instead by the shortest working path from the tree
 * (breadth-first), which also finds a way when faults cut the direct one. */
#include "map/route_ner.h"

#include <stdlib.h>

#include "map/route_tree.h"

typedef struct sink_ref {
  uint32_t hops;
  spd_map_core_t core;
} sink_ref_t;

static int cmp_sink(const void *a, const void *b) {
  const sink_ref_t *s = a, *t = b;
  if (s->hops != t->hops)
    return s->hops < t->hops ? -1 : 1;
  if (s->core.x != t->core.x)
    return s->core.x < t->core.x ? -1 : 1;
  if (s->core.y != t->core.y)
    return s->core.y < t->core.y ? -1 : 1;
  return (s->core.core > t->core.core) - (s->core.core < t->core.core);
}

/* The tree node nearest to (x, y) within radius hops; the source otherwise.
 * Earlier nodes win ties, so the result is deterministic. */
static int32_t nearest_node(const spd_map_route_work_t *w, int x, int y, uint32_t radius) {
  int32_t best = 0;
  uint32_t best_hops = UINT32_MAX;
  for (uint32_t i = 0; radius > 0 && i < w->n_nodes; i++) {
    uint32_t h = (uint32_t)spd_machine_hops(w->m, w->nodes[i].x, w->nodes[i].y, x, y);
    if (h <= radius && h < best_hops) {
      best = (int32_t)i;
      best_hops = h;
    }
  }
  return best;
}

static int32_t attach_chip(spd_map_route_work_t *w, const spd_map_net_t *net, int x, int y,
                           uint32_t radius) {
  int32_t node = spd__tree_find(w, x, y);
  if (node >= 0)
    return node;
  node = spd__tree_connect_ldf(w, nearest_node(w, x, y, radius), x, y);
  if (node != SPD_ENOTFOUND)
    return node;
  node = spd__tree_connect_bfs(w, x, y);
  if (node == SPD_ENOFIT)
    return spd_ctx_fail(w->ctx, SPD_ENOFIT,
                        "route: no working path from source chip (%u,%u) to sink chip (%d,%d): "
                        "dead links or chips cut it off",
                        net->source.x, net->source.y, x, y);
  return node;
}

static int route_sinks(spd_map_route_work_t *w, const spd_map_net_t *net, sink_ref_t *sinks,
                       uint32_t radius) {
  for (uint32_t i = 0; i < net->n_sinks; i++) {
    int rc = spd__tree_check_sink(w, &net->sinks[i]);
    if (rc < 0)
      return rc;
    sinks[i].core = net->sinks[i];
    sinks[i].hops = (uint32_t)spd_machine_hops(w->m, net->source.x, net->source.y,
                                               net->sinks[i].x, net->sinks[i].y);
  }
  qsort(sinks, net->n_sinks, sizeof *sinks, cmp_sink);
  for (uint32_t i = 0; i < net->n_sinks; i++) {
    int32_t node = attach_chip(w, net, sinks[i].core.x, sinks[i].core.y, radius);
    if (node < 0)
      return node;
    w->nodes[node].route |= spd_route_core(sinks[i].core.core);
  }
  return 0;
}

int spd__route_ner_radius(spd_map_route_work_t *w, const spd_map_net_t *net, uint32_t radius,
                          spd_map_tree_t *out) {
  int rc = spd__tree_begin(w, &net->source);
  if (rc < 0)
    return rc;
  sink_ref_t *sinks = spd_calloc(w->ctx, net->n_sinks ? net->n_sinks : 1, sizeof *sinks);
  if (!sinks)
    return spd_ctx_fail(w->ctx, SPD_ENOMEM, "route: out of memory for %u sinks", net->n_sinks);
  rc = route_sinks(w, net, sinks, radius);
  spd_free(w->ctx, sinks);
  return rc < 0 ? rc : spd__tree_finish(w, out);
}

int spd_map_route_ner(spd_map_route_work_t *w, const spd_map_net_t *net, spd_map_tree_t *out) {
  return spd__route_ner_radius(w, net, w->radius, out);
}
