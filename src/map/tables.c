/* Per-chip routing tables from multicast trees: one entry per (net, chip of
 * its tree), carrying the net's key block, the node's route word and the
 * link its packets arrive on (or "local" at the source chip), which default
 * routing needs later (SPINNAKER.md §2). */
#include "spindle/map_route.h"

#include <string.h>

void spd_map_tables_free(spd_ctx_t *ctx, spd_map_tables_t *t) {
  if (!t)
    return;
  for (uint32_t c = 0; c < t->n_chips && t->chips; c++)
    spd_free(ctx, t->chips[c].entries);
  spd_free(ctx, t->chips);
  t->chips = NULL;
  t->n_chips = 0;
}

uint32_t spd_map_tables_max_entries(const spd_map_tables_t *t) {
  uint32_t max = 0;
  for (uint32_t c = 0; c < t->n_chips; c++)
    max = t->chips[c].n > max ? t->chips[c].n : max;
  return max;
}

void spd_map_table_export(const spd_map_table_t *t, spd_route_entry_t *out) {
  for (uint32_t i = 0; i < t->n; i++)
    out[i] = spd_route_entry(t->entries[i].key, t->entries[i].mask, t->entries[i].route);
}

/* Count the entries each chip needs (the cap field holds the count). */
static int count_entries(spd_ctx_t *ctx, const spd_machine_t *m, const spd_map_tree_t *trees,
                         uint32_t n_nets, spd_map_table_t *chips) {
  for (uint32_t t = 0; t < n_nets; t++)
    for (uint32_t i = 0; i < trees[t].n_nodes; i++) {
      const spd_map_node_t *node = &trees[t].nodes[i];
      int32_t c = spd_machine_chip_index(m, node->x, node->y);
      if (c < 0)
        return spd_ctx_fail(ctx, SPD_EINVAL, "tables: net %u's tree visits chip (%u,%u), "
                            "which is absent or dead", t, node->x, node->y);
      if (node->route != 0)
        chips[c].cap++;
    }
  return 0;
}

static void fill_entries(const spd_machine_t *m, const spd_map_tree_t *trees,
                         const spd_key_block_t *keys, uint32_t n_nets, spd_map_table_t *chips) {
  for (uint32_t t = 0; t < n_nets; t++)
    for (uint32_t i = 0; i < trees[t].n_nodes; i++) {
      const spd_map_node_t *node = &trees[t].nodes[i];
      if (node->route == 0)
        continue;
      spd_map_table_t *chip = &chips[spd_machine_chip_index(m, node->x, node->y)];
      uint32_t sources = node->in_link < 0 ? SPD_MAP_SOURCE_LOCAL : 1u << node->in_link;
      chip->entries[chip->n++] =
          (spd_map_entry_t){keys[t].base, keys[t].mask, node->route, sources};
    }
}

int spd_map_tables_build(spd_ctx_t *ctx, const spd_machine_t *m, const spd_map_tree_t *trees,
                         const spd_key_block_t *keys, uint32_t n_nets,
                         spd_map_tables_t *out) {
  spd_map_tables_t t = {m->n_chips, spd_calloc(ctx, m->n_chips ? m->n_chips : 1,
                                               sizeof(spd_map_table_t))};
  if (!t.chips)
    return spd_ctx_fail(ctx, SPD_ENOMEM, "tables: out of memory for %u chips", m->n_chips);
  int rc = count_entries(ctx, m, trees, n_nets, t.chips);
  for (uint32_t c = 0; rc == 0 && c < t.n_chips; c++) {
    t.chips[c].x = m->chips[c].x;
    t.chips[c].y = m->chips[c].y;
    if (t.chips[c].cap == 0)
      continue;
    t.chips[c].entries = spd_malloc(ctx, (size_t)t.chips[c].cap * sizeof(spd_map_entry_t));
    if (!t.chips[c].entries)
      rc = spd_ctx_fail(ctx, SPD_ENOMEM, "tables: out of memory for %u entries of chip (%u,%u)",
                        t.chips[c].cap, t.chips[c].x, t.chips[c].y);
  }
  if (rc < 0) {
    spd_map_tables_free(ctx, &t);
    return rc;
  }
  fill_entries(m, trees, keys, n_nets, t.chips);
  *out = t;
  return 0;
}
