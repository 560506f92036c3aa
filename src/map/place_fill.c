/* First-fit placement in given chip and vertex orders (place_fill.h). */
#include "map/place_fill.h"

#include <inttypes.h>

/* Per chip: cores still free (bit c), SDRAM left. */
typedef struct chip_room {
  uint32_t free_cores;
  uint64_t sdram_left;
} chip_room_t;

static uint32_t app_core_mask(const spd_chip_t *c) {
  return c->core_mask & ~(1u << SPD_MONITOR_CORE) & ((1u << SPD_CORES_PER_CHIP) - 1u);
}

static int lowest_bit(uint32_t v) {
  int b = 0;
  while (!(v & 1u)) {
    v >>= 1;
    b++;
  }
  return b;
}

static int no_room(spd_ctx_t *ctx, const spd_machine_graph_t *g, const spd_machine_t *m,
                   uint32_t v, uint32_t free_cores) {
  char what[160];
  spd_vertex_describe(g, v, what, sizeof what);
  return spd_ctx_fail(ctx, SPD_ENOFIT,
                      "cannot place %s on machine '%s': it needs a free application core on a "
                      "chip with %" PRIu64 " bytes of SDRAM left; %" PRIu32
                      " cores are free but no chip has both (graph of %" PRIu32 " vertices)",
                      what, m->name, g->vertices[v].sdram_bytes, free_cores, g->n_vertices);
}

int spd__place_fill(spd_ctx_t *ctx, const spd_machine_graph_t *g, const spd_machine_t *m,
                    const uint32_t *chip_order, uint32_t n_chips, const uint32_t *order,
                    spd_placement_t *out) {
  chip_room_t *room = spd_calloc(ctx, m->n_chips ? m->n_chips : 1, sizeof *room);
  spd_place_loc_t *loc = spd_calloc(ctx, g->n_vertices ? g->n_vertices : 1, sizeof *loc);
  if (!room || !loc) {
    spd_free(ctx, room);
    spd_free(ctx, loc);
    return SPD_ENOMEM;
  }
  uint32_t free_cores = 0;
  for (uint32_t i = 0; i < m->n_chips; i++) {
    room[i] = (chip_room_t){app_core_mask(&m->chips[i]), m->chips[i].sdram_bytes};
    free_cores += (uint32_t)__builtin_popcount(room[i].free_cores);
  }
  uint32_t cursor = 0, chips_used = 0;
  for (uint32_t k = 0; k < g->n_vertices; k++) {
    uint32_t v = order[k];
    while (cursor < n_chips && !room[chip_order[cursor]].free_cores)
      cursor++;
    uint32_t c = cursor;
    while (c < n_chips && (!room[chip_order[c]].free_cores ||
                           room[chip_order[c]].sdram_left < g->vertices[v].sdram_bytes))
      c++;
    if (c == n_chips) {
      spd_free(ctx, room);
      spd_free(ctx, loc);
      return no_room(ctx, g, m, v, free_cores);
    }
    chip_room_t *r = &room[chip_order[c]];
    int core = lowest_bit(r->free_cores);
    chips_used += r->free_cores == app_core_mask(&m->chips[chip_order[c]]);
    r->free_cores &= ~(1u << core);
    r->sdram_left -= g->vertices[v].sdram_bytes;
    free_cores--;
    const spd_chip_t *chip = &m->chips[chip_order[c]];
    loc[v] = (spd_place_loc_t){chip->x, chip->y, (uint8_t)core};
  }
  spd_free(ctx, room);
  *out = (spd_placement_t){.ctx = ctx, .n_vertices = g->n_vertices, .loc = loc,
                           .chips_used = chips_used, .cores_used = g->n_vertices};
  return 0;
}
