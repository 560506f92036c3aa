/* The board's roofline for a mapped model (issue 13 A1, docs/emulator.md
 * "Roofline"): the most samples per second the machine could train (or
 * infer) with this mapping if only its busiest resource limited it, from
 * the mapped graph's per-sample counts and the cost table's capacities. */
#ifndef SPINDLE_RUN_MACHINE_ROOFLINE_H
#define SPINDLE_RUN_MACHINE_ROOFLINE_H

#include <stdint.h>

#include "spindle/context.h"
#include "spindle/machine.h"
#include "spindle/map_route.h"
#include "spindle/partition.h"
#include "spindle/place.h"

/** One kind of resource at its busiest instance. */
typedef struct spd__roof_part {
  double samples_per_second; /* 0: the mapping uses none of this kind */
  char where[96];            /* "core (x,y,p) <vertex>", "router (x,y)",
                                "link (x,y)->(x',y') DIR" */
} spd__roof_part_t;

typedef struct spd__roofline {
  spd__roof_part_t core;   /* compute and packet handling share the CPU */
  spd__roof_part_t router; /* one packet per router cycle */
  spd__roof_part_t link;   /* one 72-bit packet per link time */
  double samples_per_second; /* the least of the three */
  const spd__roof_part_t *binding;
} spd__roofline_t;

/** The roofline of graph @p g placed by @p place and routed by @p routing
 *  (trees indexed by partition) on @p m. Per sample: a core's busy cycles
 *  are its vertex's cycles_per_sample (the partitioner's cost model:
 *  compute, sends and receives, the batch-end update amortised); every
 *  packet of a partition (values x words; a per-batch partition's over
 *  @p batch samples) passes the router of every chip of its tree once and
 *  every link of the tree once. Capacities come from the cost table by
 *  name (SPD_COST_CORE_CYCLE_PS, SPD_COST_ROUTER_CYCLE_PS,
 *  SPD_COST_LINK_PS_72BIT: every packet the kernels send carries a
 *  payload). @return 0 or SPD_ENOMEM. */
int spd__roofline(spd_ctx_t *ctx, const spd_machine_graph_t *g, const spd_placement_t *place,
                  const spd_map_routing_t *routing, const spd_machine_t *m, uint32_t batch,
                  spd__roofline_t *out);

/** The roofline of run @p r's mapping into @p st's roofline fields
 *  (run_machine's call, once the run is over). @return 0 or SPD_ENOMEM. */
struct mrun;
struct spd_machine_stats;
int spd__mrun_roofline(const struct mrun *r, struct spd_machine_stats *st);

#endif
