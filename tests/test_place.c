/* map/ placers: the contract every placer passes (working cores only, never
 * the monitor, one vertex per core, SDRAM respected, deterministic), dead
 * chips and cores avoided, locality, failures and allocation failures. */
#include "test_models.h"
#include "test_support.h"

#include <stdio.h>
#include <string.h>

#include "spindle/machine.h"
#include "spindle/model.h"
#include "spindle/partition.h"
#include "spindle/place.h"
#include "map/kernel_itcm.h"

typedef struct placer {
  const char *name;
  spd_placer_fn fn;
} placer_t;

static const placer_t placers[] = {
    {"sequential", spd_place_sequential},
    {"locality", spd_place_locality},
    {"default", spd_place},
};
#define N_PLACERS (sizeof placers / sizeof placers[0])

static spd_model_t *mlp(spd_ctx_t *ctx, int32_t h1, int32_t h2) {
  const int32_t units[] = {h1, h2, 10};
  return spd_test_dense_chain(ctx, "mlp", 784, units, 3, 3);
}

static spd_machine_graph_t *partition(spd_ctx_t *ctx, const spd_model_t *m,
                                      const spd_machine_t *mc) {
  spd_machine_graph_t *g = NULL;
  if (spd_partition_dense(ctx, m, mc, NULL, &g))
    fail_msg("%s", spd_ctx_message(ctx));
  return g;
}

/* The contract, for one placer on one graph and machine. */
static void contract(const placer_t *pl, spd_ctx_t *ctx, const spd_machine_graph_t *g,
                     const spd_machine_t *mc) {
  spd_placement_t a, b;
  if (pl->fn(ctx, g, mc, &a))
    fail_msg("%s: %s", pl->name, spd_ctx_message(ctx));
  if (spd_placement_check(ctx, g, mc, &a))
    fail_msg("%s: %s", pl->name, spd_ctx_message(ctx));
  assert_int_equal(a.cores_used, g->n_vertices);
  assert_true(a.chips_used >= 1 && a.chips_used <= mc->n_chips);
  assert_int_equal(pl->fn(ctx, g, mc, &b), 0);
  assert_memory_equal(a.loc, b.loc, sizeof *a.loc * g->n_vertices);
  assert_int_equal(a.chips_used, b.chips_used);
  spd_placement_free(&a);
  spd_placement_free(&b);
}

static void contract_on(const char *machine_name, const char *faults, int32_t h1, int32_t h2) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = mlp(&ctx, h1, h2);
  spd_machine_t *mc = spd_test_machine(&ctx, machine_name, faults);
  spd_machine_graph_t *g = partition(&ctx, m, mc);
  for (size_t i = 0; i < N_PLACERS; i++)
    contract(&placers[i], &ctx, g, mc);
  spd_machine_graph_free(g);
  spd_machine_free(mc);
  spd_model_free(m);
}

static void contract_spinn3(void **state) {
  (void)state;
  contract_on("spinn3", NULL, 256, 128);
}

static void contract_spinn5(void **state) {
  (void)state;
  contract_on("spinn5", NULL, 256, 128);
  contract_on("spinn5", NULL, 1024, 2048);
}

static const char *spinn5_faults = "chip 0 1\n"
                                   "chip 3 3\n"
                                   "chip 1 0\n"
                                   "core 0 0 1\n"
                                   "core 0 0 5\n"
                                   "core 2 2 17\n"
                                   "core 1 1 2\n"
                                   "link 2 1 E\n";

static void contract_spinn5_with_faults(void **state) {
  (void)state;
  contract_on("spinn5", spinn5_faults, 256, 128);
  contract_on("spinn5", spinn5_faults, 1024, 2048);
}

/* Graphs whose small layers share a core pass the same contract. */
static void contract_fused(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  /* 256-4-10: at the calibrated costs a 256 x 8 layer takes two cores, so
   * nothing could share its core. */
  spd_model_t *m = mlp(&ctx, 256, 4);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn3", "core 1 1 3\ncore 0 1 17\n");
  spd_partition_opts_t o;
  spd_partition_opts_default(&o);
  o.fuse_small = true;
  spd_machine_graph_t *g = NULL;
  assert_int_equal(spd_partition_dense(&ctx, m, mc, &o, &g), 0);
  bool shared = false;
  for (uint32_t v = 0; v < g->n_vertices; v++)
    shared |= g->vertices[v].n_layers > 1;
  assert_true(shared);
  for (size_t i = 0; i < N_PLACERS; i++)
    contract(&placers[i], &ctx, g, mc);
  spd_machine_graph_free(g);
  spd_machine_free(mc);
  spd_model_free(m);
}

/* Explicitly: no vertex lands on a dead chip or a dead core (the check
 * above looks the machine up; this looks at the fault list itself). */
static void dead_parts_are_avoided(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = mlp(&ctx, 1024, 2048);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn5", spinn5_faults);
  spd_machine_graph_t *g = partition(&ctx, m, mc);
  for (size_t i = 0; i < N_PLACERS; i++) {
    spd_placement_t p;
    assert_int_equal(placers[i].fn(&ctx, g, mc, &p), 0);
    bool used_00 = false;
    for (uint32_t v = 0; v < p.n_vertices; v++) {
      const spd_place_loc_t *l = &p.loc[v];
      assert_false(l->x == 0 && l->y == 1);
      assert_false(l->x == 3 && l->y == 3);
      assert_false(l->x == 1 && l->y == 0);
      assert_false(l->x == 0 && l->y == 0 && (l->core == 1 || l->core == 5));
      assert_false(l->x == 2 && l->y == 2 && l->core == 17);
      assert_false(l->x == 1 && l->y == 1 && l->core == 2);
      assert_int_not_equal(l->core, SPD_MONITOR_CORE);
      used_00 |= l->x == 0 && l->y == 0;
    }
    assert_true(used_00); /* the Ethernet chip itself still works */
    spd_placement_free(&p);
  }
  spd_machine_graph_free(g);
  spd_machine_free(mc);
  spd_model_free(m);
}

/* Sum over partial-sum edges of the hop distance between a tile and its
 * reducer, and whether every source sits on the Ethernet chip. */
static uint64_t psum_hops(const spd_machine_graph_t *g, const spd_machine_t *mc,
                          const spd_placement_t *p) {
  uint64_t hops = 0;
  for (uint32_t i = 0; i < g->n_partitions; i++) {
    const spd_partition_t *e = &g->partitions[i];
    for (uint32_t t = 0; t < e->n_targets; t++) {
      const spd_place_loc_t *a = &p->loc[e->source], *b = &p->loc[e->targets[t]];
      hops += (uint64_t)spd_machine_hops(mc, a->x, a->y, b->x, b->y);
    }
  }
  return hops;
}

/* The locality placer starts at the Ethernet chip and keeps the graph's
 * traffic no more spread than the sequential baseline. */
static void locality_is_local(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = mlp(&ctx, 1024, 2048);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn5", NULL);
  spd_machine_graph_t *g = partition(&ctx, m, mc);
  spd_placement_t loc, seq;
  assert_int_equal(spd_place_locality(&ctx, g, mc, &loc), 0);
  assert_int_equal(spd_place_sequential(&ctx, g, mc, &seq), 0);
  assert_int_equal(g->vertices[0].role, SPD_ROLE_SOURCE);
  assert_int_equal(loc.loc[0].x, 0);
  assert_int_equal(loc.loc[0].y, 0);
  uint64_t hl = psum_hops(g, mc, &loc), hs = psum_hops(g, mc, &seq);
  print_message("edge hops: locality %llu, sequential %llu\n", (unsigned long long)hl,
                (unsigned long long)hs);
  assert_true(hl <= hs);
  spd_placement_free(&loc);
  spd_placement_free(&seq);
  spd_machine_graph_free(g);
  spd_machine_free(mc);
  spd_model_free(m);
}

/* A graph made for a SpiNN-5 does not fit a SpiNN-3: every placer says
 * which vertex found no core, and leaves the output alone. */
static void too_many_vertices_fail(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = mlp(&ctx, 256, 128);
  spd_machine_t *big = spd_test_machine(&ctx, "spinn5", NULL), *small = spd_test_machine(&ctx, "spinn3", NULL);
  spd_machine_graph_t *g = partition(&ctx, m, big);
  assert_true(g->n_vertices > spd_machine_app_cores(small));
  for (size_t i = 0; i < N_PLACERS; i++) {
    spd_placement_t p = {.n_vertices = 12345};
    assert_int_equal(placers[i].fn(&ctx, g, small, &p), SPD_ENOFIT);
    assert_int_equal(p.n_vertices, 12345);
    assert_non_null(strstr(spd_ctx_message(&ctx), "spinn3"));
    assert_non_null(strstr(spd_ctx_message(&ctx), "vertex"));
  }
  spd_machine_graph_free(g);
  spd_machine_free(big);
  spd_machine_free(small);
  spd_model_free(m);
}

/* The check catches a broken placement: two vertices on one core, and a
 * vertex on the monitor. */
static void check_catches_violations(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = mlp(&ctx, 256, 128);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn3", NULL);
  spd_machine_graph_t *g = partition(&ctx, m, mc);
  spd_placement_t p;
  assert_int_equal(spd_place(&ctx, g, mc, &p), 0);
  spd_place_loc_t keep = p.loc[1];
  p.loc[1] = p.loc[0];
  assert_int_equal(spd_placement_check(&ctx, g, mc, &p), SPD_EINVAL);
  assert_non_null(strstr(spd_ctx_message(&ctx), "share core"));
  p.loc[1] = keep;
  p.loc[1].core = SPD_MONITOR_CORE;
  assert_int_equal(spd_placement_check(&ctx, g, mc, &p), SPD_EINVAL);
  p.loc[1] = keep;
  assert_int_equal(spd_placement_check(&ctx, g, mc, &p), 0);
  spd_placement_free(&p);
  spd_machine_graph_free(g);
  spd_machine_free(mc);
  spd_model_free(m);
}

/* The placed graph's nets route on a faulty SpiNN-5 within the router's
 * 1023 entries; each net carries its partition's keys and sinks. */
static void nets_route_within_the_tables(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = mlp(&ctx, 1024, 2048);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn5", spinn5_faults);
  spd_machine_graph_t *g = partition(&ctx, m, mc);
  spd_placement_t p;
  assert_int_equal(spd_place(&ctx, g, mc, &p), 0);
  spd_map_net_t *nets = NULL;
  spd_map_core_t *sinks = NULL;
  assert_int_equal(spd_placement_nets(&ctx, g, &p, &nets, &sinks), 0);
  for (uint32_t i = 0; i < g->n_partitions; i++) {
    assert_int_equal(nets[i].n_keys, g->partitions[i].n_keys);
    assert_int_equal(nets[i].n_sinks, g->partitions[i].n_targets);
    assert_int_equal(nets[i].source.core, p.loc[g->partitions[i].source].core);
    assert_int_equal(nets[i].sinks[0].x, p.loc[g->partitions[i].targets[0]].x);
  }
  spd_map_routing_t r;
  if (spd_map_routing_build(&ctx, mc, nets, g->n_partitions, NULL, &r))
    fail_msg("%s", spd_ctx_message(&ctx));
  assert_true(r.entries_after <= SPD_ROUTER_APP_ENTRIES);
  print_message("%u nets, largest table %u entries\n", r.n_nets, r.entries_after);
  spd_map_routing_free(&ctx, &r);
  spd_free(&ctx, nets);
  spd_free(&ctx, sinks);
  spd_placement_free(&p);
  spd_machine_graph_free(g);
  spd_machine_free(mc);
  spd_model_free(m);
}

typedef struct place_call {
  const placer_t *placer;
  const spd_machine_graph_t *g;
  const spd_machine_t *mc;
} place_call_t;

static int place_and_free(spd_ctx_t *ctx, void *arg) {
  const place_call_t *c = arg;
  spd_placement_t p = {0};
  int err = c->placer->fn(ctx, c->g, c->mc, &p);
  if (err)
    assert_null(p.loc);
  else
    spd_placement_free(&p);
  return err;
}

static void allocation_failures(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = mlp(&ctx, 64, 32);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn5", NULL);
  spd_machine_graph_t *g = partition(&ctx, m, mc);
  for (size_t i = 0; i < N_PLACERS; i++) {
    place_call_t call = {&placers[i], g, mc};
    assert_true(spd_test_alloc_each(place_and_free, &call) > 1);
  }
  spd_machine_graph_free(g);
  spd_machine_free(mc);
  spd_model_free(m);
}

/* The mapper knows every kernel's ARM968E-S size (make arm) and refuses a
 * graph whose kernel is over a core's ITCM, naming the vertex, its role
 * and the size; every kernel fits the 32 KB today. */
static void kernels_over_the_itcm_are_refused(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  for (int r = 0; r < SPD_ROLE_COUNT; r++)
    for (int fixed = 0; fixed < 2; fixed++) {
      uint32_t b = spd__kernel_itcm_bytes((spd_vertex_role_t)r, fixed);
      assert_true(b > 1024 && b <= SPD_ITCM_BYTES);
    }
  assert_true(spd__kernel_itcm_bytes(SPD_ROLE_CONV, true) >
              spd__kernel_itcm_bytes(SPD_ROLE_SINK, true));
  spd_model_t *m = mlp(&ctx, 256, 128);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn3", NULL);
  spd_machine_graph_t *g = partition(&ctx, m, mc);
  assert_int_equal(spd__kernel_itcm_check(&ctx, g, SPD_ITCM_BYTES), 0);
  uint32_t worst = 0;
  spd_vertex_role_t worst_role = SPD_ROLE_SOURCE;
  for (uint32_t v = 0; v < g->n_vertices; v++) {
    uint32_t b = spd__kernel_itcm_bytes(g->vertices[v].role, true);
    if (b > worst) {
      worst = b;
      worst_role = g->vertices[v].role;
    }
  }
  assert_int_equal(spd__kernel_itcm_check(&ctx, g, worst - 1), SPD_ENOFIT);
  char want[96];
  snprintf(want, sizeof want, "(%s, fixed point): its kernel is %u bytes",
           spd_vertex_role_name(worst_role), worst);
  assert_non_null(strstr(spd_ctx_message(&ctx), want));
  assert_non_null(strstr(spd_ctx_message(&ctx), "ITCM"));
  assert_int_equal(spd__kernel_itcm_check(&ctx, g, worst), 0);
  spd_machine_graph_free(g);
  spd_machine_free(mc);
  spd_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(contract_spinn3),
      cmocka_unit_test(contract_spinn5),
      cmocka_unit_test(contract_spinn5_with_faults),
      cmocka_unit_test(contract_fused),
      cmocka_unit_test(dead_parts_are_avoided),
      cmocka_unit_test(locality_is_local),
      cmocka_unit_test(too_many_vertices_fail),
      cmocka_unit_test(check_catches_violations),
      cmocka_unit_test(kernels_over_the_itcm_are_refused),
      cmocka_unit_test(nets_route_within_the_tables),
      cmocka_unit_test(allocation_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
