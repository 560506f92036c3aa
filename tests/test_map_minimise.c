/* map/minimise*.c: every minimiser routes every key exactly like the table it
 * was given (property test over random tables), known merges and refusals,
 * and the chain's failure naming the chip and the entry count. */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spindle/map_route.h"
#include "spindle/rng.h"

/* Random tables live in a 10-bit key universe so that keys collide often
 * enough for merges; every entry's mask covers the upper 22 bits with key 0
 * there, so keys outside the universe must stay unmatched. */
#define UNIVERSE_BITS 10
#define UNIVERSE (1u << UNIVERSE_BITS)
#define MAX_ENTRIES 96

static long lookup(const spd_map_entry_t *t, uint32_t n, uint32_t key) {
  for (uint32_t i = 0; i < n; i++)
    if ((key & t[i].mask) == t[i].key)
      return (long)i;
  return -1;
}

/* The router forwards an unmatched packet arriving on link l to the
 * opposite link; only such an entry may be missing from the minimised table. */
static bool default_routed(const spd_map_entry_t *e) {
  uint32_t s = e->sources;
  if (s == 0 || (s & (s - 1)) || (s & SPD_MAP_SOURCE_LOCAL))
    return false;
  return e->route == spd_route_link(spd_link_opposite((spd_link_t)__builtin_ctz(s)));
}

/* Every key the original table matches is routed the same way by the
 * minimised one (or, for an entry that default routing replaces, left to
 * the default on its one input link, which gives the same route); keys
 * outside the universe stay unmatched in both. Keys inside the universe
 * that no original entry matches are never sent, so a covering entry may
 * claim them. */
static void assert_equivalent(const spd_map_entry_t *orig, uint32_t n0,
                              const spd_map_entry_t *min, uint32_t n1, spd_rng_t *rng) {
  for (uint32_t key = 0; key < UNIVERSE; key++) {
    long i = lookup(orig, n0, key);
    if (i < 0)
      continue;
    long j = lookup(min, n1, key);
    if (j >= 0 && min[j].route != orig[i].route)
      fail_msg("key 0x%x: route 0x%x after minimising, 0x%x before", key, min[j].route,
               orig[i].route);
    if (j < 0 && !default_routed(&orig[i]))
      fail_msg("key 0x%x: unmatched after minimising, entry %ld (route 0x%x sources 0x%x) "
               "cannot be default-routed",
               key, i, orig[i].route, orig[i].sources);
  }
  for (int r = 0; r < 64; r++) {
    uint32_t key = spd_rng_u32(rng) | UNIVERSE;
    assert_int_equal(lookup(orig, n0, key), -1);
    assert_int_equal(lookup(min, n1, key), -1);
  }
}

static const uint32_t ROUTES[] = {
    1u << SPD_LINK_E, 1u << SPD_LINK_N, 1u << SPD_LINK_SW, (1u << SPD_LINK_NE) | (1u << 7),
    1u << 9,          (1u << 6) | (1u << 10),
};
#define N_ROUTES (sizeof ROUTES / sizeof ROUTES[0])

static uint32_t random_sources(spd_rng_t *rng, uint32_t route) {
  uint32_t pick = spd_rng_below(rng, 4);
  if (pick == 0)
    return SPD_MAP_SOURCE_LOCAL;
  /* Half the single-link entries arrive opposite their one output link,
   * which makes them candidates for default routing. */
  if (pick == 1 && (route & (route - 1)) == 0 && route < (1u << SPD_LINKS))
    return 1u << spd_link_opposite((spd_link_t)__builtin_ctz(route));
  uint32_t s = 1u << spd_rng_below(rng, SPD_LINKS);
  if (pick == 3)
    s |= 1u << spd_rng_below(rng, SPD_LINKS);
  return s;
}

/* A random orthogonal table (no key hits two entries), as disjoint key
 * blocks produce. */
static uint32_t random_table(spd_rng_t *rng, spd_map_entry_t *t) {
  uint32_t want = 1 + spd_rng_below(rng, MAX_ENTRIES), n = 0;
  uint32_t routes = 1 + spd_rng_below(rng, N_ROUTES);
  for (int tries = 0; n < want && tries < 4000; tries++) {
    uint32_t xs = 0;
    for (uint32_t k = spd_rng_below(rng, 4); k > 0; k--)
      xs |= 1u << spd_rng_below(rng, UNIVERSE_BITS);
    uint32_t key = spd_rng_below(rng, UNIVERSE) & ~xs, mask = ~xs;
    if (spd_rng_below(rng, 3) == 0)
      key &= ~0x3u; /* bias towards neighbouring keys so merges happen */
    bool clash = false;
    for (uint32_t i = 0; i < n && !clash; i++)
      clash = (key & t[i].mask) == (t[i].key & mask);
    if (clash)
      continue;
    uint32_t route = ROUTES[spd_rng_below(rng, routes)];
    t[n++] = (spd_map_entry_t){key, mask, route, random_sources(rng, route)};
  }
  return n;
}

/* The chain as a minimiser with the same contract (a target of 0 runs it
 * to the end; a random target exercises its early stop and its refusal). */
static int chain(spd_ctx_t *ctx, spd_map_entry_t *table, uint32_t *n, uint32_t target) {
  spd_map_table_t t = {3, 7, *n, *n, table};
  int rc = spd_map_table_minimise(ctx, &t, target);
  *n = t.n;
  return rc;
}

typedef struct minimiser_case {
  const char *name;
  spd_map_minimiser_fn fn;
} minimiser_case_t;

/* The contract suite: every minimiser, on the same random tables. */
static const minimiser_case_t MINIMISERS[] = {
    {"ordered covering", spd_map_minimise_ordered_covering},
    {"default-route removal", spd_map_minimise_default_routes},
    {"chain", chain},
};
#define N_MINIMISERS (sizeof MINIMISERS / sizeof MINIMISERS[0])

static void minimisers_preserve_routing_of_random_tables(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_rng_t rng;
  spd_rng_init(&rng, 2026, 4);
  spd_map_entry_t orig[MAX_ENTRIES], t[MAX_ENTRIES];
  uint64_t before = 0, after[N_MINIMISERS] = {0};
  for (int round = 0; round < 300; round++) {
    uint32_t n0 = random_table(&rng, orig);
    before += n0;
    for (size_t k = 0; k < N_MINIMISERS; k++) {
      uint32_t n = n0;
      memcpy(t, orig, sizeof orig);
      /* Full minimisation on even rounds, a random target on odd ones. */
      uint32_t target = round % 2 ? 1 + spd_rng_below(&rng, n0) : 0;
      int rc = MINIMISERS[k].fn(&ctx, t, &n, target);
      if (rc == SPD_EROUTER) {
        /* Only the chain judges targets: it refuses, naming the chip, and
         * leaves the table as it was. */
        assert_ptr_equal(MINIMISERS[k].fn, chain);
        assert_int_equal(n, n0);
        assert_memory_equal(t, orig, n0 * sizeof *t);
        assert_non_null(strstr(spd_ctx_message(&ctx), "chip (3,7)"));
        after[k] += n;
        continue;
      }
      if (rc != 0)
        fail_msg("%s: %s", MINIMISERS[k].name, spd_ctx_message(&ctx));
      assert_true(n <= n0);
      if (MINIMISERS[k].fn == chain && target != 0)
        assert_true(n <= target);
      after[k] += n;
      assert_equivalent(orig, n0, t, n, &rng);
      /* Ordered covering leaves the table sorted by generality. */
      for (uint32_t i = 1; MINIMISERS[k].fn == spd_map_minimise_ordered_covering && i < n; i++)
        assert_true(__builtin_popcount(~t[i - 1].key & ~t[i - 1].mask) <=
                    __builtin_popcount(~t[i].key & ~t[i].mask));
    }
  }
  /* The property must not hold vacuously: ordered covering really merges
   * (and beats default-route removal alone) and default routes really go. */
  assert_true(after[0] * 10 < before * 7);
  assert_true(after[1] < before);
  assert_true(after[0] < after[1]);
  assert_true(after[2] < before);
}

static void run_oc(spd_map_entry_t *t, uint32_t *n) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  assert_int_equal(spd_map_minimise_ordered_covering(&ctx, t, n, 0), 0);
}

#define LOCAL SPD_MAP_SOURCE_LOCAL
#define E_ (1u << SPD_LINK_E)
#define N_ (1u << SPD_LINK_N)
#define NE_ (1u << SPD_LINK_NE)
#define W_ (1u << SPD_LINK_W)
#define S_ (1u << SPD_LINK_S)
#define SW_ (1u << SPD_LINK_SW)
#define CORE(c) (1u << (6 + (c)))

static void sixteen_keys_one_route_become_one_entry(void **state) {
  (void)state;
  spd_map_entry_t t[16];
  for (uint32_t i = 0; i < 16; i++)
    t[i] = (spd_map_entry_t){0x1230 + i, 0xFFFFFFFFu, N_ | CORE(3), LOCAL};
  uint32_t n = 16;
  run_oc(t, &n);
  assert_int_equal(n, 1);
  assert_int_equal(t[0].key, 0x1230);
  assert_int_equal(t[0].mask, 0xFFFFFFF0u);
  assert_int_equal(t[0].route, N_ | CORE(3));
}

/* 00000, 00001, 00010 -> A and XXX11 -> B: merging all three A entries
 * gives 000XX, which would sit above XXX11 (it is less general) and take its
 * key 00011; the down-check shrinks the merge to two entries, which cover
 * nothing of B. */
static void downcheck_refuses_to_cover_another_route(void **state) {
  (void)state;
  const uint32_t hi = 0xFFFFFFF0u;
  spd_map_entry_t orig[4] = {
      {0x0, 0xF | hi, E_, LOCAL}, {0x1, 0xF | hi, E_, LOCAL},
      {0x2, 0xF | hi, E_, LOCAL}, {0x3, 0xFFFFFFE3u, S_, LOCAL},
  };
  spd_map_entry_t t[4];
  memcpy(t, orig, sizeof t);
  uint32_t n = 4;
  run_oc(t, &n);
  assert_int_equal(n, 3);
  spd_rng_t rng;
  spd_rng_init(&rng, 1, 1);
  assert_equivalent(orig, 4, t, n, &rng);
  long j = lookup(t, n, 0x3);
  assert_true(j >= 0);
  assert_int_equal(t[j].route, S_);

  /* Against a more specific entry of another route there is no conflict:
   * it stays above the merged entry and keeps its key. */
  orig[3].mask = 0x7 | hi;
  memcpy(t, orig, sizeof t);
  n = 4;
  run_oc(t, &n);
  assert_int_equal(n, 2);
  assert_equivalent(orig, 4, t, n, &rng);
}

/* Rig's up-check example (ordered by generality, not orthogonal):
 *   0011 0100 1000 -> N ; X000 -> NE.
 * 1000 must not join the merge: it would fall below X000, which covers it. */
static void upcheck_keeps_entries_above_their_cover(void **state) {
  (void)state;
  const uint32_t hi = 0xFFFFFFF0u;
  spd_map_entry_t orig[4] = {
      {0x3, 0xF | hi, N_, LOCAL},
      {0x4, 0xF | hi, N_, LOCAL},
      {0x8, 0xF | hi, N_, LOCAL},
      {0x0, 0x7 | hi, NE_, LOCAL},
  };
  spd_map_entry_t t[4];
  memcpy(t, orig, sizeof t);
  uint32_t n = 4;
  run_oc(t, &n);
  assert_int_equal(n, 3);
  for (uint32_t key = 0; key < 16; key++) {
    long i = lookup(orig, 4, key), j = lookup(t, n, key);
    if (i >= 0) {
      assert_true(j >= 0);
      assert_int_equal(t[j].route, orig[i].route);
    }
  }
}

static void default_routes_go_only_when_nothing_later_aliases(void **state) {
  (void)state;
  spd_map_entry_t t[] = {
      {0x10, ~0u, E_, W_},            /* straight through W -> E: removed */
      {0x20, ~0u, E_, W_},            /* later 0x2X entry aliases it: kept */
      {0x30, ~0u, E_, LOCAL},         /* injected locally: kept */
      {0x40, ~0u, E_ | CORE(2), W_},  /* also delivers to a core: kept */
      {0x50, ~0u, E_, W_ | S_},       /* two input links: kept */
      {0x60, ~0u, N_, S_},            /* S -> N is straight through: removed */
      {0x70, ~0u, SW_, W_},           /* turns: kept */
      {0x20, ~0xFu, N_, S_},          /* the alias of 0x20 (itself removable) */
  };
  uint32_t n = sizeof t / sizeof t[0];
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  assert_int_equal(spd_map_minimise_default_routes(&ctx, t, &n, 0), 0);
  assert_int_equal(n, 5);
  const uint32_t kept[] = {0x20, 0x30, 0x40, 0x50, 0x70};
  for (uint32_t i = 0; i < 5; i++)
    assert_int_equal(t[i].key, kept[i]);
}

static spd_map_entry_t *unmergeable_table(uint32_t n) {
  spd_map_entry_t *t = calloc(n, sizeof *t);
  assert_non_null(t);
  /* Every route distinct (core sets), no defaults: nothing can shrink. */
  for (uint32_t i = 0; i < n; i++)
    t[i] = (spd_map_entry_t){i << 4, 0xFFFFFFF0u, (i + 1) << 6, LOCAL};
  return t;
}

static void table_too_big_names_chip_and_count(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_map_entry_t *t = unmergeable_table(1100);
  spd_map_entry_t *copy = unmergeable_table(1100);
  spd_map_table_t table = {3, 5, 1100, 1100, t};
  assert_int_equal(spd_map_table_minimise(&ctx, &table, SPD_ROUTER_APP_ENTRIES), SPD_EROUTER);
  const char *msg = spd_ctx_message(&ctx);
  assert_non_null(strstr(msg, "chip (3,5)"));
  assert_non_null(strstr(msg, "needs 1100 routing entries"));
  assert_non_null(strstr(msg, "1023"));
  assert_int_equal(table.n, 1100);
  assert_memory_equal(t, copy, 1100 * sizeof *t);

  /* The same through the per-machine call: the failing chip is named. */
  spd_map_table_t chips[2] = {{0, 0, 0, 0, NULL}, {6, 2, 1100, 1100, t}};
  spd_map_tables_t all = {2, chips};
  assert_int_equal(spd_map_tables_minimise(&ctx, &all, 0), SPD_EROUTER);
  assert_non_null(strstr(spd_ctx_message(&ctx), "chip (6,2) needs 1100"));
  free(t);
  free(copy);
}

/* 1030 entries of which 10 are default routes: removing those is enough, so
 * ordered covering (which would re-sort the table) never runs. */
static void chain_stops_at_the_cheapest_method_that_fits(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_map_entry_t *t = unmergeable_table(1030);
  for (uint32_t i = 0; i < 1030; i++)
    t[i].mask = i < 500 ? 0xFFFFFFF0u : 0xFFFFFFFFu;
  for (uint32_t i = 0; i < 10; i++)
    t[100 * i] = (spd_map_entry_t){t[100 * i].key, t[100 * i].mask, E_, W_};
  spd_map_table_t table = {1, 1, 1030, 1030, t};
  assert_int_equal(spd_map_table_minimise(&ctx, &table, SPD_ROUTER_APP_ENTRIES), 0);
  assert_int_equal(table.n, 1020);
  for (uint32_t i = 1; i < table.n; i++)
    assert_true(t[i - 1].key < t[i].key); /* original order */

  /* When removal is not enough, ordered covering runs and stops as soon as
   * the table fits. */
  for (uint32_t i = 0; i < 1030; i++)
    t[i] = (spd_map_entry_t){i, 0xFFFFFFFFu, i < 1000 ? CORE(i % 17) : N_, LOCAL};
  table.n = 1030;
  assert_int_equal(spd_map_table_minimise(&ctx, &table, SPD_ROUTER_APP_ENTRIES), 0);
  assert_true(table.n <= SPD_ROUTER_APP_ENTRIES);
  assert_true(table.n > 900); /* stopped early, not minimised to the bone */
  free(t);
}

static void allocation_failures_do_not_leak(void **state) {
  (void)state;
  spd_rng_t rng;
  spd_rng_init(&rng, 5, 5);
  spd_map_entry_t orig[MAX_ENTRIES], t[MAX_ENTRIES];
  uint32_t n0 = 0;
  while (n0 < 20)
    n0 = random_table(&rng, orig);
  int failed_runs = 0;
  for (uint64_t fail = 1; fail < 40; fail++) {
    spd_ctx_t ctx;
    spd_ctx_init(&ctx);
    spd_test_alloc_t ta;
    spd_test_alloc_install(&ctx, &ta, fail);
    memcpy(t, orig, sizeof t);
    spd_map_table_t table = {0, 0, n0, n0, t};
    int rc = spd_map_table_minimise(&ctx, &table, 0);
    assert_int_equal(rc, ta.failed ? SPD_ENOMEM : 0);
    failed_runs += ta.failed > 0;
    if (rc == SPD_ENOMEM) {
      assert_int_equal(table.n, n0);
      assert_memory_equal(t, orig, n0 * sizeof *t);
    }
    assert_int_equal(ta.live, 0);
  }
  assert_true(failed_runs > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(minimisers_preserve_routing_of_random_tables),
      cmocka_unit_test(sixteen_keys_one_route_become_one_entry),
      cmocka_unit_test(downcheck_refuses_to_cover_another_route),
      cmocka_unit_test(upcheck_keeps_entries_above_their_cover),
      cmocka_unit_test(default_routes_go_only_when_nothing_later_aliases),
      cmocka_unit_test(table_too_big_names_chip_and_count),
      cmocka_unit_test(chain_stops_at_the_cheapest_method_that_fits),
      cmocka_unit_test(allocation_failures_do_not_leak),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
