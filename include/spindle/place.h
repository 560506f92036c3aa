/* The second step of the compiler (map/): put every vertex of a machine
 * graph (partition.h) on its own working application core. Placers share
 * one signature (as rig's place functions, SPINNAKER.md §8); the default is
 * chosen in one place (spd_place). Every placer must pass the same contract
 * (spd_placement_check): each vertex on a working application core of a
 * live chip, never the monitor, no two vertices on one core, each chip's
 * SDRAM and each core's DTCM respected, every vertex's kernel within the
 * ITCM (the sizes of make arm, docs/calibration.md), and the same result
 * every run. */
#ifndef SPINDLE_PLACE_H
#define SPINDLE_PLACE_H

#include <stdint.h>

#include "spindle/context.h"
#include "spindle/machine.h"
#include "spindle/map_route.h"
#include "spindle/partition.h"

/** Where a vertex runs: chip (x, y), physical core 1..17. */
typedef struct spd_place_loc {
  uint16_t x, y;
  uint8_t core;
} spd_place_loc_t;

/** A placement of a graph's vertices. The struct is the caller's; its
 *  array is owned and freed with spd_placement_free. */
typedef struct spd_placement {
  spd_ctx_t *ctx;
  uint32_t n_vertices;
  spd_place_loc_t *loc;         /* loc[v]: where vertex v runs */
  uint32_t chips_used;
  uint32_t cores_used;
} spd_placement_t;

/** A placer. @return 0 and *out filled; SPD_ENOFIT when the graph does not
 *  fit (diagnostic names the vertex, its layer and what it needed vs what
 *  was left); SPD_ENOMEM. On failure *out is untouched. */
typedef int (*spd_placer_fn)(spd_ctx_t *ctx, const spd_machine_graph_t *g,
                             const spd_machine_t *m, spd_placement_t *out);

/** Vertices in graph order onto chips in the machine's chip order, first
 *  fit: the baseline. */
int spd_place_sequential(spd_ctx_t *ctx, const spd_machine_graph_t *g, const spd_machine_t *m,
                         spd_placement_t *out);

/** Locality-aware: chips breadth-first outward from the Ethernet chip over
 *  working links (as PACMAN's radial placer); sources first (the host
 *  writes their samples through that chip, SPINNAKER.md §3 host I/O), then
 *  each layer one column block at a time (its tiles, then their reducer),
 *  so partial sums mostly stay on one chip; loss and sink last, beside the
 *  output layer. The default. */
int spd_place_locality(spd_ctx_t *ctx, const spd_machine_graph_t *g, const spd_machine_t *m,
                       spd_placement_t *out);

/** The default placer (locality); SPD_ENOFIT, naming the vertex, its role
 *  and its kernel's size, when a kernel does not fit a core's ITCM. */
int spd_place(spd_ctx_t *ctx, const spd_machine_graph_t *g, const spd_machine_t *m,
              spd_placement_t *out);

/** Check the placer contract; @return 0 or SPD_EINVAL naming the first
 *  violation (vertex, chip, core, bytes), SPD_ENOFIT for a kernel over the
 *  ITCM. */
int spd_placement_check(spd_ctx_t *ctx, const spd_machine_graph_t *g, const spd_machine_t *m,
                        const spd_placement_t *p);

void spd_placement_free(spd_placement_t *p);

/** The nets of a placed graph for routing (map_route.h): net i is
 *  partition i, from its source's core to its targets' cores, with the
 *  partition's n_keys; nets of one layer and one kind of traffic share a
 *  group, so their key blocks sit side by side and their entries merge.
 *  @param nets_out  g->n_partitions nets, owned by the caller (spd_free);
 *  @param sinks_out the cores the nets' sinks point into, owned by the
 *                   caller (spd_free), valid as long as the nets are used.
 *  @return 0 or SPD_ENOMEM (outputs untouched). */
int spd_placement_nets(spd_ctx_t *ctx, const spd_machine_graph_t *g, const spd_placement_t *p,
                       spd_map_net_t **nets_out, spd_map_core_t **sinks_out);

#endif
