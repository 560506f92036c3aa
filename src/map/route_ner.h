/* The neighbour-exploring router's body, shared with the LDF router (which
 * is NER with radius 0). */
#ifndef SPINDLE_MAP_ROUTE_NER_H
#define SPINDLE_MAP_ROUTE_NER_H

#include "spindle/map_route.h"

/** Route @p net with NER using search radius @p radius (hops). */
int spd__route_ner_radius(spd_map_route_work_t *w, const spd_map_net_t *net, uint32_t radius,
                          spd_map_tree_t *out);

#endif
