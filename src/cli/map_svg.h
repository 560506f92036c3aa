/* `spindle map --svg FILE`: the mapped model as a picture of the machine. */
#ifndef SPINDLE_CLI_MAP_SVG_H
#define SPINDLE_CLI_MAP_SVG_H

#include "spindle/machine.h"
#include "spindle/map_route.h"
#include "spindle/model.h"
#include "spindle/partition.h"
#include "spindle/place.h"

/** Write an SVG of @p mc to @p path, atomically: every chip with its 18
 *  cores, each core coloured by the model layer its vertex works for (the
 *  monitor core grey, idle cores white), with a legend of the layers; every
 *  link that carries packets drawn between its chips, its width and colour
 *  by the keys per sample the routes of @p r send over it (net i sends
 *  nets[i].n_keys keys along tree i).
 *  @return 0, SPD_EIO, SPD_ENOMEM (diagnostic in @p ctx). */
int spd_cli_map_svg(spd_ctx_t *ctx, const char *path, const spd_model_t *m,
                    const spd_machine_t *mc, const spd_machine_graph_t *g,
                    const spd_placement_t *p, const spd_map_net_t *nets,
                    const spd_map_routing_t *r);

#endif
