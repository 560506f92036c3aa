/* The board's roofline for a mapped model (machine_roofline.h). */
#include "run/machine_roofline.h"

#include <stdio.h>

#include "machine/cost_table.h"
#include "run/machine_session.h"

/* The busiest instance of one kind: its load in picoseconds per sample. */
typedef struct {
  double ps;
  int64_t at; /* index into the kind's array, -1: none */
} busiest_t;

static void consider(busiest_t *b, double ps, int64_t at) {
  if (ps > b->ps) {
    b->ps = ps;
    b->at = at;
  }
}

static void finish(spd__roof_part_t *part, const busiest_t *b) {
  part->samples_per_second = b->ps > 0 ? 1e12 / b->ps : 0;
}

int spd__roofline(spd_ctx_t *ctx, const spd_machine_graph_t *g, const spd_placement_t *place,
                  const spd_map_routing_t *routing, const spd_machine_t *m, uint32_t batch,
                  spd__roofline_t *out) {
  *out = (spd__roofline_t){0};
  size_t n_cores = (size_t)m->n_chips * SPD_CORES_PER_CHIP;
  size_t n_links = (size_t)m->n_chips * SPD_LINKS;
  double *core = spd_calloc(ctx, n_cores ? n_cores : 1, sizeof *core);
  uint32_t *owner = spd_calloc(ctx, n_cores ? n_cores : 1, sizeof *owner);
  double *router = spd_calloc(ctx, m->n_chips ? m->n_chips : 1, sizeof *router);
  double *link = spd_calloc(ctx, n_links ? n_links : 1, sizeof *link);
  int err = 0;
  if (!core || !owner || !router || !link) {
    err = spd_ctx_fail(ctx, SPD_ENOMEM, "roofline: no memory for %u chips", m->n_chips);
    goto done;
  }
  for (uint32_t v = 0; v < g->n_vertices && v < place->n_vertices; v++) {
    const spd_place_loc_t *at = &place->loc[v];
    int32_t c = spd_machine_chip_index(m, at->x, at->y);
    if (c < 0 || at->core >= SPD_CORES_PER_CHIP)
      continue;
    size_t i = (size_t)c * SPD_CORES_PER_CHIP + at->core;
    core[i] += (double)g->vertices[v].cycles_per_sample * SPD_COST_CORE_CYCLE_PS;
    owner[i] = v + 1u;
  }
  for (uint32_t p = 0; p < g->n_partitions && p < routing->n_nets; p++) {
    const spd_partition_t *part = &g->partitions[p];
    double packets = (double)part->values.n * part->words;
    if (part->per_batch)
      packets /= batch ? batch : 1u;
    const spd_map_tree_t *tree = &routing->trees[p];
    for (uint32_t n = 0; n < tree->n_nodes; n++) {
      const spd_map_node_t *node = &tree->nodes[n];
      int32_t c = spd_machine_chip_index(m, node->x, node->y);
      if (c < 0)
        continue;
      router[c] += packets * SPD_COST_ROUTER_CYCLE_PS;
      if (node->parent < 0 || node->in_link < 0)
        continue;
      const spd_map_node_t *from = &tree->nodes[node->parent];
      int32_t pc = spd_machine_chip_index(m, from->x, from->y);
      spd_link_t dir = spd_link_opposite((spd_link_t)node->in_link);
      if (pc >= 0)
        link[(size_t)pc * SPD_LINKS + dir] += packets * SPD_COST_LINK_PS_72BIT;
    }
  }
  busiest_t bc = {0, -1}, br = {0, -1}, bl = {0, -1};
  for (size_t i = 0; i < n_cores; i++)
    consider(&bc, core[i], (int64_t)i);
  for (size_t i = 0; i < m->n_chips; i++)
    consider(&br, router[i], (int64_t)i);
  for (size_t i = 0; i < n_links; i++)
    consider(&bl, link[i], (int64_t)i);
  finish(&out->core, &bc);
  finish(&out->router, &br);
  finish(&out->link, &bl);
  if (bc.at >= 0) {
    const spd_chip_t *chip = &m->chips[bc.at / SPD_CORES_PER_CHIP];
    char who[64] = "";
    if (owner[bc.at])
      spd_vertex_describe(g, owner[bc.at] - 1u, who, sizeof who);
    snprintf(out->core.where, sizeof out->core.where, "core (%d,%d,%d) %s", chip->x, chip->y,
             (int)(bc.at % SPD_CORES_PER_CHIP), who);
  }
  if (br.at >= 0)
    snprintf(out->router.where, sizeof out->router.where, "router (%d,%d)", m->chips[br.at].x,
             m->chips[br.at].y);
  if (bl.at >= 0) {
    const spd_chip_t *chip = &m->chips[bl.at / SPD_LINKS];
    spd_link_t dir = (spd_link_t)(bl.at % SPD_LINKS);
    int nx = chip->x, ny = chip->y;
    spd_machine_neighbour(m, chip->x, chip->y, dir, &nx, &ny);
    snprintf(out->link.where, sizeof out->link.where, "link (%d,%d)->(%d,%d) %s", chip->x,
             chip->y, nx, ny, spd_link_name(dir));
  }
  /* The binding resource: the one with the fewest samples per second. */
  const spd__roof_part_t *parts[] = {&out->core, &out->router, &out->link};
  for (int k = 0; k < 3; k++)
    if (parts[k]->samples_per_second > 0 &&
        (!out->binding || parts[k]->samples_per_second < out->binding->samples_per_second))
      out->binding = parts[k];
  out->samples_per_second = out->binding ? out->binding->samples_per_second : 0;
done:
  spd_free(ctx, core);
  spd_free(ctx, owner);
  spd_free(ctx, router);
  spd_free(ctx, link);
  return err;
}

int spd__mrun_roofline(const mrun_t *r, spd_machine_stats_t *st) {
  spd__roofline_t roof;
  uint32_t batch = r->cfg ? (uint32_t)r->cfg->batch_size : 1u;
  int err = spd__roofline(r->ctx, r->g, &r->place, &r->routing, r->machine, batch, &roof);
  if (err)
    return err;
  st->roofline_samples_per_second = roof.samples_per_second;
  snprintf(st->binding_resource, sizeof st->binding_resource, "%s",
           roof.binding ? roof.binding->where : "");
  st->roofline_core_samples_per_second = roof.core.samples_per_second;
  st->roofline_router_samples_per_second = roof.router.samples_per_second;
  st->roofline_link_samples_per_second = roof.link.samples_per_second;
  return 0;
}
