#include "map/route_tree.h"

#include <stdlib.h>
#include <string.h>

static uint32_t coord(const spd_machine_t *m, int x, int y) {
  return (uint32_t)y * m->width + (uint32_t)x;
}

int spd__route_work_new(spd_ctx_t *ctx, const spd_machine_t *m, uint32_t radius,
                        spd_map_route_work_t **out) {
  size_t n = (size_t)m->width * m->height;
  uint32_t path_cap = (uint32_t)m->width + m->height + 2u;
  spd_map_route_work_t *w = spd_calloc(ctx, 1, sizeof *w);
  if (!w)
    return spd_ctx_fail(ctx, SPD_ENOMEM, "route: out of memory for the router's workspace");
  w->ctx = ctx;
  w->m = m;
  w->radius = radius;
  w->path_cap = path_cap;
  w->node_at = spd_calloc(ctx, n, sizeof *w->node_at);
  w->mark = spd_calloc(ctx, n, sizeof *w->mark);
  w->bfs_link = spd_calloc(ctx, n, sizeof *w->bfs_link);
  w->seen = spd_calloc(ctx, n, sizeof *w->seen);
  w->queue = spd_calloc(ctx, n, sizeof *w->queue);
  w->path_link = spd_calloc(ctx, path_cap, sizeof *w->path_link);
  w->path_x = spd_calloc(ctx, path_cap, sizeof *w->path_x);
  w->path_y = spd_calloc(ctx, path_cap, sizeof *w->path_y);
  if (!w->node_at || !w->mark || !w->bfs_link || !w->seen || !w->queue || !w->path_link ||
      !w->path_x || !w->path_y) {
    spd__route_work_free(w);
    return spd_ctx_fail(ctx, SPD_ENOMEM, "route: out of memory for the router's workspace");
  }
  *out = w;
  return 0;
}

void spd__route_work_free(spd_map_route_work_t *w) {
  if (!w)
    return;
  spd_ctx_t *ctx = w->ctx;
  spd_free(ctx, w->node_at);
  spd_free(ctx, w->mark);
  spd_free(ctx, w->bfs_link);
  spd_free(ctx, w->seen);
  spd_free(ctx, w->queue);
  spd_free(ctx, w->path_link);
  spd_free(ctx, w->path_x);
  spd_free(ctx, w->path_y);
  spd_free(ctx, w->nodes);
  spd_free(ctx, w);
}

/* Generation counters make clearing the per-chip arrays free; on the rare
 * wrap-around the marks are cleared for real. */
static uint32_t next_gen(uint32_t *gen, uint32_t *marks, size_t n) {
  if (++*gen == 0) {
    memset(marks, 0, n * sizeof *marks);
    *gen = 1;
  }
  return *gen;
}

static int32_t push_node(spd_map_route_work_t *w, int x, int y, int32_t parent, int in_link) {
  if (w->n_nodes == w->cap) {
    uint32_t cap = w->cap ? 2 * w->cap : 16;
    spd_map_node_t *nodes = spd_realloc(w->ctx, w->nodes, (size_t)cap * sizeof *nodes);
    if (!nodes)
      return spd_ctx_fail(w->ctx, SPD_ENOMEM, "route: out of memory for a tree of %u chips",
                          w->n_nodes + 1);
    w->nodes = nodes;
    w->cap = cap;
  }
  int32_t i = (int32_t)w->n_nodes++;
  w->nodes[i] = (spd_map_node_t){(uint16_t)x, (uint16_t)y, parent, (int8_t)in_link, 0};
  uint32_t c = coord(w->m, x, y);
  w->node_at[c] = i;
  w->mark[c] = w->gen;
  return i;
}

/* Nets run between application cores: core 0 is the monitor (SPINNAKER.md #1). */
static bool app_core_works(const spd_chip_t *chip, unsigned core) {
  return core != SPD_MONITOR_CORE && core < SPD_CORES_PER_CHIP && (chip->core_mask & (1u << core));
}

int spd__tree_begin(spd_map_route_work_t *w, const spd_map_core_t *source) {
  const spd_chip_t *chip = spd_machine_chip(w->m, source->x, source->y);
  if (!chip)
    return spd_ctx_fail(w->ctx, SPD_EINVAL, "route: source chip (%u,%u) is absent or dead",
                        source->x, source->y);
  if (!app_core_works(chip, source->core))
    return spd_ctx_fail(w->ctx, SPD_EINVAL,
                        "route: source core %u of chip (%u,%u) is not a working application core",
                        source->core, source->x, source->y);
  next_gen(&w->gen, w->mark, (size_t)w->m->width * w->m->height);
  w->n_nodes = 0;
  int32_t root = push_node(w, source->x, source->y, -1, -1);
  return root < 0 ? root : 0;
}

int spd__tree_check_sink(spd_map_route_work_t *w, const spd_map_core_t *sink) {
  const spd_chip_t *chip = spd_machine_chip(w->m, sink->x, sink->y);
  if (!chip)
    return spd_ctx_fail(w->ctx, SPD_EINVAL, "route: sink chip (%u,%u) is absent or dead",
                        sink->x, sink->y);
  if (!app_core_works(chip, sink->core))
    return spd_ctx_fail(w->ctx, SPD_EINVAL,
                        "route: sink core %u of chip (%u,%u) is not a working application core",
                        sink->core, sink->x, sink->y);
  return 0;
}

int32_t spd__tree_find(const spd_map_route_work_t *w, int x, int y) {
  if (x < 0 || y < 0 || x >= w->m->width || y >= w->m->height)
    return -1;
  uint32_t c = coord(w->m, x, y);
  return w->mark[c] == w->gen ? w->node_at[c] : -1;
}

int32_t spd__tree_add_child(spd_map_route_work_t *w, int32_t parent, spd_link_t link) {
  int nx, ny;
  spd_map_node_t p = w->nodes[parent];
  if (!spd_machine_neighbour(w->m, p.x, p.y, link, &nx, &ny))
    return spd_ctx_fail(w->ctx, SPD_EINVAL, "route: link %s of chip (%u,%u) is dead",
                        spd_link_name(link), p.x, p.y);
  int32_t child = push_node(w, nx, ny, parent, spd_link_opposite(link));
  if (child >= 0)
    w->nodes[parent].route |= spd_route_link(link);
  return child;
}

/* Add the path the BFS recorded (predecessor links) ending at chip (x, y).
 * The walk back to the tree stores the hops in the queue, which the search
 * no longer needs, so paths of any length cost no allocation. */
static int32_t add_bfs_path(spd_map_route_work_t *w, int x, int y) {
  uint32_t n = 0;
  int32_t node;
  while ((node = spd__tree_find(w, x, y)) < 0) {
    spd_link_t back = (spd_link_t)w->bfs_link[coord(w->m, x, y)];
    w->queue[n++] = spd_link_opposite(back);
    spd_machine_neighbour(w->m, x, y, back, &x, &y);
  }
  while (n > 0 && node >= 0)
    node = spd__tree_add_child(w, node, (spd_link_t)w->queue[--n]);
  return node;
}

int32_t spd__tree_connect_bfs(spd_map_route_work_t *w, int x, int y) {
  const spd_machine_t *m = w->m;
  uint32_t gen = next_gen(&w->bfs_gen, w->seen, (size_t)m->width * m->height);
  uint32_t head = 0, tail = 0;
  for (uint32_t i = 0; i < w->n_nodes; i++) {
    uint32_t c = coord(m, w->nodes[i].x, w->nodes[i].y);
    w->seen[c] = gen;
    w->queue[tail++] = c;
  }
  while (head < tail) {
    uint32_t c = w->queue[head++];
    int cx = (int)(c % m->width), cy = (int)(c / m->width);
    for (int l = 0; l < SPD_LINKS; l++) {
      int nx, ny;
      if (!spd_machine_neighbour(m, cx, cy, (spd_link_t)l, &nx, &ny))
        continue;
      uint32_t nc = coord(m, nx, ny);
      if (w->seen[nc] == gen)
        continue;
      w->seen[nc] = gen;
      /* The link back towards the tree, as seen from the new chip. */
      w->bfs_link[nc] = (int8_t)spd_link_opposite((spd_link_t)l);
      if (nx == x && ny == y)
        return add_bfs_path(w, x, y);
      w->queue[tail++] = nc;
    }
  }
  return SPD_ENOFIT;
}

/* Record the longest-dimension-first path from (x0,y0) along the minimal
 * offset into w->path_*; coordinates wrap on a torus and may leave the
 * machine's box otherwise (such a hop never works). @return its length. */
static uint32_t ldf_path(spd_map_route_work_t *w, int x0, int y0, int x1, int y1) {
  const spd_machine_t *m = w->m;
  int v[3];
  spd_machine_offset(m, x0, y0, x1, y1, &v[0], &v[1], &v[2]);
  /* Positive x is E, positive y is N, positive z is SW (x, y both -1). */
  static const spd_link_t plus[3] = {SPD_LINK_E, SPD_LINK_N, SPD_LINK_SW};
  int order[3] = {0, 1, 2};
  for (int i = 1; i < 3; i++)
    for (int j = i; j > 0 && abs(v[order[j]]) > abs(v[order[j - 1]]); j--) {
      int t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  uint32_t n = 0;
  int x = x0, y = y0;
  for (int d = 0; d < 3; d++) {
    int dim = order[d], mag = v[dim];
    spd_link_t link = mag > 0 ? plus[dim] : spd_link_opposite(plus[dim]);
    for (int s = 0; s < abs(mag) && n < w->path_cap; s++) {
      x += spd_link_dx(link);
      y += spd_link_dy(link);
      if (m->wrap_x)
        x = (x + m->width) % m->width;
      if (m->wrap_y)
        y = (y + m->height) % m->height;
      w->path_link[n] = (uint8_t)link;
      w->path_x[n] = x;
      w->path_y[n] = y;
      n++;
    }
  }
  return n;
}

int32_t spd__tree_connect_ldf(spd_map_route_work_t *w, int32_t from, int x, int y) {
  uint32_t n = ldf_path(w, w->nodes[from].x, w->nodes[from].y, x, y);
  if (n == 0 || w->path_x[n - 1] != x || w->path_y[n - 1] != y)
    return SPD_ENOTFOUND;
  /* Cut the path where it last meets the tree, so it cannot close a loop. */
  uint32_t start = 0;
  int32_t node = from;
  for (uint32_t i = n; i-- > 0;) {
    int32_t hit = spd__tree_find(w, w->path_x[i], w->path_y[i]);
    if (hit >= 0) {
      node = hit;
      start = i + 1;
      break;
    }
  }
  /* Every remaining hop must work before anything is added. */
  int cx = w->nodes[node].x, cy = w->nodes[node].y;
  for (uint32_t i = start; i < n; i++) {
    int nx, ny;
    if (!spd_machine_neighbour(w->m, cx, cy, (spd_link_t)w->path_link[i], &nx, &ny) ||
        nx != w->path_x[i] || ny != w->path_y[i])
      return SPD_ENOTFOUND;
    cx = nx;
    cy = ny;
  }
  for (uint32_t i = start; i < n && node >= 0; i++)
    node = spd__tree_add_child(w, node, (spd_link_t)w->path_link[i]);
  return node;
}

int spd__tree_finish(spd_map_route_work_t *w, spd_map_tree_t *out) {
  spd_map_node_t *nodes = spd_malloc(w->ctx, (size_t)w->n_nodes * sizeof *nodes);
  if (!nodes)
    return spd_ctx_fail(w->ctx, SPD_ENOMEM, "route: out of memory for a tree of %u chips",
                        w->n_nodes);
  memcpy(nodes, w->nodes, (size_t)w->n_nodes * sizeof *nodes);
  out->n_nodes = w->n_nodes;
  out->nodes = nodes;
  return 0;
}
