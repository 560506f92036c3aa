/* Emulated routing: multicast across chips, default routing, unmatched local
 * packets, the 1023-entry limit and lowest-index-wins, on a SpiNN-5 board. */
#include "test_support.h"

#include <stdlib.h>
#include <string.h>

#include "emu_kernels.h"
#include "spindle/emu.h"
#include "spindle/machine.h"

typedef struct fixture {
  spd_ctx_t ctx;
  spd_machine_t *m;
  spd_emu_t *emu;
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  spd_ctx_init(&f->ctx);
  if (spd_machine_new(&f->ctx, "spinn5", &f->m) || spd_emu_new(&f->ctx, f->m, &f->emu) ||
      spd_test_register_kernels(f->emu))
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  spd_emu_free(f->emu);
  spd_machine_free(f->m);
  free(f);
  return 0;
}

static spd_test_kparams_t receiver(uint32_t expected) {
  return (spd_test_kparams_t){.expected = expected, .deadline_us = 200, .period_us = 10,
                              .priority = 1};
}

static void multicast_reaches_exactly_the_named_cores_and_links(void **state) {
  fixture_t *f = *state;
  spd_emu_t *emu = f->emu;
  const uint32_t key = 0x00010000, mask = 0xFFFF0000, n = 5;
  /* (0,0): local core 2, east to (1,0) and north to (0,1).
   * (1,0): no entry -> default route straight on (east) to (2,0).
   * (2,0): cores 3 and 5. (0,1): core 4. */
  spd_route_entry_t t00 = spd_route_entry(key, mask, spd_route_core(2) |
                                                         spd_route_link(SPD_LINK_E) |
                                                         spd_route_link(SPD_LINK_N));
  spd_route_entry_t t20 = spd_route_entry(key, mask, spd_route_core(3) | spd_route_core(5));
  spd_route_entry_t t01 = spd_route_entry(key, mask, spd_route_core(4));
  assert_int_equal(spd_emu_load_routes(emu, 0, 0, &t00, 1), 0);
  assert_int_equal(spd_emu_load_routes(emu, 2, 0, &t20, 1), 0);
  assert_int_equal(spd_emu_load_routes(emu, 0, 1, &t01, 1), 0);

  spd_test_kparams_t s = {.n_packets = n, .key = key, .key_span = 3, .with_payload = 1,
                          .period_us = 1, .per_tick = 2};
  uint32_t r[6];
  assert_int_equal(spd_test_place(emu, 0, 0, 1, "test_sender", s, &r[0]), 0);
  assert_int_equal(spd_test_place(emu, 0, 0, 2, "test_receiver", receiver(n), &r[1]), 0);
  assert_int_equal(spd_test_place(emu, 2, 0, 3, "test_receiver", receiver(n), &r[2]), 0);
  assert_int_equal(spd_test_place(emu, 2, 0, 5, "test_receiver", receiver(n), &r[3]), 0);
  assert_int_equal(spd_test_place(emu, 0, 1, 4, "test_receiver", receiver(n), &r[4]), 0);
  /* Bystanders that must hear nothing: (1,0) core 1 and (2,0) core 4. */
  assert_int_equal(spd_test_place(emu, 1, 0, 1, "test_receiver", receiver(0), &r[5]), 0);
  assert_int_equal(spd_emu_start(emu), 0);
  assert_int_equal(spd_emu_run(emu, 1000000000ull), 0);

  uint32_t checksum = 0;
  for (uint32_t i = 0; i < n; i++)
    checksum += (key + i % 3) ^ i;
  const int where[5][2] = {{0, 0}, {0, 0}, {2, 0}, {2, 0}, {0, 1}};
  assert_int_equal(spd_test_result(emu, 0, 0, r[0]).count, n);
  for (int i = 1; i < 5; i++) {
    spd_test_kresult_t res = spd_test_result(emu, where[i][0], where[i][1], r[i]);
    assert_int_equal(res.count, n);
    assert_int_equal(res.checksum, checksum);
  }
  assert_int_equal(spd_test_result(emu, 1, 0, r[5]).count, 0);

  spd_chip_counters_t c;
  assert_int_equal(spd_emu_chip_counters(emu, 0, 0, &c), 0);
  assert_int_equal(c.injected, n);
  assert_int_equal(c.link_packets[SPD_LINK_E], n);
  assert_int_equal(c.link_packets[SPD_LINK_N], n);
  for (int l = 0; l < SPD_LINKS; l++)
    if (l != SPD_LINK_E && l != SPD_LINK_N)
      assert_int_equal(c.link_packets[l], 0);
  assert_int_equal(c.delivered, n);
  assert_int_equal(spd_emu_chip_counters(emu, 1, 0, &c), 0);
  assert_int_equal(c.default_routed, n);
  assert_int_equal(c.link_packets[SPD_LINK_E], n);
  assert_int_equal(c.delivered, 0);
  assert_int_equal(spd_emu_chip_counters(emu, 2, 0, &c), 0);
  assert_int_equal(c.delivered, 2 * n);
  for (int l = 0; l < SPD_LINKS; l++)
    assert_int_equal(c.link_packets[l], 0);
  assert_int_equal(c.router_entries, 1);

  spd_run_counters_t rc;
  spd_emu_run_counters(emu, &rc);
  assert_int_equal(rc.packets_sent, n);
  assert_int_equal(rc.packets_delivered, 4 * n);
  assert_int_equal(rc.packets_dropped, 0);
  assert_int_equal(rc.max_router_entries, 1);
  assert_true(rc.energy_joules > 0);
}

static void unmatched_local_packet_is_dropped_and_counted(void **state) {
  fixture_t *f = *state;
  spd_test_kparams_t s = {.n_packets = 7, .key = 0x999, .period_us = 1, .per_tick = 1};
  assert_int_equal(spd_test_place(f->emu, 3, 3, 1, "test_sender", s, NULL), 0);
  assert_int_equal(spd_emu_start(f->emu), 0);
  assert_int_equal(spd_emu_run(f->emu, 1000000000ull), 0);
  spd_chip_counters_t c;
  assert_int_equal(spd_emu_chip_counters(f->emu, 3, 3, &c), 0);
  assert_int_equal(c.dropped_unmatched, 7);
  spd_run_counters_t rc;
  spd_emu_run_counters(f->emu, &rc);
  assert_int_equal(rc.dropped_unmatched, 7);
  assert_int_equal(rc.packets_dropped, 7);
  assert_int_equal(rc.packets_delivered, 0);
}

static void table_of_1024_entries_is_refused(void **state) {
  fixture_t *f = *state;
  static spd_route_entry_t t[SPD_ROUTER_ENTRIES];
  for (uint32_t i = 0; i < SPD_ROUTER_ENTRIES; i++)
    t[i] = spd_route_entry(i, 0xFFFFFFFFu, spd_route_core(1));
  assert_int_equal(spd_emu_load_routes(f->emu, 2, 3, t, SPD_ROUTER_ENTRIES), SPD_EROUTER);
  const char *msg = spd_ctx_message(&f->ctx);
  assert_non_null(strstr(msg, "chip (2,3)"));
  assert_non_null(strstr(msg, "1024 entries"));
  assert_int_equal(spd_emu_load_routes(f->emu, 2, 3, t, SPD_ROUTER_APP_ENTRIES), 0);
  spd_chip_counters_t c;
  assert_int_equal(spd_emu_chip_counters(f->emu, 2, 3, &c), 0);
  assert_int_equal(c.router_entries, SPD_ROUTER_APP_ENTRIES);
  assert_int_equal(spd_emu_load_routes(f->emu, 9, 9, t, 1), SPD_EINVAL);
}

static void lowest_index_wins_in_the_router(void **state) {
  fixture_t *f = *state;
  spd_route_entry_t t[2] = {spd_route_entry(0x50, 0xF0, spd_route_core(2)),
                            spd_route_entry(0x00, 0x00, spd_route_core(3))};
  assert_int_equal(spd_emu_load_routes(f->emu, 1, 1, t, 2), 0);
  spd_test_kparams_t s = {.n_packets = 4, .key = 0x50, .key_span = 4, .period_us = 1,
                          .per_tick = 4};
  uint32_t a, b;
  assert_int_equal(spd_test_place(f->emu, 1, 1, 1, "test_sender", s, NULL), 0);
  assert_int_equal(spd_test_place(f->emu, 1, 1, 2, "test_receiver", receiver(4), &a), 0);
  assert_int_equal(spd_test_place(f->emu, 1, 1, 3, "test_receiver", receiver(1), &b), 0);
  assert_int_equal(spd_emu_start(f->emu), 0);
  assert_int_equal(spd_emu_run(f->emu, 1000000000ull), 0);
  assert_int_equal(spd_test_result(f->emu, 1, 1, a).count, 4);
  assert_int_equal(spd_test_result(f->emu, 1, 1, b).count, 0);
}

static void loading_errors_name_the_problem(void **state) {
  fixture_t *f = *state;
  assert_int_equal(spd_emu_load_kernel(f->emu, 0, 0, 1, "no_such_kernel", 0), SPD_ENOTFOUND);
  assert_non_null(strstr(spd_ctx_message(&f->ctx), "no_such_kernel"));
  assert_int_equal(spd_emu_load_kernel(f->emu, 0, 0, 0, "test_sender", 0), SPD_EINVAL);
  assert_int_equal(spd_emu_load_kernel(f->emu, 0, 0, 18, "test_sender", 0), SPD_EINVAL);
  assert_int_equal(spd_emu_load_kernel(f->emu, 7, 0, 1, "test_sender", 0), SPD_EINVAL);
  assert_int_equal(spd_emu_register_kernel(f->emu, &spd_test_sender_kernel), SPD_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(multicast_reaches_exactly_the_named_cores_and_links, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(unmatched_local_packet_is_dropped_and_counted, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(table_of_1024_entries_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(lowest_index_wins_in_the_router, setup, teardown),
      cmocka_unit_test_setup_teardown(loading_errors_name_the_problem, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
