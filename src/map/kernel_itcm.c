#include "map/kernel_itcm.h"

#include <inttypes.h>

#include "map/kernel_itcm_table.h"
#include "spindle/error.h"

static const uint32_t itcm_bytes[SPD_ROLE_COUNT][2] = {SPD__KERNEL_ITCM_TABLE};

uint32_t spd__kernel_itcm_bytes(spd_vertex_role_t role, bool fixed) {
  return (unsigned)role < SPD_ROLE_COUNT ? itcm_bytes[role][fixed ? 0 : 1] : 0u;
}

int spd__kernel_itcm_check(spd_ctx_t *ctx, const spd_machine_graph_t *g, uint32_t itcm) {
  bool fixed = g->opts.numeric == SPD_NUMERIC_FIXED;
  for (uint32_t v = 0; v < g->n_vertices; v++) {
    spd_vertex_role_t role = g->vertices[v].role;
    uint32_t bytes = spd__kernel_itcm_bytes(role, fixed);
    if (bytes > itcm)
      return spd_ctx_fail(ctx, SPD_ENOFIT,
                          "vertex %" PRIu32 " (%s, %s): its kernel is %" PRIu32 " bytes of code "
                          "and read-only data, over the %" PRIu32 "-byte ITCM of a core",
                          v, spd_vertex_role_name(role), fixed ? "fixed point" : "float", bytes,
                          itcm);
  }
  return 0;
}
