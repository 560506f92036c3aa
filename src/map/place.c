/* The default placer, the placer contract and freeing a placement. */
#include "spindle/place.h"

#include <inttypes.h>

#include "map/kernel_itcm.h"

int spd_place(spd_ctx_t *ctx, const spd_machine_graph_t *g, const spd_machine_t *m,
              spd_placement_t *out) {
  /* A kernel that does not fit a core's ITCM fits nowhere (make arm). */
  int err = spd__kernel_itcm_check(ctx, g, SPD_ITCM_BYTES);
  return err ? err : spd_place_locality(ctx, g, m, out);
}

void spd_placement_free(spd_placement_t *p) {
  if (!p)
    return;
  spd_free(p->ctx, p->loc);
  p->loc = NULL;
  p->n_vertices = 0;
}

/* The chip and core of vertex v are a working application core. */
static int check_core(spd_ctx_t *ctx, const spd_machine_t *m, uint32_t v,
                      const spd_place_loc_t *l) {
  const spd_chip_t *chip = spd_machine_chip(m, l->x, l->y);
  if (!chip)
    return spd_ctx_fail(ctx, SPD_EINVAL, "vertex %" PRIu32 " is on chip (%u,%u), which is dead "
                        "or absent", v, l->x, l->y);
  if (l->core == SPD_MONITOR_CORE || l->core >= SPD_CORES_PER_CHIP ||
      !(chip->core_mask & (1u << l->core)))
    return spd_ctx_fail(ctx, SPD_EINVAL, "vertex %" PRIu32 " is on core %u of chip (%u,%u), "
                        "which is not a working application core", v, l->core, l->x, l->y);
  return 0;
}

int spd_placement_check(spd_ctx_t *ctx, const spd_machine_graph_t *g, const spd_machine_t *m,
                        const spd_placement_t *p) {
  if (p->n_vertices != g->n_vertices || !p->loc)
    return spd_ctx_fail(ctx, SPD_EINVAL, "placement holds %" PRIu32 " vertices, graph %" PRIu32,
                        p->n_vertices, g->n_vertices);
  int itcm_err = spd__kernel_itcm_check(ctx, g, SPD_ITCM_BYTES);
  if (itcm_err)
    return itcm_err;
  uint32_t *owner = spd_malloc(ctx, sizeof *owner * (size_t)m->n_chips * SPD_CORES_PER_CHIP + 1);
  uint64_t *sdram = spd_calloc(ctx, m->n_chips ? m->n_chips : 1, sizeof *sdram);
  int err = owner && sdram ? 0 : SPD_ENOMEM;
  for (size_t i = 0; !err && i < (size_t)m->n_chips * SPD_CORES_PER_CHIP; i++)
    owner[i] = UINT32_MAX;
  for (uint32_t v = 0; !err && v < g->n_vertices; v++) {
    const spd_place_loc_t *l = &p->loc[v];
    if ((err = check_core(ctx, m, v, l)))
      break;
    int32_t c = spd_machine_chip_index(m, l->x, l->y);
    size_t slot = (size_t)c * SPD_CORES_PER_CHIP + l->core;
    if (owner[slot] != UINT32_MAX) {
      err = spd_ctx_fail(ctx, SPD_EINVAL, "vertices %" PRIu32 " and %" PRIu32 " share core %u "
                         "of chip (%u,%u)", owner[slot], v, l->core, l->x, l->y);
      break;
    }
    owner[slot] = v;
    sdram[c] += g->vertices[v].sdram_bytes;
    if (sdram[c] > m->chips[c].sdram_bytes)
      err = spd_ctx_fail(ctx, SPD_EINVAL, "chip (%u,%u) holds %" PRIu64 " bytes of SDRAM for its "
                         "vertices but has %" PRIu32, l->x, l->y, sdram[c],
                         m->chips[c].sdram_bytes);
    else if (g->vertices[v].dtcm_bytes > spd_partition_dtcm_budget())
      err = spd_ctx_fail(ctx, SPD_EINVAL, "vertex %" PRIu32 " needs %" PRIu32 " bytes of DTCM, "
                         "a core has %" PRIu32, v, g->vertices[v].dtcm_bytes,
                         spd_partition_dtcm_budget());
  }
  spd_free(ctx, owner);
  spd_free(ctx, sdram);
  return err;
}
