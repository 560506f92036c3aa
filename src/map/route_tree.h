/* Growing one multicast tree on the machine: the scratch space routers share
 * (spd_map_route_work_t), adding chips along working links, and the
 * breadth-first repair that connects a chip to the tree around dead links
 * and chips. Every router builds its tree through these functions, so every
 * router's trees are loop-free (a chip joins at most once) and use only
 * working links (every hop is checked with spd_machine_neighbour). */
#ifndef SPINDLE_MAP_ROUTE_TREE_H
#define SPINDLE_MAP_ROUTE_TREE_H

#include "spindle/map_route.h"

struct spd_map_route_work {
  spd_ctx_t *ctx;
  const spd_machine_t *m;
  uint32_t radius;
  /* Per chip coordinate (y * width + x), valid while mark == gen. */
  int32_t *node_at;
  uint32_t *mark;
  uint32_t gen;
  /* Breadth-first search: predecessor link per coordinate, valid while
   * seen == bfs_gen, and the queue of coordinates. */
  int8_t *bfs_link;
  uint32_t *seen;
  uint32_t bfs_gen;
  uint32_t *queue;
  /* A longest-dimension-first path: links and the coordinates reached. */
  uint8_t *path_link;
  int32_t *path_x, *path_y;
  uint32_t path_cap;
  /* The tree under construction. */
  spd_map_node_t *nodes;
  uint32_t n_nodes, cap;
};

/** Scratch space for routing on @p m. @return 0 or SPD_ENOMEM. */
int spd__route_work_new(spd_ctx_t *ctx, const spd_machine_t *m, uint32_t radius,
                        spd_map_route_work_t **out);
void spd__route_work_free(spd_map_route_work_t *w);

/** Start a tree at the source chip; checks that the source chip and core
 *  exist. @return 0, SPD_EINVAL, SPD_ENOMEM. */
int spd__tree_begin(spd_map_route_work_t *w, const spd_map_core_t *source);
/** Node index of chip (x, y) in the tree, or -1. */
int32_t spd__tree_find(const spd_map_route_work_t *w, int x, int y);
/** Add the chip across link @p link of node @p parent as its child.
 *  The link must work and the chip must not be in the tree yet.
 *  @return the new node's index or SPD_ENOMEM. */
int32_t spd__tree_add_child(spd_map_route_work_t *w, int32_t parent, spd_link_t link);
/** Connect chip (x, y) to the tree by a shortest path over working links
 *  through chips not yet in the tree. @return the chip's node index,
 *  SPD_ENOFIT when no such path exists (no diagnostic), SPD_ENOMEM. */
int32_t spd__tree_connect_bfs(spd_map_route_work_t *w, int x, int y);
/** Follow the longest-dimension-first path from node @p from to chip (x, y)
 *  (SPINNAKER.md §8: largest component of the minimal (x,y,z) offset first,
 *  ties in x, y, z order), cut where it last meets the tree. When every hop
 *  of the remaining path works, add it. @return the chip's node index,
 *  SPD_ENOTFOUND when a hop is blocked (nothing added, no diagnostic),
 *  SPD_ENOMEM. */
int32_t spd__tree_connect_ldf(spd_map_route_work_t *w, int32_t from, int x, int y);
/** Check that a sink core exists; @return 0 or SPD_EINVAL with a diagnostic. */
int spd__tree_check_sink(spd_map_route_work_t *w, const spd_map_core_t *sink);
/** Copy the finished tree into @p out (exactly sized). @return 0 or SPD_ENOMEM. */
int spd__tree_finish(spd_map_route_work_t *w, spd_map_tree_t *out);

#endif
