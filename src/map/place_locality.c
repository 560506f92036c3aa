/* The locality-aware placer (place.h): chips breadth-first from the
 * Ethernet chip over working links (PACMAN's radial placer, SPINNAKER.md
 * §8), vertices grouped so that communicating cores share a chip. */
#include "map/place_fill.h"

/* The first Ethernet chip in the machine's order, else chip 0. */
static uint32_t root_chip(const spd_machine_t *m) {
  for (uint32_t i = 0; i < m->n_chips; i++)
    if (m->chips[i].ethernet)
      return i;
  return 0;
}

/* Chips reachable from the root over working links, nearest first; links
 * are tried in route-bit order, so the result is deterministic. Chips the
 * root cannot reach are left out: no packet could get to them. */
static uint32_t bfs_chips(const spd_machine_t *m, uint32_t *order, uint8_t *seen) {
  uint32_t head = 0, tail = 0, root = root_chip(m);
  if (!m->n_chips)
    return 0;
  order[tail++] = root;
  seen[root] = 1;
  while (head < tail) {
    const spd_chip_t *c = &m->chips[order[head++]];
    for (int l = 0; l < SPD_LINKS; l++) {
      int nx, ny;
      if (!spd_machine_neighbour(m, c->x, c->y, (spd_link_t)l, &nx, &ny))
        continue;
      int32_t n = spd_machine_chip_index(m, nx, ny);
      if (n >= 0 && !seen[n]) {
        seen[n] = 1;
        order[tail++] = (uint32_t)n;
      }
    }
  }
  return tail;
}

/* Sources; each layer column by column (tiles of the column, then its
 * reducer); everything else (loss, sink) in graph order. */
static void vertex_order(const spd_machine_graph_t *g, uint32_t *order, uint8_t *taken) {
  uint32_t n = 0;
  for (uint32_t v = 0; v < g->n_vertices; v++)
    if (g->vertices[v].role == SPD_ROLE_SOURCE) {
      order[n++] = v;
      taken[v] = 1;
    }
  for (int d = 0; d < g->n_dense; d++) {
    const spd_layer_tiling_t *t = &g->dense[d];
    uint32_t R = t->grid_rows, C = t->grid_cols;
    if (!t->n_vertices)
      continue; /* shares an earlier layer's core */
    for (uint32_t j = 0; j < C; j++) {
      for (uint32_t i = 0; i < R; i++) {
        uint32_t v = t->first_vertex + i * C + j;
        order[n++] = v;
        taken[v] = 1;
      }
      if (R > 1) {
        uint32_t v = t->first_vertex + R * C + j;
        order[n++] = v;
        taken[v] = 1;
      }
    }
  }
  for (uint32_t v = 0; v < g->n_vertices; v++)
    if (!taken[v])
      order[n++] = v;
}

int spd_place_locality(spd_ctx_t *ctx, const spd_machine_graph_t *g, const spd_machine_t *m,
                       spd_placement_t *out) {
  size_t nc = m->n_chips ? m->n_chips : 1, nv = g->n_vertices ? g->n_vertices : 1;
  uint32_t *chips = spd_malloc(ctx, sizeof *chips * nc);
  uint8_t *seen = spd_calloc(ctx, nc, 1);
  uint32_t *order = spd_malloc(ctx, sizeof *order * nv);
  uint8_t *taken = spd_calloc(ctx, nv, 1);
  int err = chips && seen && order && taken ? 0 : SPD_ENOMEM;
  if (!err) {
    uint32_t n_chips = bfs_chips(m, chips, seen);
    vertex_order(g, order, taken);
    err = spd__place_fill(ctx, g, m, chips, n_chips, order, out);
  }
  spd_free(ctx, chips);
  spd_free(ctx, seen);
  spd_free(ctx, order);
  spd_free(ctx, taken);
  return err;
}
