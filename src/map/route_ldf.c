/* Longest-dimension-first routing: every sink joins the tree by the LDF path
 * from the source itself (cut where it meets the tree), which is NER with a
 * search radius of 0 (SPINNAKER.md §8). Dead links are repaired the same way. */
#include "map/route_ner.h"

int spd_map_route_ldf(spd_map_route_work_t *w, const spd_map_net_t *net, spd_map_tree_t *out) {
  return spd__route_ner_radius(w, net, 0, out);
}
