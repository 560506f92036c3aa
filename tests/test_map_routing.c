/* map/route*.c and map/tables.c: every router builds loop-free trees over
 * working links that reach exactly their sinks, around dead links and chips;
 * unreachable sinks fail clearly; and the minimised tables of a whole
 * routing deliver every key to exactly its sinks when packets are followed
 * hop by hop with the router's rules (including default routing). */
#include "test_models.h"
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spindle/map_route.h"
#include "spindle/model.h"
#include "spindle/partition.h"
#include "spindle/place.h"
#include "spindle/rng.h"

static bool is_sink(const spd_map_net_t *net, int x, int y, unsigned core) {
  for (uint32_t i = 0; i < net->n_sinks; i++)
    if (net->sinks[i].x == x && net->sinks[i].y == y && net->sinks[i].core == core)
      return true;
  return false;
}

/* The tree is rooted at the source, each chip appears once, every hop is a
 * working link recorded in the parent's route, link bits lead exactly to the
 * children, core bits are exactly the sinks, and no branch is useless. */
static void check_tree(const spd_machine_t *m, const spd_map_net_t *net, const spd_map_tree_t *t) {
  assert_true(t->n_nodes >= 1);
  assert_int_equal(t->nodes[0].x, net->source.x);
  assert_int_equal(t->nodes[0].y, net->source.y);
  assert_int_equal(t->nodes[0].parent, -1);
  assert_int_equal(t->nodes[0].in_link, -1);
  uint32_t *children = calloc(t->n_nodes, sizeof *children);
  for (uint32_t i = 0; i < t->n_nodes; i++) {
    const spd_map_node_t *n = &t->nodes[i];
    assert_non_null(spd_machine_chip(m, n->x, n->y));
    for (uint32_t j = 0; j < i; j++)
      assert_false(t->nodes[j].x == n->x && t->nodes[j].y == n->y);
    for (unsigned c = 0; c < SPD_ROUTE_CORE_BITS; c++)
      assert_int_equal((spd_route_cores(n->route) >> c) & 1u, is_sink(net, n->x, n->y, c));
    if (i == 0)
      continue;
    assert_true(n->parent >= 0 && (uint32_t)n->parent < i);
    const spd_map_node_t *p = &t->nodes[n->parent];
    spd_link_t out = spd_link_opposite((spd_link_t)n->in_link);
    int nx, ny;
    assert_true(spd_machine_neighbour(m, p->x, p->y, out, &nx, &ny));
    assert_int_equal(nx, n->x);
    assert_int_equal(ny, n->y);
    assert_true(p->route & spd_route_link(out));
    children[n->parent]++;
  }
  for (uint32_t i = 0; i < t->n_nodes; i++) {
    assert_int_equal((uint32_t)__builtin_popcount(spd_route_links(t->nodes[i].route)),
                     children[i]);
    if (children[i] == 0 && i > 0)
      assert_true(spd_route_cores(t->nodes[i].route) != 0);
  }
  for (uint32_t s = 0; s < net->n_sinks; s++) {
    bool found = false;
    for (uint32_t i = 0; i < t->n_nodes && !found; i++)
      found = t->nodes[i].x == net->sinks[s].x && t->nodes[i].y == net->sinks[s].y;
    assert_true(found);
  }
  free(children);
}

typedef struct hop {
  int x, y, in_link;
} hop_t;

static long table_lookup(const spd_map_table_t *t, uint32_t key) {
  for (uint32_t i = 0; i < t->n; i++)
    if ((key & t->entries[i].mask) == t->entries[i].key)
      return (long)i;
  return -1;
}

/* Follow one packet from its source core through the machine with the
 * hardware's rules (SPINNAKER.md §2): first matching entry, else default
 * routing for packets that came in on a link, else dropped. Every core it
 * reaches must be a sink, every sink reached once, every hop a working link;
 * a loop would exceed the hop budget. */
static void check_delivery(const spd_machine_t *m, const spd_map_tables_t *tables,
                           const spd_map_net_t *net, uint32_t key) {
  uint32_t budget = 4 * m->n_chips + 8, head = 0, tail = 0, delivered = 0;
  hop_t *queue = calloc(budget + 6, sizeof *queue);
  queue[tail++] = (hop_t){net->source.x, net->source.y, -1};
  while (head < tail) {
    hop_t h = queue[head++];
    const spd_map_table_t *t = &tables->chips[spd_machine_chip_index(m, h.x, h.y)];
    long e = table_lookup(t, key);
    uint32_t route = 0;
    if (e >= 0)
      route = t->entries[e].route;
    else if (h.in_link >= 0)
      route = spd_route_link(spd_link_opposite((spd_link_t)h.in_link));
    else
      fail_msg("key 0x%x injected at (%d,%d) matches no entry: dropped", key, h.x, h.y);
    for (unsigned c = 0; c < SPD_ROUTE_CORE_BITS; c++)
      if (spd_route_cores(route) & (1u << c)) {
        if (!is_sink(net, h.x, h.y, c))
          fail_msg("key 0x%x reaches core (%d,%d,%u), not a sink", key, h.x, h.y, c);
        delivered++;
      }
    for (int l = 0; l < SPD_LINKS; l++) {
      if (!(route & spd_route_link((unsigned)l)))
        continue;
      int nx, ny;
      if (!spd_machine_neighbour(m, h.x, h.y, (spd_link_t)l, &nx, &ny))
        fail_msg("key 0x%x leaves (%d,%d) on dead link %d", key, h.x, h.y, l);
      if (tail >= budget)
        fail_msg("key 0x%x loops (more than %u hops)", key, budget);
      queue[tail++] = (hop_t){nx, ny, spd_link_opposite((spd_link_t)l)};
    }
  }
  /* Sinks are distinct in these tests, so reaching each once means the
   * delivery count equals the sink count. */
  assert_int_equal(delivered, net->n_sinks);
  free(queue);
}

/* Random nets with distinct sinks on working cores. */
static void random_nets(spd_rng_t *rng, const spd_machine_t *m, spd_map_net_t *nets, uint32_t n,
                        spd_map_core_t *sinks, uint32_t max_sinks) {
  for (uint32_t i = 0; i < n; i++) {
    spd_map_core_t *s = &sinks[i * max_sinks];
    uint32_t want = 1 + spd_rng_below(rng, max_sinks), got = 0;
    spd_map_core_t src;
    for (uint32_t k = 0; k < want + 1;) {
      const spd_chip_t *chip = &m->chips[spd_rng_below(rng, m->n_chips)];
      unsigned core = 1 + spd_rng_below(rng, SPD_CORES_PER_CHIP - 1);
      if (!(chip->core_mask & (1u << core)))
        continue;
      spd_map_core_t c = {chip->x, chip->y, (uint8_t)core};
      if (k == 0) {
        src = c;
      } else {
        bool dup = false;
        for (uint32_t j = 0; j < got; j++)
          dup |= s[j].x == c.x && s[j].y == c.y && s[j].core == c.core;
        if (!dup)
          s[got++] = c;
      }
      k++;
    }
    nets[i] = (spd_map_net_t){src, 1 + spd_rng_below(rng, 6), spd_rng_below(rng, 4), s, got};
  }
}

typedef struct router_case {
  const char *name;
  spd_map_router_fn fn;
} router_case_t;

static const router_case_t ROUTERS[] = {
    {"ner", spd_map_route_ner},
    {"ldf", spd_map_route_ldf},
};

/* The contract every router meets, on several machines with faults. */
static void every_router_reaches_exactly_its_sinks(void **state) {
  (void)state;
  static const struct {
    const char *name, *faults;
  } machines[] = {
      {"spinn5", NULL},
      {"spinn5", "link 2 2 E\nlink 3 3 N\nchip 4 4\ncore 1 1 3\nlink 5 5 SW\n"},
      {"8x8", "link 0 0 E\nlink 7 7 NE\nchip 3 5\n"},
      {"12x12", "chip 6 6\nchip 6 7\nchip 7 6\nlink 1 1 S\nlink 11 0 E\n"},
      {"spinn3", NULL},
      {"spinn1m", "chip 120 120\nlink 0 0 W\nlink 239 239 NE\n"},
  };
  enum { N_NETS = 24, MAX_SINKS = 12 };
  spd_rng_t rng;
  spd_rng_init(&rng, 99, 2);
  for (size_t r = 0; r < sizeof ROUTERS / sizeof ROUTERS[0]; r++)
    for (size_t mi = 0; mi < sizeof machines / sizeof machines[0]; mi++) {
      spd_ctx_t ctx;
      spd_ctx_init(&ctx);
      spd_machine_t *m = spd_test_machine(&ctx, machines[mi].name, machines[mi].faults);
      spd_map_net_t nets[N_NETS];
      spd_map_core_t sinks[N_NETS * MAX_SINKS];
      random_nets(&rng, m, nets, N_NETS, sinks, MAX_SINKS);
      spd_map_route_opts_t opts = spd_map_route_opts_default();
      opts.router = ROUTERS[r].fn;
      spd_map_routing_t routing;
      if (spd_map_routing_build(&ctx, m, nets, N_NETS, &opts, &routing) < 0)
        fail_msg("%s on %s: %s", ROUTERS[r].name, machines[mi].name, spd_ctx_message(&ctx));
      for (uint32_t i = 0; i < N_NETS; i++) {
        check_tree(m, &nets[i], &routing.trees[i]);
        for (uint32_t k = 0; k < nets[i].n_keys; k++)
          check_delivery(m, &routing.tables, &nets[i], routing.keys[i].base + k);
      }
      assert_true(routing.entries_after <= routing.entries_before);
      /* Deterministic: the same nets give the same trees. */
      spd_map_tree_t again[N_NETS];
      assert_int_equal(spd_map_route(&ctx, m, nets, N_NETS, &opts, again), 0);
      for (uint32_t i = 0; i < N_NETS; i++) {
        assert_int_equal(again[i].n_nodes, routing.trees[i].n_nodes);
        for (uint32_t k = 0; k < again[i].n_nodes; k++) {
          const spd_map_node_t *a = &again[i].nodes[k], *b = &routing.trees[i].nodes[k];
          assert_true(a->x == b->x && a->y == b->y && a->parent == b->parent &&
                      a->in_link == b->in_link && a->route == b->route);
        }
        spd_map_tree_free(&ctx, &again[i]);
      }
      /* The same with every table minimised as far as it goes, so merged
       * entries and default routing carry the packets. */
      uint32_t before = 0, after = 0;
      for (uint32_t c = 0; c < routing.tables.n_chips; c++) {
        before += routing.tables.chips[c].n;
        assert_int_equal(spd_map_table_minimise(&ctx, &routing.tables.chips[c], 0), 0);
        after += routing.tables.chips[c].n;
      }
      assert_true(after < before);
      for (uint32_t i = 0; i < N_NETS; i++)
        for (uint32_t k = 0; k < nets[i].n_keys; k++)
          check_delivery(m, &routing.tables, &nets[i], routing.keys[i].base + k);
      spd_map_routing_free(&ctx, &routing);
      spd_machine_free(m);
    }
}

static void route_one(spd_machine_t *m, spd_map_router_fn router, const spd_map_net_t *net,
                      spd_map_tree_t *tree) {
  spd_map_route_opts_t opts = spd_map_route_opts_default();
  opts.router = router;
  if (spd_map_route(m->ctx, m, net, 1, &opts, tree) < 0)
    fail_msg("route: %s", spd_ctx_message(m->ctx));
  check_tree(m, net, tree);
}

/* On a 12x12 torus the straight path (0,0) -> (5,0) crosses the dead link
 * (2,0) E; the shortest working detour is six hops (west round the torus
 * would be seven). */
static void routes_around_a_dead_link(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m = spd_test_machine(&ctx, "12x12", "link 2 0 E\n");
  spd_map_core_t sink = {5, 0, 1};
  spd_map_net_t net = {{0, 0, 1}, 1, 0, &sink, 1};
  for (size_t r = 0; r < sizeof ROUTERS / sizeof ROUTERS[0]; r++) {
    spd_map_tree_t tree;
    route_one(m, ROUTERS[r].fn, &net, &tree);
    assert_int_equal(tree.n_nodes, 7);
    spd_map_tree_free(&ctx, &tree);
  }
  /* Without the fault the LDF path is straight: five hops. */
  spd_machine_t *ok = spd_test_machine(&ctx, "12x12", NULL);
  spd_map_tree_t tree;
  route_one(ok, spd_map_route_ner, &net, &tree);
  assert_int_equal(tree.n_nodes, 6);
  for (uint32_t i = 1; i < tree.n_nodes; i++)
    assert_int_equal(tree.nodes[i].in_link, SPD_LINK_W);
  spd_map_tree_free(&ctx, &tree);
  spd_machine_free(ok);
  spd_machine_free(m);
}

/* Without faults a single sink is reached by a shortest path: the tree has
 * hops + 1 chips, on tori and on the unwrapped board alike. */
static void single_sinks_take_shortest_paths(void **state) {
  (void)state;
  static const char *names[] = {"12x12", "spinn5", "24x12"};
  spd_rng_t rng;
  spd_rng_init(&rng, 8, 8);
  for (size_t mi = 0; mi < sizeof names / sizeof names[0]; mi++) {
    spd_ctx_t ctx;
    spd_ctx_init(&ctx);
    spd_machine_t *m = spd_test_machine(&ctx, names[mi], NULL);
    for (int i = 0; i < 200; i++) {
      const spd_chip_t *a = &m->chips[spd_rng_below(&rng, m->n_chips)];
      const spd_chip_t *b = &m->chips[spd_rng_below(&rng, m->n_chips)];
      spd_map_core_t sink = {b->x, b->y, 2};
      spd_map_net_t net = {{a->x, a->y, 1}, 1, 0, &sink, 1};
      for (size_t r = 0; r < sizeof ROUTERS / sizeof ROUTERS[0]; r++) {
        spd_map_tree_t tree;
        route_one(m, ROUTERS[r].fn, &net, &tree);
        assert_int_equal(tree.n_nodes, spd_machine_hops(m, a->x, a->y, b->x, b->y) + 1);
        spd_map_tree_free(&ctx, &tree);
      }
    }
    spd_machine_free(m);
  }
}

static void routes_around_dead_chips(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m = spd_test_machine(&ctx, "spinn5", "chip 3 3\nchip 2 2\nchip 4 4\n");
  spd_map_core_t sinks[3] = {{5, 5, 2}, {6, 6, 1}, {7, 7, 17}};
  spd_map_net_t net = {{0, 0, 3}, 1, 0, sinks, 3};
  for (size_t r = 0; r < sizeof ROUTERS / sizeof ROUTERS[0]; r++) {
    spd_map_tree_t tree;
    route_one(m, ROUTERS[r].fn, &net, &tree);
    for (uint32_t i = 0; i < tree.n_nodes; i++)
      assert_false(tree.nodes[i].x == tree.nodes[i].y && tree.nodes[i].x >= 2 &&
                   tree.nodes[i].x <= 4);
    spd_map_tree_free(&ctx, &tree);
  }
  spd_machine_free(m);
}

static void unreachable_sink_fails_naming_it(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m = spd_test_machine(&ctx, "8x8",
                             "link 4 4 E\nlink 4 4 NE\nlink 4 4 N\n"
                             "link 4 4 W\nlink 4 4 SW\nlink 4 4 S\n");
  spd_map_core_t sinks[2] = {{1, 1, 1}, {4, 4, 2}};
  spd_map_net_t net = {{0, 0, 1}, 1, 0, sinks, 2};
  spd_map_tree_t tree = {77, NULL};
  for (size_t r = 0; r < sizeof ROUTERS / sizeof ROUTERS[0]; r++) {
    assert_int_equal(spd_map_route(&ctx, m, &net, 1, &(spd_map_route_opts_t){ROUTERS[r].fn, 20},
                                   &tree),
                     SPD_ENOFIT);
    assert_non_null(strstr(spd_ctx_message(&ctx), "sink chip (4,4)"));
    assert_non_null(strstr(spd_ctx_message(&ctx), "source chip (0,0)"));
    assert_int_equal(tree.n_nodes, 77); /* output untouched */
  }
  /* A sink on a dead chip or core is a caller error. */
  spd_machine_t *d = spd_test_machine(&ctx, "8x8", "chip 2 2\ncore 3 3 5\n");
  spd_map_core_t dead_chip = {2, 2, 1}, dead_core = {3, 3, 5};
  net.sinks = &dead_chip;
  net.n_sinks = 1;
  assert_int_equal(spd_map_route(&ctx, d, &net, 1, NULL, &tree), SPD_EINVAL);
  assert_non_null(strstr(spd_ctx_message(&ctx), "sink chip (2,2)"));
  net.sinks = &dead_core;
  assert_int_equal(spd_map_route(&ctx, d, &net, 1, NULL, &tree), SPD_EINVAL);
  assert_non_null(strstr(spd_ctx_message(&ctx), "sink core 5 of chip (3,3)"));
  spd_map_core_t monitor = {3, 3, SPD_MONITOR_CORE};
  net.sinks = &monitor;
  assert_int_equal(spd_map_route(&ctx, d, &net, 1, NULL, &tree), SPD_EINVAL);
  assert_non_null(strstr(spd_ctx_message(&ctx), "not a working application core"));
  net.source.core = 18;
  assert_int_equal(spd_map_route(&ctx, d, &net, 1, NULL, &tree), SPD_EINVAL);
  assert_non_null(strstr(spd_ctx_message(&ctx), "source core 18 of chip (0,0)"));
  spd_machine_free(d);
  spd_machine_free(m);
}

/* Entries carry the link their packets arrive on; the straight-through
 * ones are what default-route removal takes away. */
static void tables_record_input_links(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m = spd_test_machine(&ctx, "8x8", NULL);
  spd_map_core_t sink = {4, 0, 2};
  spd_map_net_t net = {{0, 0, 1}, 8, 0, &sink, 1};
  spd_map_routing_t r;
  assert_int_equal(spd_map_routing_build(&ctx, m, &net, 1, NULL, &r), 0);
  assert_int_equal(r.entries_before, 1);
  /* Every table fits as built, so the chain leaves them alone: five chips,
   * one entry each, arriving from the west after the source. */
  uint32_t total = 0;
  for (uint32_t c = 0; c < r.tables.n_chips; c++) {
    const spd_map_table_t *t = &r.tables.chips[c];
    total += t->n;
    if (t->n == 0)
      continue;
    assert_int_equal(t->y, 0);
    assert_true(t->x <= 4);
    assert_int_equal(t->entries[0].key, r.keys[0].base);
    assert_int_equal(t->entries[0].mask, 0xFFFFFFF8u);
    assert_int_equal(t->entries[0].sources, t->x == 0 ? SPD_MAP_SOURCE_LOCAL : 1u << SPD_LINK_W);
    assert_int_equal(t->entries[0].route,
                     t->x == 4 ? spd_route_core(2) : spd_route_link(SPD_LINK_E));
  }
  assert_int_equal(total, 5);
  /* Minimised to the bone, only the source and the sink keep an entry: the
   * three chips in between route by default. */
  total = 0;
  for (uint32_t c = 0; c < r.tables.n_chips; c++) {
    assert_int_equal(spd_map_table_minimise(&ctx, &r.tables.chips[c], 0), 0);
    total += r.tables.chips[c].n;
  }
  assert_int_equal(total, 2);
  check_delivery(m, &r.tables, &net, r.keys[0].base + 7);
  spd_route_entry_t out[1];
  spd_map_table_export(&r.tables.chips[spd_machine_chip_index(m, 4, 0)], out);
  assert_int_equal(out[0].route, spd_route_core(2));
  spd_map_routing_free(&ctx, &r);
  spd_machine_free(m);
}

/* 1100 nets from chip (0,0) to different core sets of chip (1,0): the
 * source chip's entries all leave east and merge into one, but chip (1,0)
 * needs 1100 distinct routes and mapping fails naming it. */
static void overfull_chip_fails_naming_it(void **state) {
  (void)state;
  enum { N = 1100 };
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m = spd_test_machine(&ctx, "4x4", NULL);
  spd_map_net_t *nets = calloc(N, sizeof *nets);
  spd_map_core_t *sinks = calloc(N * 17, sizeof *sinks);
  for (uint32_t i = 0; i < N; i++) {
    uint32_t n = 0;
    for (unsigned c = 1; c <= 17; c++)
      if ((i + 1) & (1u << (c - 1)))
        sinks[i * 17 + n++] = (spd_map_core_t){1, 0, (uint8_t)c};
    nets[i] = (spd_map_net_t){{0, 0, (uint8_t)(1 + i % 17)}, 1, 0, &sinks[i * 17], n};
  }
  spd_map_routing_t r = {.n_nets = 12345};
  assert_int_equal(spd_map_routing_build(&ctx, m, nets, N, NULL, &r), SPD_EROUTER);
  assert_non_null(strstr(spd_ctx_message(&ctx), "chip (1,0) needs 1100 routing entries"));
  assert_non_null(strstr(spd_ctx_message(&ctx), "1023"));
  assert_int_equal(r.n_nets, 12345);

  /* 1000 of them fit. */
  assert_int_equal(spd_map_routing_build(&ctx, m, nets, 1000, NULL, &r), 0);
  assert_int_equal(r.entries_before, 1000);
  assert_int_equal(r.entries_after, 1000);
  assert_int_equal(r.tables.chips[spd_machine_chip_index(m, 0, 0)].n, 1000);
  /* Minimised further, the source chip's entries merge into one. */
  assert_int_equal(spd_map_table_minimise(&ctx, &r.tables.chips[spd_machine_chip_index(m, 0, 0)], 0), 0);
  assert_int_equal(r.tables.chips[spd_machine_chip_index(m, 0, 0)].n, 1);
  spd_map_routing_free(&ctx, &r);
  free(nets);
  free(sinks);
  spd_machine_free(m);
}

static void allocation_failures_do_not_leak(void **state) {
  (void)state;
  spd_ctx_t setup;
  spd_ctx_init(&setup);
  spd_machine_t *m = spd_test_machine(&setup, "spinn5", "link 2 2 E\nchip 4 4\n");
  spd_rng_t rng;
  spd_rng_init(&rng, 3, 3);
  spd_map_net_t nets[6];
  spd_map_core_t sinks[6 * 5];
  random_nets(&rng, m, nets, 6, sinks, 5);
  int ok = 0;
  for (uint64_t fail = 1; fail < 400 && !ok; fail++) {
    spd_ctx_t ctx;
    spd_ctx_init(&ctx);
    spd_test_alloc_t ta;
    spd_test_alloc_install(&ctx, &ta, fail);
    spd_map_routing_t r;
    int rc = spd_map_routing_build(&ctx, m, nets, 6, NULL, &r);
    assert_int_equal(rc, ta.failed ? SPD_ENOMEM : 0);
    if (rc == 0) {
      ok = 1;
      spd_map_routing_free(&ctx, &r);
    }
    assert_int_equal(ta.live, 0);
  }
  assert_true(ok);
  spd_machine_free(m);
}

static spd_model_t *mlp(spd_ctx_t *ctx, int32_t h1, int32_t h2) {
  const int32_t units[] = {h1, h2, 10};
  return spd_test_dense_chain(ctx, "mlp", 784, units, 3, 3);
}

/* The whole front of the compiler: an MLP partitioned and placed on a
 * SpiNN-5 board with faults, its partitions turned into nets and routed;
 * every partition's first and last key reach exactly its targets through
 * the fitted tables. */
static void placed_mlp_routes_on_spinn5(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m = spd_test_machine(&ctx, "spinn5", "link 1 1 NE\nchip 2 3\nlink 0 1 E\n");
  spd_model_t *model = mlp(&ctx, 1024, 256);
  spd_machine_graph_t *g = NULL;
  if (spd_partition_dense(&ctx, model, m, NULL, &g) < 0)
    fail_msg("partition: %s", spd_ctx_message(&ctx));
  spd_placement_t p;
  if (spd_place(&ctx, g, m, &p) < 0)
    fail_msg("place: %s", spd_ctx_message(&ctx));
  spd_map_net_t *all;
  spd_map_core_t *sinks;
  assert_int_equal(spd_placement_nets(&ctx, g, &p, &all, &sinks), 0);
  uint32_t n_nets = g->n_partitions;
  spd_map_routing_t r;
  if (spd_map_routing_build(&ctx, m, all, n_nets, NULL, &r) < 0)
    fail_msg("routing: %s", spd_ctx_message(&ctx));
  assert_true(r.entries_after <= SPD_ROUTER_APP_ENTRIES);
  for (uint32_t i = 0; i < n_nets; i++) {
    const spd_partition_t *part = &g->partitions[i];
    const spd_map_net_t *net = &all[i];
    assert_int_equal(net->source.x, p.loc[part->source].x);
    assert_int_equal(net->source.core, p.loc[part->source].core);
    assert_int_equal(net->n_sinks, part->n_targets);
    assert_int_equal(net->n_keys, part->n_keys);
    /* Same layer and name, same group: their key blocks are one region. */
    if (i > 0 && part->layer == g->partitions[i - 1].layer &&
        strcmp(part->name, g->partitions[i - 1].name) == 0)
      assert_int_equal(net->group, all[i - 1].group);
    check_tree(m, net, &r.trees[i]);
    check_delivery(m, &r.tables, net, r.keys[i].base);
    check_delivery(m, &r.tables, net, r.keys[i].base + net->n_keys - 1);
  }
  spd_map_routing_free(&ctx, &r);
  spd_free(&ctx, all);
  spd_free(&ctx, sinks);
  spd_placement_free(&p);
  spd_machine_graph_free(g);
  spd_model_free(model);
  spd_machine_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_router_reaches_exactly_its_sinks),
      cmocka_unit_test(routes_around_a_dead_link),
      cmocka_unit_test(single_sinks_take_shortest_paths),
      cmocka_unit_test(routes_around_dead_chips),
      cmocka_unit_test(unreachable_sink_fails_naming_it),
      cmocka_unit_test(tables_record_input_links),
      cmocka_unit_test(overfull_chip_fails_naming_it),
      cmocka_unit_test(allocation_failures_do_not_leak),
      cmocka_unit_test(placed_mlp_routes_on_spinn5),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
