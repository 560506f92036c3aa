/* Emulated run behaviour: congestion drops after wait1 (and none when paced),
 * memory budgets with diagnostics, DMA round trip, determinism, allocation
 * failure, idle energy. */
#include "test_support.h"

#include <stdlib.h>
#include <string.h>

#include "emu_kernels.h"
#include "spindle/emu.h"
#include "spindle/machine.h"

static spd_emu_t *new_emu(spd_ctx_t *ctx, const char *name, spd_machine_t **m) {
  spd_emu_t *emu = NULL;
  assert_int_equal(spd_machine_new(ctx, name, m), 0);
  assert_int_equal(spd_emu_new(ctx, *m, &emu), 0);
  assert_int_equal(spd_test_register_kernels(emu), 0);
  return emu;
}

/* Four senders on chip (0,0) send to one receiver core on (1,1) through
 * link NE; the receiver spends @p cycles per packet inside the interrupt
 * (priority 0), so it back-pressures its router. */
static spd_run_counters_t slow_receiver(uint32_t period_us, uint32_t stagger_cycles,
                                        uint32_t cycles, uint32_t *got) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m;
  spd_emu_t *emu = new_emu(&ctx, "spinn5", &m);
  const uint32_t key = 0x20000, n = 50;
  spd_route_entry_t a = spd_route_entry(key, 0xFFFF0000, spd_route_link(SPD_LINK_NE));
  spd_route_entry_t b = spd_route_entry(key, 0xFFFF0000, spd_route_core(1));
  assert_int_equal(spd_emu_load_routes(emu, 0, 0, &a, 1), 0);
  assert_int_equal(spd_emu_load_routes(emu, 1, 1, &b, 1), 0);
  for (int p = 1; p <= 4; p++) {
    spd_test_kparams_t s = {.n_packets = n, .key = key, .period_us = period_us, .per_tick = 1,
                            .start_delay_cycles = (uint32_t)p * stagger_cycles};
    assert_int_equal(spd_test_place(emu, 0, 0, p, "test_sender", s, NULL), 0);
  }
  spd_test_kparams_t r = {.expected = 4 * n, .deadline_us = 60 * period_us * n / 4 + 2000,
                          .period_us = 50, .per_packet_cycles = cycles, .priority = 0};
  uint32_t res;
  assert_int_equal(spd_test_place(emu, 1, 1, 1, "test_receiver", r, &res), 0);
  assert_int_equal(spd_emu_start(emu), 0);
  assert_int_equal(spd_emu_run(emu, 10000000000000ull), 0);
  *got = spd_test_result(emu, 1, 1, res).count;
  spd_run_counters_t rc;
  spd_emu_run_counters(emu, &rc);
  spd_emu_free(emu);
  spd_machine_free(m);
  return rc;
}

static void receiver_overrun_drops_after_wait1(void **state) {
  (void)state;
  uint32_t got;
  /* 4 packets per us against 2040 cycles (10.2 us) per packet. */
  spd_run_counters_t rc = slow_receiver(1, 0, 2000, &got);
  assert_int_equal(rc.packets_sent, 200);
  assert_true(rc.dropped_wait1 > 100);
  assert_int_equal(rc.packets_dropped, rc.dropped_wait1);
  assert_int_equal(got + rc.dropped_wait1, 200);
  assert_int_equal(rc.packets_delivered, got);
}

static void paced_traffic_to_the_same_receiver_drops_nothing(void **state) {
  (void)state;
  uint32_t got;
  /* 4 packets per 60 us, 15 us apart, against 10.2 us per packet. */
  spd_run_counters_t rc = slow_receiver(60, 3000, 2000, &got);
  assert_int_equal(rc.packets_sent, 200);
  assert_int_equal(rc.packets_dropped, 0);
  assert_int_equal(got, 200);
}

/* Sources on five neighbours of (2,2) and cores of (2,2) itself all leave
 * through (2,2)'s link NE to a receiver on (3,3): the link (3 M pkt/s at 72
 * bits) is the bottleneck. */
static spd_run_counters_t link_convergence(uint32_t period_us, uint32_t per_tick,
                                           uint32_t stagger_cycles) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m;
  spd_emu_t *emu = new_emu(&ctx, "spinn5", &m);
  const uint32_t key = 0x30000, n = 64;
  const spd_link_t into[5] = {SPD_LINK_E, SPD_LINK_NE, SPD_LINK_N, SPD_LINK_W, SPD_LINK_S};
  int senders = 0;
  for (int i = 0; i < 5; i++) {
    int nx, ny;
    assert_true(spd_machine_neighbour(m, 2, 2, (spd_link_t)spd_link_opposite(into[i]), &nx, &ny));
    spd_route_entry_t e = spd_route_entry(key, 0xFFFF0000, spd_route_link(into[i]));
    assert_int_equal(spd_emu_load_routes(emu, nx, ny, &e, 1), 0);
    for (int p = 1; p <= 2; p++, senders++) {
      spd_test_kparams_t s = {.n_packets = n, .key = key, .with_payload = 1,
                              .period_us = period_us, .per_tick = per_tick,
                              .start_delay_cycles = (uint32_t)senders * stagger_cycles};
      assert_int_equal(spd_test_place(emu, nx, ny, p, "test_sender", s, NULL), 0);
    }
  }
  for (int p = 1; p <= 6; p++, senders++) {
    spd_test_kparams_t s = {.n_packets = n, .key = key, .with_payload = 1,
                            .period_us = period_us, .per_tick = per_tick,
                            .start_delay_cycles = (uint32_t)senders * stagger_cycles};
    assert_int_equal(spd_test_place(emu, 2, 2, p, "test_sender", s, NULL), 0);
  }
  spd_route_entry_t mid = spd_route_entry(key, 0xFFFF0000, spd_route_link(SPD_LINK_NE));
  spd_route_entry_t end = spd_route_entry(key, 0xFFFF0000, spd_route_core(1));
  assert_int_equal(spd_emu_load_routes(emu, 2, 2, &mid, 1), 0);
  assert_int_equal(spd_emu_load_routes(emu, 3, 3, &end, 1), 0);
  /* The receiver takes packets in the FIQ (75 cycles, 375 ns each at the
   * calibrated costs): queued (75 + 80 cycles) it, not the link, would be
   * the bottleneck of the paced case. */
  spd_test_kparams_t r = {.expected = (uint32_t)senders * n,
                          .deadline_us = period_us * n / per_tick + 3000, .period_us = 100,
                          .priority = -1};
  assert_int_equal(spd_test_place(emu, 3, 3, 1, "test_receiver", r, NULL), 0);
  assert_int_equal(spd_emu_start(emu), 0);
  assert_int_equal(spd_emu_run(emu, 10000000000000ull), 0);
  spd_run_counters_t rc;
  spd_emu_run_counters(emu, &rc);
  spd_chip_counters_t c;
  assert_int_equal(spd_emu_chip_counters(emu, 2, 2, &c), 0);
  uint64_t link_drops = 0;
  for (int i = 0; i < 5; i++) {
    int nx, ny;
    spd_chip_counters_t cn;
    spd_machine_neighbour(m, 2, 2, (spd_link_t)spd_link_opposite(into[i]), &nx, &ny);
    spd_emu_chip_counters(emu, nx, ny, &cn);
    link_drops += cn.link_dropped[into[i]];
  }
  assert_int_equal(link_drops, rc.dropped_wait1);
  spd_emu_free(emu);
  spd_machine_free(m);
  return rc;
}

static void link_overrun_drops_after_wait1(void **state) {
  (void)state;
  spd_run_counters_t rc = link_convergence(1, 4, 0);
  assert_int_equal(rc.packets_sent, 16 * 64);
  assert_true(rc.dropped_wait1 > 0);
  assert_int_equal(rc.packets_delivered + rc.packets_dropped, rc.packets_sent);
}

static void link_traffic_paced_below_its_rate_drops_nothing(void **state) {
  (void)state;
  /* 16 senders x 1 packet / 8 us = 2 M pkt/s < 3 M pkt/s, in staggered
   * phases (0.5 us apart): pacing means rate and spread, not just rate. */
  spd_run_counters_t rc = link_convergence(8, 1, 100);
  assert_int_equal(rc.packets_sent, 16 * 64);
  assert_int_equal(rc.packets_dropped, 0);
  assert_int_equal(rc.packets_delivered, 16 * 64);
}

/* A receiver queueing its packet callback at priority 1 with far too much
 * work per packet loses packets to the full queue (spin1's task_queue_full);
 * a core with no packet callback discards them. Both are counted. */
static void core_side_losses_are_counted(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m;
  spd_emu_t *emu = new_emu(&ctx, "spinn3", &m);
  spd_route_entry_t e = spd_route_entry(0x40, 0xFFFFFFC0, spd_route_core(2) | spd_route_core(3));
  assert_int_equal(spd_emu_load_routes(emu, 0, 0, &e, 1), 0);
  spd_test_kparams_t s = {.n_packets = 100, .key = 0x40, .period_us = 1, .per_tick = 1};
  assert_int_equal(spd_test_place(emu, 0, 0, 1, "test_sender", s, NULL), 0);
  spd_test_kparams_t r = {.expected = 100, .deadline_us = 5000, .period_us = 100,
                          .per_packet_cycles = 4000, .priority = 1};
  uint32_t res;
  assert_int_equal(spd_test_place(emu, 0, 0, 2, "test_receiver", r, &res), 0);
  /* A sender whose only callback is its timer: packets to it are discarded. */
  spd_test_kparams_t deaf = {.n_packets = 1, .key = 0x1000, .period_us = 400, .per_tick = 1};
  assert_int_equal(spd_test_place(emu, 0, 0, 3, "test_sender", deaf, NULL), 0);
  assert_int_equal(spd_emu_start(emu), 0);
  assert_int_equal(spd_emu_run(emu, 1000000000000ull), 0);
  spd_core_counters_t c2, c3;
  assert_int_equal(spd_emu_core_counters(emu, 0, 0, 2, &c2), 0);
  assert_int_equal(spd_emu_core_counters(emu, 0, 0, 3, &c3), 0);
  assert_true(c2.packets_queue_full > 50);
  assert_int_equal(c2.packets_received, 100);
  assert_int_equal(c2.packets_queue_full + spd_test_result(emu, 0, 0, res).count, 100);
  assert_int_equal(c3.discarded_no_callback, 100);
  spd_run_counters_t rc;
  spd_emu_run_counters(emu, &rc);
  assert_int_equal(rc.dropped_no_callback, 100);
  assert_int_equal(rc.dropped_task_queue_full, c2.packets_queue_full);
  assert_int_equal(rc.dropped_wait1, 0);
  spd_emu_free(emu);
  spd_machine_free(m);
}

/* Deferred callbacks run lowest priority number first once main is done; the
 * TX queue takes 16 packets and refuses the 17th. The exit code reports. */
typedef struct order {
  uint32_t seen;
} order_t;

static void deferred(spd_core_t *core, uint32_t tag, uint32_t unused) {
  (void)unused;
  order_t *o = spd_core_get_state(core);
  o->seen = o->seen * 10 + tag;
  if (o->seen != 13)
    return;
  int ok = spd_core_tx_free(core) == 16;
  for (uint32_t i = 0; i < 16; i++)
    ok = ok && spd_core_send_mc(core, 0x77, i, true) == 0;
  ok = ok && spd_core_tx_free(core) == 0 && spd_core_send_mc(core, 0x77, 16, true) == SPD_EQUEUE;
  spd_core_exit(core, ok ? 13 : 99);
}

static int deferring_main(spd_core_t *core, uint32_t unused) {
  (void)unused;
  order_t *o = spd_core_dtcm_alloc(core, sizeof *o);
  spd_core_set_state(core, o);
  if (spd_core_schedule_callback(core, deferred, 1, 0, 0) != SPD_EINVAL)
    return SPD_EINVAL;
  spd_core_schedule_callback(core, deferred, 3, 0, 3);
  return spd_core_schedule_callback(core, deferred, 1, 0, 1);
}

static const spd_kernel_t deferring = {"deferring", deferring_main};

static void scheduled_callbacks_and_tx_queue_bounds(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m;
  spd_emu_t *emu = new_emu(&ctx, "spinn3", &m);
  assert_int_equal(spd_emu_register_kernel(emu, &deferring), 0);
  assert_int_equal(spd_emu_load_kernel(emu, 1, 1, 9, "deferring", 0), 0);
  assert_int_equal(spd_emu_start(emu), 0);
  assert_int_equal(spd_emu_run(emu, 1000000000000ull), 0);
  spd_core_status_t st;
  assert_int_equal(spd_emu_core_status(emu, 1, 1, 9, &st), 0);
  assert_int_equal(st.state, SPD_CORE_EXITED);
  assert_int_equal(st.exit_code, 13);
  spd_core_counters_t cc;
  assert_int_equal(spd_emu_core_counters(emu, 1, 1, 9, &cc), 0);
  assert_int_equal(cc.tx_queue_full, 1);
  spd_run_counters_t rc;
  spd_emu_run_counters(emu, &rc);
  assert_int_equal(rc.dropped_unmatched, 16); /* the queue still drained */
  spd_emu_free(emu);
  spd_machine_free(m);
}

/* Kernels that ask for more memory than exists; the parameter word is the
 * number of bytes asked for. */
static int greedy_dtcm_main(spd_core_t *core, uint32_t bytes) {
  void *small = spd_core_dtcm_alloc(core, 1000);
  if (!small || spd_core_dtcm_alloc(core, bytes))
    return SPD_EINVAL;
  return SPD_EDTCM;
}

static int greedy_sdram_main(spd_core_t *core, uint32_t bytes) {
  uint32_t addr;
  return spd_core_sdram_alloc(core, bytes, &addr);
}

static const spd_kernel_t greedy_dtcm = {"greedy_dtcm", greedy_dtcm_main};
static const spd_kernel_t greedy_sdram = {"greedy_sdram", greedy_sdram_main};

static void memory_over_budget_names_who_asked_for_how_much(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m;
  spd_emu_t *emu = new_emu(&ctx, "spinn3", &m);
  assert_int_equal(spd_emu_register_kernel(emu, &greedy_dtcm), 0);
  assert_int_equal(spd_emu_register_kernel(emu, &greedy_sdram), 0);

  assert_int_equal(spd_emu_load_kernel(emu, 1, 0, 3, "greedy_dtcm", 65536), 0);
  assert_int_equal(spd_emu_start(emu), 0);
  assert_int_equal(spd_emu_run(emu, 1000000000000ull), SPD_EKERNEL);
  /* 64 KB less the 2 KB of spin1 stacks less the 1000 (1000 rounded to 8). */
  assert_string_equal(spd_ctx_message(&ctx),
                      "core (1,0,3) kernel greedy_dtcm asked for 65536 bytes of DTCM, 62488 free");
  spd_core_status_t st;
  assert_int_equal(spd_emu_core_status(emu, 1, 0, 3, &st), 0);
  assert_int_equal(st.state, SPD_CORE_ERROR);
  assert_int_equal(st.exit_code, SPD_EDTCM);

  uint32_t addr;
  assert_int_equal(spd_emu_sdram_alloc(emu, 0, 1, 100u << 20, &addr), 0);
  assert_int_equal(spd_emu_load_kernel(emu, 0, 1, 2, "greedy_sdram", 40u << 20), 0);
  assert_int_equal(spd_emu_start(emu), 0);
  assert_int_equal(spd_emu_run(emu, 2000000000000ull), SPD_EKERNEL);
  assert_string_equal(spd_ctx_message(&ctx), "core (0,1,2) kernel greedy_sdram asked for "
                                             "41943040 bytes of SDRAM, 29360128 free on chip "
                                             "(0,1)");
  assert_int_equal(spd_emu_sdram_alloc(emu, 1, 1, SPD_SDRAM_BYTES + 1u, &addr), SPD_ESDRAM);
  assert_string_equal(spd_ctx_message(&ctx),
                      "host asked chip (1,1) for 134217729 bytes of SDRAM, 134217728 free");
  spd_emu_free(emu);
  spd_machine_free(m);
}

/* A mixed scenario (routing, congestion drops, DMA, timers) for the
 * determinism and allocation-failure tests. */
static int scenario(spd_ctx_t *ctx, spd_run_counters_t *out, spd_chip_counters_t *chip) {
  spd_machine_t *m = NULL;
  spd_emu_t *emu = NULL;
  int rc = spd_machine_new(ctx, "spinn3", &m);
  if (!rc)
    rc = spd_emu_new(ctx, m, &emu);
  if (!rc)
    rc = spd_test_register_kernels(emu);
  spd_route_entry_t a = spd_route_entry(0x100, 0xFFFFFF00, spd_route_link(SPD_LINK_E));
  spd_route_entry_t b = spd_route_entry(0x100, 0xFFFFFF00, spd_route_core(2) | spd_route_core(3));
  if (!rc)
    rc = spd_emu_load_routes(emu, 0, 0, &a, 1);
  if (!rc)
    rc = spd_emu_load_routes(emu, 1, 0, &b, 1);
  for (int p = 1; p <= 3 && !rc; p++) {
    spd_test_kparams_t s = {.n_packets = 40, .key = 0x100, .key_span = 7, .period_us = 2,
                            .per_tick = (uint32_t)p, .with_payload = (uint32_t)(p & 1)};
    rc = spd_test_place(emu, 0, 0, p, "test_sender", s, NULL);
  }
  spd_test_kparams_t r = {.expected = 120, .deadline_us = 400, .period_us = 20,
                          .per_packet_cycles = 300, .priority = 0};
  if (!rc)
    rc = spd_test_place(emu, 1, 0, 2, "test_receiver", r, NULL);
  r.priority = 2;
  r.per_packet_cycles = 100;
  if (!rc)
    rc = spd_test_place(emu, 1, 0, 3, "test_receiver", r, NULL);
  uint32_t data;
  if (!rc)
    rc = spd_emu_sdram_alloc(emu, 1, 1, 4096, &data);
  spd_test_kparams_t d = {.n_packets = 1024, .key = data};
  if (!rc)
    rc = spd_test_place(emu, 1, 1, 5, "test_dma", d, NULL);
  if (!rc)
    rc = spd_emu_start(emu);
  if (!rc)
    rc = spd_emu_run(emu, 1000000000000ull);
  if (!rc) {
    spd_emu_run_counters(emu, out);
    rc = spd_emu_chip_counters(emu, 1, 0, chip);
  }
  spd_emu_free(emu);
  spd_machine_free(m);
  return rc;
}

static void same_scenario_gives_identical_counters(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_run_counters_t a, b;
  spd_chip_counters_t ca, cb;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  memset(&ca, 0, sizeof ca);
  memset(&cb, 0, sizeof cb);
  assert_int_equal(scenario(&ctx, &a, &ca), 0);
  assert_int_equal(scenario(&ctx, &b, &cb), 0);
  assert_memory_equal(&a, &b, sizeof a);
  assert_memory_equal(&ca, &cb, sizeof ca);
  assert_true(a.events > 100);
  assert_true(a.packets_sent == 120);
  assert_true(a.dropped_wait1 > 0); /* the scenario does exercise drops */
}

static void failing_any_allocation_never_crashes_or_leaks(void **state) {
  (void)state;
  for (uint64_t n = 1;; n++) {
    spd_ctx_t ctx;
    spd_ctx_init(&ctx);
    ctx.log = NULL;
    spd_test_alloc_t ta;
    spd_test_alloc_install(&ctx, &ta, n);
    spd_run_counters_t rc;
    spd_chip_counters_t cc;
    int r = scenario(&ctx, &rc, &cc);
    assert_int_equal(ta.live, 0);
    if (!ta.failed) {
      assert_int_equal(r, 0);
      break;
    }
    assert_int_equal(r, SPD_ENOMEM);
    assert_true(n < 100000);
  }
}

static void idle_second_costs_idle_power_of_every_chip(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m;
  spd_emu_t *emu = new_emu(&ctx, "spinn5", &m);
  assert_int_equal(spd_emu_advance(emu, 1000000000000ull), 0);
  spd_run_counters_t rc;
  spd_emu_run_counters(emu, &rc);
  assert_int_equal(rc.sim_time_ps, 1000000000000ull);
  assert_int_equal(rc.chips, 48);
  assert_float_equal(rc.energy_joules, 48 * 0.35, 1e-9);
  assert_int_equal(rc.busy_cycles, 0);
  /* Nothing loaded: a run is over at once. */
  assert_int_equal(spd_emu_run(emu, 2000000000000ull), 0);
  spd_emu_free(emu);
  spd_machine_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(receiver_overrun_drops_after_wait1),
      cmocka_unit_test(paced_traffic_to_the_same_receiver_drops_nothing),
      cmocka_unit_test(link_overrun_drops_after_wait1),
      cmocka_unit_test(link_traffic_paced_below_its_rate_drops_nothing),
      cmocka_unit_test(core_side_losses_are_counted),
      cmocka_unit_test(scheduled_callbacks_and_tx_queue_bounds),
      cmocka_unit_test(memory_over_budget_names_who_asked_for_how_much),
      cmocka_unit_test(same_scenario_gives_identical_counters),
      cmocka_unit_test(failing_any_allocation_never_crashes_or_leaks),
      cmocka_unit_test(idle_second_costs_idle_power_of_every_chip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
