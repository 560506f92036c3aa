/* The paces the kernels keep: map-time work from the placed, routed
 * graph and the cost table (docs/calibration.md, "Drop-free by
 * construction"). */
#ifndef SPINDLE_MAP_PACING_H
#define SPINDLE_MAP_PACING_H

#include <stdint.h>

#include "map/dataspec.h"
#include "spindle/machine.h"

/** What set a partition's pace (spd__ds_paces): its own pace from the
 *  partitioner, or the per-sample load of a target core (vertex @p at), a
 *  chip's router (chip index) or a link (chip index * 7 + link). */
typedef enum { SPD__PACE_OWN, SPD__PACE_CORE, SPD__PACE_ROUTER, SPD__PACE_LINK } spd__pace_by_t;
typedef struct spd__ds_pace_why {
  uint64_t load;       /* the resource's cycles per sample */
  spd__pace_by_t by;
  uint32_t at;
} spd__ds_pace_why_t;

/** Every partition's pace (CPU cycles between sends) into @p pace:
 *  spread over the busiest target core, tree link and router it shares,
 *  times @p percent / 100; what set each into @p why unless NULL.
 *  @return 0 or SPD_ENOMEM. */
int spd__ds_paces(spd_ctx_t *ctx, const spd__ds_inputs_t *in, const spd_machine_t *m,
                  const spd_map_tree_t *trees, uint32_t percent, uint32_t *pace,
                  spd__ds_pace_why_t *why);

/** CPU cycles the kernel of vertex @p vi takes per received packet of a
 *  partition named @p kind, as the kernels charge it: the FIQ, the drain's
 *  work, its table search (values' partitions first, then credits and
 *  requests). */
uint32_t spd__ds_recv_cost(const spd__ds_inputs_t *in, uint32_t vi, const char *kind);

/** The cycles partition @p p's sender waits before a sample's first packet,
 *  given its pace @p pace. */
uint32_t spd__ds_phase_of(const spd__ds_inputs_t *in, uint32_t p, uint32_t pace);

#endif
