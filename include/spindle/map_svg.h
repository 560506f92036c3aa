/* The mapping of a model onto a machine as a picture (SVG): chips, their
 * cores coloured by the model layer each holds, and the links coloured and
 * sized by the keys per sample they carry. `spindle map MODEL --svg FILE`
 * and Python's spindle.plot.board draw it. */
#ifndef SPINDLE_MAP_SVG_H
#define SPINDLE_MAP_SVG_H

#include "spindle/context.h"
#include "spindle/machine.h"
#include "spindle/map_route.h"
#include "spindle/model.h"
#include "spindle/partition.h"
#include "spindle/place.h"

/** Write an SVG of @p mc to @p path, atomically: every chip with its 18
 *  cores, each core coloured by the model layer its vertex of @p g works for
 *  (placed by @p p; the monitor core grey, idle cores white, dead ones
 *  black), with a legend of the layers; every link that carries packets
 *  drawn between its chips, its width and colour by the keys per sample the
 *  routes of @p r send over it (net i sends nets[i].n_keys keys along
 *  tree i). @return 0, SPD_EIO (names the file), SPD_ENOMEM. */
int spd_map_svg_write(spd_ctx_t *ctx, const char *path, const spd_model_t *m,
                      const spd_machine_t *mc, const spd_machine_graph_t *g,
                      const spd_placement_t *p, const spd_map_net_t *nets,
                      const spd_map_routing_t *r);

/** Map @p m onto @p mc as `spindle map` does (partition with @p opts, NULL:
 *  spd_partition_opts_default; the locality placer; routing) and draw it
 *  with spd_map_svg_write. @return 0 or the failing step's code. */
int spd_map_svg(spd_ctx_t *ctx, const spd_model_t *m, const spd_machine_t *mc,
                const spd_partition_opts_t *opts, const char *path);

#endif
