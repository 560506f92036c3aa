/* The board's roofline of a mapped graph (run/machine_roofline.h): on a
 * hand-made mapping of two vertices and one net over one link, each kind's
 * bound is the cost table's capacity over the per-sample load, the least
 * binds and is named where it is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "machine/cost_table.h"
#include "run/machine_roofline.h"
#include "spindle/machine.h"

typedef struct {
  spd_ctx_t ctx;
  spd_machine_t *m;
  spd_vertex_t v[2];
  spd_partition_t part[1];
  uint32_t targets[1];
  spd_machine_graph_t g;
  spd_place_loc_t loc[2];
  spd_placement_t place;
  spd_map_node_t nodes[2];
  spd_map_tree_t tree[1];
  spd_map_routing_t routing;
} fixture_t;

/* Vertex 0 on (0,0) core 1 sends `values` one-word values per sample to
 * vertex 1 on (1,0) core 2, over link E of (0,0). */
static void make(fixture_t *f, uint64_t cycles0, uint64_t cycles1, uint32_t values,
                 bool per_batch) {
  memset(f, 0, sizeof *f);
  spd_ctx_init(&f->ctx);
  assert_int_equal(spd_machine_new(&f->ctx, "spinn3", &f->m), 0);
  f->v[0].cycles_per_sample = cycles0;
  f->v[1].cycles_per_sample = cycles1;
  f->targets[0] = 1;
  f->part[0] = (spd_partition_t){.source = 0, .name = "y", .values = {0, values}, .words = 1,
                                 .n_targets = 1, .targets = f->targets, .per_batch = per_batch};
  f->g = (spd_machine_graph_t){.n_vertices = 2, .vertices = f->v, .n_partitions = 1,
                               .partitions = f->part};
  f->loc[0] = (spd_place_loc_t){0, 0, 1};
  f->loc[1] = (spd_place_loc_t){1, 0, 2};
  f->place = (spd_placement_t){.n_vertices = 2, .loc = f->loc};
  f->nodes[0] = (spd_map_node_t){0, 0, -1, -1, spd_route_link(SPD_LINK_E)};
  f->nodes[1] = (spd_map_node_t){1, 0, 0, (int8_t)SPD_LINK_W, spd_route_core(2)};
  f->tree[0] = (spd_map_tree_t){2, f->nodes};
  f->routing = (spd_map_routing_t){.n_nets = 1, .trees = f->tree};
}

static void unmake(fixture_t *f) { spd_machine_free(f->m); }

static void link_binds_a_heavy_net(void **state) {
  (void)state;
  fixture_t f;
  make(&f, 1000, 2000, 500, false);
  spd__roofline_t r;
  assert_int_equal(spd__roofline(&f.ctx, &f.g, &f.place, &f.routing, f.m, 32, &r), 0);
  double link = 1e12 / (500.0 * SPD_COST_LINK_PS_72BIT);
  double router = 1e12 / (500.0 * SPD_COST_ROUTER_CYCLE_PS);
  double core = 1e12 / (2000.0 * SPD_COST_CORE_CYCLE_PS);
  assert_true(r.link.samples_per_second == link);
  assert_true(r.router.samples_per_second == router);
  assert_true(r.core.samples_per_second == core);
  double least = link < core ? link : core;
  assert_true(r.samples_per_second == least);
  assert_true(r.binding == (link < core ? &r.link : &r.core));
  assert_string_equal(r.link.where, "link (0,0)->(1,0) E");
  assert_true(strncmp(r.core.where, "core (1,0,2) ", 13) == 0);
  assert_true(strncmp(r.router.where, "router (", 8) == 0);
  unmake(&f);
}

static void a_busy_core_binds_and_per_batch_nets_are_amortised(void **state) {
  (void)state;
  fixture_t f;
  make(&f, 5000000, 10, 640, true);
  spd__roofline_t r;
  assert_int_equal(spd__roofline(&f.ctx, &f.g, &f.place, &f.routing, f.m, 32, &r), 0);
  assert_true(r.binding == &r.core);
  assert_true(r.samples_per_second == 1e12 / (5000000.0 * SPD_COST_CORE_CYCLE_PS));
  assert_true(strncmp(r.core.where, "core (0,0,1) ", 13) == 0);
  /* 640 packets a batch of 32: 20 a sample on the link. */
  assert_true(r.link.samples_per_second == 1e12 / (20.0 * SPD_COST_LINK_PS_72BIT));
  unmake(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(link_binds_a_heavy_net),
      cmocka_unit_test(a_busy_core_binds_and_per_batch_nets_are_amortised),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
