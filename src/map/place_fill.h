/* What every placer shares: first-fit of vertices, in a given order, onto
 * chips in a given order, respecting working cores and chip SDRAM. */
#ifndef SPINDLE_MAP_PLACE_FILL_H
#define SPINDLE_MAP_PLACE_FILL_H

#include "spindle/place.h"

/** Place vertices order[0..n_vertices) onto chips chip_order[0..n_chips)
 *  (indices into m->chips): each vertex takes the lowest free working
 *  application core of the first chip, from the first chip that still has
 *  free cores, with a free core and enough SDRAM left.
 *  @return 0, SPD_ENOFIT (diagnostic names the vertex), SPD_ENOMEM. */
int spd__place_fill(spd_ctx_t *ctx, const spd_machine_graph_t *g, const spd_machine_t *m,
                    const uint32_t *chip_order, uint32_t n_chips, const uint32_t *order,
                    spd_placement_t *out);

#endif
