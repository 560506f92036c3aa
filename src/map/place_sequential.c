/* The baseline placer: vertices in graph order onto chips in the machine's
 * own order (rig's sequential placer, SPINNAKER.md §8). */
#include "map/place_fill.h"

int spd_place_sequential(spd_ctx_t *ctx, const spd_machine_graph_t *g, const spd_machine_t *m,
                         spd_placement_t *out) {
  uint32_t *chips = spd_malloc(ctx, sizeof *chips * (m->n_chips ? m->n_chips : 1));
  uint32_t *order = spd_malloc(ctx, sizeof *order * (g->n_vertices ? g->n_vertices : 1));
  int err = chips && order ? 0 : SPD_ENOMEM;
  if (!err) {
    for (uint32_t i = 0; i < m->n_chips; i++)
      chips[i] = i;
    for (uint32_t v = 0; v < g->n_vertices; v++)
      order[v] = v;
    err = spd__place_fill(ctx, g, m, chips, m->n_chips, order, out);
  }
  spd_free(ctx, chips);
  spd_free(ctx, order);
  return err;
}
