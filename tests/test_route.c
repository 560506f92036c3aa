/* spindle/route.h semantics, the emulated router table and the event queue. */
#include "test_support.h"

#include <string.h>

#include "emu/event_queue.h"
#include "emu/router_table.h"
#include "spindle/machine.h"
#include "spindle/route.h"

static void route_bits_follow_the_datasheet(void **state) {
  (void)state;
  assert_int_equal(spd_route_link(0), 1u);
  assert_int_equal(spd_route_link(5), 1u << 5);
  assert_int_equal(spd_route_core(0), 1u << 6);
  assert_int_equal(spd_route_core(17), 1u << 23);
  uint32_t r = spd_route_link(2) | spd_route_core(3) | spd_route_core(17);
  assert_int_equal(spd_route_links(r), 1u << 2);
  assert_int_equal(spd_route_cores(r), (1u << 3) | (1u << 17));
  spd_route_entry_t e = spd_route_entry(0x100, 0xFF00, 0xFFFFFFFFu);
  assert_int_equal(e.route, SPD_ROUTE_WORD_MASK);
}

static void lookup_lowest_index_wins(void **state) {
  (void)state;
  spd_route_entry_t t[3] = {
      spd_route_entry(0x1200, 0xFF00, spd_route_core(1)),
      spd_route_entry(0x1000, 0xF000, spd_route_core(2)),
      spd_route_entry(0x0000, 0x0000, spd_route_core(3)),
  };
  assert_int_equal(spd_route_lookup(t, 3, 0x1234), 0);
  assert_int_equal(spd_route_lookup(t, 3, 0x1334), 1);
  assert_int_equal(spd_route_lookup(t, 3, 0x2000), 2);
  assert_int_equal(spd_route_lookup(t, 2, 0x2000), -1);
}

static void key_bits_outside_mask_never_hit(void **state) {
  (void)state;
  spd_route_entry_t dead = spd_route_entry(0x1001, 0xFF00, spd_route_core(1));
  assert_true(spd_route_entry_dead(&dead));
  for (uint32_t k = 0x1000; k < 0x1100; k++)
    assert_false(spd_route_entry_hits(&dead, k));
  spd_route_entry_t live = spd_route_entry(0x1000, 0xFF00, spd_route_core(1));
  assert_false(spd_route_entry_dead(&live));
  assert_true(spd_route_entry_hits(&live, 0x10FF));
}

static void router_table_refuses_1024_entries(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_router_table_t t;
  spd_router_table_init(&t);
  static spd_route_entry_t big[SPD_ROUTER_ENTRIES];
  for (uint32_t i = 0; i < SPD_ROUTER_ENTRIES; i++)
    big[i] = spd_route_entry(i << 8, 0xFFFFFF00u, spd_route_core(1 + i % 17));
  assert_int_equal(spd_router_table_load(&t, &ctx, 3, 4, big, SPD_ROUTER_ENTRIES), SPD_EROUTER);
  assert_non_null(strstr(spd_ctx_message(&ctx), "chip (3,4)"));
  assert_non_null(strstr(spd_ctx_message(&ctx), "1024 entries"));
  assert_non_null(strstr(spd_ctx_message(&ctx), "1023"));
  assert_int_equal(spd_router_table_load(&t, &ctx, 3, 4, big, SPD_ROUTER_APP_ENTRIES), 0);
  uint32_t route;
  assert_true(spd_router_table_lookup(&t, 1022u << 8 | 7, &route));
  assert_int_equal(route, spd_route_core(1 + 1022 % 17));
  assert_false(spd_router_table_lookup(&t, 1023u << 8, &route));
  spd_router_table_deinit(&t, &ctx);
}

static void router_cache_agrees_with_scan(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_router_table_t t;
  spd_router_table_init(&t);
  spd_route_entry_t e[4] = {
      spd_route_entry(0x0100, 0xFFF0, spd_route_link(0)),
      spd_route_entry(0x0100, 0xFF00, spd_route_link(1)),
      spd_route_entry(0x0200, 0xFF00, spd_route_core(4)),
      spd_route_entry(0x0201, 0xFF00, spd_route_core(5)), /* dead */
  };
  assert_int_equal(spd_router_table_load(&t, &ctx, 0, 0, e, 4), 0);
  for (int pass = 0; pass < 3; pass++)
    for (uint32_t k = 0; k < 0x400; k++) {
      uint32_t route = 0;
      long i = spd_route_lookup(e, 4, k);
      assert_int_equal(spd_router_table_lookup(&t, k, &route), i >= 0);
      if (i >= 0)
        assert_int_equal(route, e[i].route);
    }
  /* Reloading invalidates cached results. */
  e[0].route = spd_route_link(3);
  assert_int_equal(spd_router_table_load(&t, &ctx, 0, 0, e, 1), 0);
  uint32_t route;
  assert_true(spd_router_table_lookup(&t, 0x0105, &route));
  assert_int_equal(route, spd_route_link(3));
  assert_false(spd_router_table_lookup(&t, 0x0205, &route));
  spd_router_table_deinit(&t, &ctx);
}

/* Random tables (overlapping keys, dead entries, few and many distinct
 * masks): the router's cache and mask index find what the scan finds. */
static void router_index_agrees_with_scan(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_router_table_t t;
  spd_router_table_init(&t);
  static spd_route_entry_t e[SPD_ROUTER_APP_ENTRIES];
  uint64_t x = 99;
  for (uint32_t n_masks = 1; n_masks <= 12; n_masks += 3) {
    uint32_t n = 40 + 80 * n_masks;
    for (uint32_t i = 0; i < n; i++) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      uint32_t shift = 2 + (uint32_t)(x >> 60) % n_masks; /* n_masks distinct masks */
      uint32_t mask = 0xFFFFu << shift & 0xFFFFu;
      uint32_t key = (uint32_t)(x >> 20) & mask;
      if ((x >> 33) % 10 == 0)
        key |= 1; /* dead: a key bit outside its mask */
      e[i] = spd_route_entry(key, mask, (uint32_t)(x >> 8));
    }
    assert_int_equal(spd_router_table_load(&t, &ctx, 0, 0, e, n), 0);
    for (int pass = 0; pass < 2; pass++)
      for (uint32_t k = 0; k < 0x10000; k += 7) {
        uint32_t route = 0;
        long i = spd_route_lookup(e, n, k);
        assert_int_equal(spd_router_table_lookup(&t, k, &route), i >= 0);
        if (i >= 0)
          assert_int_equal(route, e[i].route);
      }
  }
  spd_router_table_deinit(&t, &ctx);
}

/* Tables of prefix masks (the mapper's kind: ones, then zeros), with
 * overlapping entries of coarse and fine masks and dead entries: the
 * direct key -> route table is built and finds what the scan finds, for
 * keys near every entry and random ones; one mask that is not a prefix
 * mask leaves the index in charge, with the same answers. */
static void router_direct_table_agrees_with_scan(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_router_table_t t;
  spd_router_table_init(&t);
  static spd_route_entry_t e[SPD_ROUTER_APP_ENTRIES];
  uint64_t x = 7;
  for (int round = 0; round < 6; round++) {
    uint32_t n = 100 + 180 * (uint32_t)round;
    for (uint32_t i = 0; i < n; i++) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      uint32_t zeros = (uint32_t)(x >> 59) % 13; /* 0..12 free bits */
      uint32_t mask = ~0u << zeros;
      /* Keys crowd a few prefixes so coarse and fine entries overlap. */
      uint32_t key = ((uint32_t)(x >> 40) % 6u << 14 | (uint32_t)(x >> 20) % 0x4000u) & mask;
      if ((x >> 33) % 12 == 0)
        key |= ~mask & 1u ? 1u : 0u; /* dead when the mask frees bit 0 */
      e[i] = spd_route_entry(key, mask, (uint32_t)(x >> 8) | 1u);
    }
    bool mixed = round == 5;
    if (mixed)
      e[n / 2].mask = 0x0000FF00u, e[n / 2].key &= 0x0000FF00u; /* not a prefix mask */
    assert_int_equal(spd_router_table_load(&t, &ctx, 0, 0, e, n), 0);
    assert_int_equal(t.direct, !mixed);
    for (uint32_t i = 0; i < n + 2000; i++) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      uint32_t k = i < n ? e[i].key ^ ((uint32_t)(x >> 40) & 0x3FFFu)
                         : (uint32_t)(x >> 32) % (7u << 14);
      if (i % 97 == 0)
        k = (uint32_t)(x >> 32); /* anywhere */
      uint32_t route = 0xDEAD;
      long hit = spd_route_lookup(e, n, k);
      assert_int_equal(spd_router_table_lookup(&t, k, &route), hit >= 0);
      if (hit >= 0)
        assert_int_equal(route, e[hit].route);
    }
  }
  spd_router_table_deinit(&t, &ctx);
}

static void event_queue_orders_by_time_then_sequence(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_event_queue_t q;
  assert_int_equal(spd_event_queue_init(&q, &ctx, 4), 0);
  uint64_t x = 12345;
  for (uint32_t i = 0; i < 1000; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    spd_event_t ev = {.time = (x >> 40) % 50, .a = i};
    assert_int_equal(spd_event_queue_push(&q, &ev), 0);
  }
  spd_event_t prev = {0}, ev;
  int n = 0;
  while (spd_event_queue_pop(&q, &ev)) {
    if (n++) {
      assert_true(ev.time >= prev.time);
      if (ev.time == prev.time)
        assert_true(ev.a > prev.a); /* same time: scheduling order */
    }
    prev = ev;
  }
  assert_int_equal(n, 1000);
  spd_event_queue_deinit(&q);
}

/* Random pushes, many at the current time (which take the FIFO path), popped
 * in between, against a naive reference: the order is (time, push order). */
static void event_queue_matches_naive_reference(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_event_queue_t q;
  assert_int_equal(spd_event_queue_init(&q, &ctx, 16), 0);
  enum { N = 5000 };
  static uint64_t ref_time[N];
  static uint32_t ref_id[N];
  static bool ref_done[N];
  uint32_t pushed = 0, popped = 0;
  uint64_t now = 0, x = 99;
  while (popped < N) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    uint32_t r = (uint32_t)(x >> 33);
    if (pushed < N && (r % 3 != 0 || pushed == popped)) {
      uint64_t t = now + ((r >> 4) % 4 == 0 ? 0 : (r >> 8) % 20);
      spd_event_t ev = {.time = t, .a = pushed};
      ref_time[pushed] = t;
      ref_id[pushed] = pushed;
      assert_int_equal(spd_event_queue_push(&q, &ev), 0);
      pushed++;
      continue;
    }
    uint32_t best = UINT32_MAX;
    for (uint32_t i = 0; i < pushed; i++)
      if (!ref_done[i] && (best == UINT32_MAX || ref_time[i] < ref_time[best]))
        best = i;
    spd_event_t ev;
    assert_true(spd_event_queue_peek(&q) != NULL);
    assert_int_equal(spd_event_queue_peek(&q)->a, ref_id[best]);
    assert_true(spd_event_queue_pop(&q, &ev));
    assert_int_equal(ev.a, ref_id[best]);
    assert_int_equal(ev.time, ref_time[best]);
    ref_done[best] = true;
    now = ev.time;
    popped++;
  }
  spd_event_t ev;
  assert_false(spd_event_queue_pop(&q, &ev));
  spd_event_queue_deinit(&q);
}

static void event_queue_growth_failure_leaves_queue_intact(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_test_alloc_t ta;
  /* A bucket's first 64 events take one allocation; the second (doubling
   * it) fails: the push is refused and the queue keeps what it had. */
  spd_test_alloc_install(&ctx, &ta, 2);
  spd_event_queue_t q;
  assert_int_equal(spd_event_queue_init(&q, &ctx, 16), 0);
  spd_event_t ev = {.time = 5};
  for (uint32_t i = 0; i < 64; i++) {
    ev.a = i;
    assert_int_equal(spd_event_queue_push(&q, &ev), 0);
  }
  ev.a = 64;
  assert_int_equal(spd_event_queue_push(&q, &ev), SPD_ENOMEM);
  assert_int_equal(q.count, 64);
  assert_int_equal(spd_event_queue_push(&q, &ev), 0);
  assert_int_equal(q.count, 65);
  for (uint32_t i = 0; i <= 64; i++) {
    spd_event_t out;
    assert_true(spd_event_queue_pop(&q, &out));
    assert_int_equal(out.a, i);
  }
  spd_event_queue_deinit(&q);
  assert_int_equal(ta.live, 0);
}

/* Taking an event moves the events of the lowest bucket down around its
 * earliest time; when a lower bucket cannot get memory for them the pop
 * fails with q.failed set, and the queue is as it was: the next pop (with
 * memory again) takes the same event, and the rest follow in order. */
static void event_queue_move_failure_leaves_queue_intact(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_test_alloc_t ta;
  spd_test_alloc_install(&ctx, &ta, 2); /* the first bucket a move fills */
  spd_event_queue_t q;
  assert_int_equal(spd_event_queue_init(&q, &ctx, 16), 0);
  for (uint32_t i = 0; i < 40; i++) {
    spd_event_t ev = {.time = 2000 + (i * 7) % 40, .a = i}; /* one bucket */
    assert_int_equal(spd_event_queue_push(&q, &ev), 0);
  }
  spd_event_t out;
  assert_false(spd_event_queue_pop(&q, &out));
  assert_true(q.failed);
  assert_int_equal(q.count, 40);
  uint64_t prev = 0;
  for (uint32_t n = 0; n < 40; n++) {
    assert_true(spd_event_queue_pop(&q, &out));
    assert_false(q.failed);
    assert_true(out.time >= prev);
    assert_int_equal(out.time, 2000 + (out.a * 7) % 40);
    prev = out.time;
  }
  assert_false(spd_event_queue_pop(&q, &out));
  spd_event_queue_deinit(&q);
  assert_int_equal(ta.live, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(route_bits_follow_the_datasheet),
      cmocka_unit_test(lookup_lowest_index_wins),
      cmocka_unit_test(key_bits_outside_mask_never_hit),
      cmocka_unit_test(router_table_refuses_1024_entries),
      cmocka_unit_test(router_cache_agrees_with_scan),
      cmocka_unit_test(router_index_agrees_with_scan),
      cmocka_unit_test(router_direct_table_agrees_with_scan),
      cmocka_unit_test(event_queue_orders_by_time_then_sequence),
      cmocka_unit_test(event_queue_matches_naive_reference),
      cmocka_unit_test(event_queue_growth_failure_leaves_queue_intact),
      cmocka_unit_test(event_queue_move_failure_leaves_queue_intact),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
