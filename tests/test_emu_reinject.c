/* The monitors' reinjection and fault injection (emu/emu_monitor.c): a
 * dropped packet comes back through the dump registers, a second drop
 * while they are full is lost, every copy is accounted for, and the
 * injected drops repeat with their seed; a killed core (spd_emu_kill_core)
 * dies and stays dead. */
#include "test_support.h"

#include <string.h>

#include "emu_kernels.h"
#include "spindle/emu.h"
#include "spindle/machine.h"

typedef struct scenario {
  bool reinject;
  double drop_p;
  uint32_t period_us, per_tick, receiver_cycles;
  uint32_t got[2];            /* what each receiver counted */
  spd_run_counters_t rc;
} scenario_t;

/* Four senders on (0,0) multicast @p n packets each to core 1 of (1,1)
 * (through link NE) and core 2 of (0,0); the far receiver spends
 * receiver_cycles per packet inside its interrupt. */
static void run(scenario_t *s, uint32_t n) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m;
  spd_emu_t *emu = NULL;
  assert_int_equal(spd_machine_new(&ctx, "spinn5", &m), 0);
  assert_int_equal(spd_emu_new(&ctx, m, &emu), 0);
  assert_int_equal(spd_test_register_kernels(emu), 0);
  spd_emu_set_reinjection(emu, s->reinject);
  assert_int_equal(spd_emu_inject_drops(emu, s->drop_p, 7), 0);
  const uint32_t key = 0x40000;
  spd_route_entry_t a =
      spd_route_entry(key, 0xFFFF0000, spd_route_link(SPD_LINK_NE) | spd_route_core(2));
  spd_route_entry_t b = spd_route_entry(key, 0xFFFF0000, spd_route_core(1));
  assert_int_equal(spd_emu_load_routes(emu, 0, 0, &a, 1), 0);
  assert_int_equal(spd_emu_load_routes(emu, 1, 1, &b, 1), 0);
  for (int p = 3; p <= 6; p++) {
    spd_test_kparams_t k = {.n_packets = n, .key = key, .key_span = 1u << 15,
                            .with_payload = 1, .period_us = s->period_us,
                            .per_tick = s->per_tick, .start_delay_cycles = (uint32_t)p * 97u};
    assert_int_equal(spd_test_place(emu, 0, 0, p, "test_sender", k, NULL), 0);
  }
  /* Receivers count every copy (duplicates too) until their deadline. */
  uint32_t res[2];
  spd_test_kparams_t r = {.expected = UINT32_MAX, .deadline_us = s->period_us * n + 3000,
                          .period_us = 50, .per_packet_cycles = s->receiver_cycles};
  assert_int_equal(spd_test_place(emu, 1, 1, 1, "test_receiver", r, &res[0]), 0);
  r.per_packet_cycles = 0;
  assert_int_equal(spd_test_place(emu, 0, 0, 2, "test_receiver", r, &res[1]), 0);
  assert_int_equal(spd_emu_start(emu), 0);
  assert_int_equal(spd_emu_run(emu, 10000000000000ull), 0);
  s->got[0] = spd_test_result(emu, 1, 1, res[0]).count;
  s->got[1] = spd_test_result(emu, 0, 0, res[1]).count;
  spd_emu_run_counters(emu, &s->rc);
  spd_emu_free(emu);
  spd_machine_free(m);
}

/* Every copy of every packet is delivered at least once or lost, and
 * nothing is delivered that was not sent or sent again. */
static void expect_conservation(const scenario_t *s, uint32_t sent) {
  assert_int_equal(s->rc.packets_sent, sent);
  uint64_t copies = 2u * (uint64_t)sent;
  assert_true(s->got[0] + s->got[1] + s->rc.packets_lost >= copies);
  assert_int_equal(s->rc.packets_delivered, s->got[0] + s->got[1]);
}

static void injected_drops_come_back_and_duplicate_the_other_output(void **state) {
  (void)state;
  scenario_t s = {.reinject = true, .drop_p = 0.05, .period_us = 20, .per_tick = 1};
  run(&s, 100);
  expect_conservation(&s, 400);
  assert_true(s.rc.dropped_injected > 5);
  assert_int_equal(s.rc.packets_dropped, s.rc.dropped_injected);
  assert_int_equal(s.rc.packets_lost, 0);
  assert_int_equal(s.rc.packets_reinjected, s.rc.dropped_injected);
  /* A packet re-sent on (0,0) goes to both outputs again: the output that
   * had its copy counts it twice (one re-sent on (1,1) has one output). */
  assert_true(s.got[0] + s.got[1] > 800);
  assert_true(s.got[0] + s.got[1] <= 800 + s.rc.packets_reinjected);
  assert_true(s.got[0] >= 400 && s.got[1] >= 400);
}

static void without_reinjection_a_drop_is_lost(void **state) {
  (void)state;
  scenario_t s = {.reinject = false, .drop_p = 0.05, .period_us = 20, .per_tick = 1};
  run(&s, 100);
  expect_conservation(&s, 400);
  assert_true(s.rc.dropped_injected > 5);
  assert_int_equal(s.rc.packets_reinjected, 0);
  assert_int_equal(s.rc.packets_lost, s.rc.dropped_injected);
  assert_int_equal(s.got[0] + s.got[1], 800 - s.rc.packets_lost);
}

static void injected_drops_repeat_with_their_seed(void **state) {
  (void)state;
  scenario_t a = {.reinject = true, .drop_p = 0.05, .period_us = 20, .per_tick = 1};
  scenario_t b = a;
  run(&a, 100);
  run(&b, 100);
  assert_memory_equal(&a.rc, &b.rc, sizeof a.rc);
  assert_memory_equal(a.got, b.got, sizeof a.got);
}

/* A receiver slower than the traffic makes the router drop at wait1; the
 * monitor takes each drop back before the next, and every packet arrives. */
static void wait1_drops_come_back(void **state) {
  (void)state;
  scenario_t s = {.reinject = true, .period_us = 2, .per_tick = 4, .receiver_cycles = 1500};
  run(&s, 60);
  expect_conservation(&s, 240);
  assert_true(s.rc.dropped_wait1 > 0);
  assert_true(s.rc.packets_reinjected > 0);
  assert_int_equal(s.rc.packets_lost, 0);
  assert_int_equal(s.rc.dropped_injected, 0);
  assert_true(s.got[0] >= 240 && s.got[1] >= 240);
}

/* Drops closer together than the monitor's FIQ: the dump registers hold
 * one packet at a time, so the second is lost. */
static void drops_while_the_dump_registers_are_full_are_lost(void **state) {
  (void)state;
  scenario_t s = {.reinject = true, .drop_p = 0.4, .period_us = 1, .per_tick = 4};
  run(&s, 60);
  expect_conservation(&s, 240);
  assert_true(s.rc.packets_reinjected > 0);
  assert_true(s.rc.packets_lost > 0);
  assert_true(s.rc.packets_lost < s.rc.dropped_injected);
}

static void bad_probabilities_are_refused(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m;
  spd_emu_t *emu = NULL;
  assert_int_equal(spd_machine_new(&ctx, "spinn3", &m), 0);
  assert_int_equal(spd_emu_new(&ctx, m, &emu), 0);
  assert_int_equal(spd_emu_inject_drops(emu, -0.1, 1), SPD_EINVAL);
  assert_int_equal(spd_emu_inject_drops(emu, 1.5, 1), SPD_EINVAL);
  assert_non_null(strstr(spd_ctx_message(&ctx), "drop probability"));
  assert_int_equal(spd_emu_inject_drops(emu, 0.0 / 0.0, 1), SPD_EINVAL);
  spd_emu_free(emu);
  spd_machine_free(m);
}

/* A killed core dies after the samples it was given, takes no packet
 * after (they drop and are lost, not reinjected), reports itself dead,
 * stays dead through a stop and refuses kernels. */
static void a_killed_core_dies_after_its_samples_and_stays_dead(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m;
  spd_emu_t *emu = NULL;
  assert_int_equal(spd_machine_new(&ctx, "spinn5", &m), 0);
  assert_int_equal(spd_emu_new(&ctx, m, &emu), 0);
  assert_int_equal(spd_test_register_kernels(emu), 0);
  spd_emu_set_reinjection(emu, true);
  const uint32_t key = 0x40000;
  spd_route_entry_t e = spd_route_entry(key, 0xFFFF0000, spd_route_core(2));
  assert_int_equal(spd_emu_load_routes(emu, 0, 0, &e, 1), 0);
  spd_test_kparams_t k = {.n_packets = 50, .key = key, .key_span = 1, .period_us = 20,
                          .per_tick = 1};
  assert_int_equal(spd_test_place(emu, 0, 0, 1, "test_sender", k, NULL), 0);
  spd_test_kparams_t r = {.expected = 50, .deadline_us = 5000, .period_us = 50};
  assert_int_equal(spd_test_place(emu, 0, 0, 2, "test_receiver", r, NULL), 0);
  assert_int_equal(spd_emu_kill_core(emu, 0, 0, 2, 10), 0);
  assert_int_equal(spd_emu_start(emu), 0);
  spd_emu_run(emu, 20000000000ull); /* the dead receiver never exits */
  spd_core_status_t st;
  spd_core_counters_t cc;
  assert_int_equal(spd_emu_core_status(emu, 0, 0, 2, &st), 0);
  assert_int_equal(st.state, SPD_CORE_DEAD);
  assert_string_equal(spd_core_state_name(st.state), "dead");
  assert_int_equal(spd_emu_core_counters(emu, 0, 0, 2, &cc), 0);
  assert_int_equal(cc.samples_done, 10);
  assert_int_equal(cc.packets_received, 10);
  spd_run_counters_t rc;
  spd_emu_run_counters(emu, &rc);
  assert_int_equal(rc.dropped_core_stopped, 40);
  assert_int_equal(rc.packets_lost, 40);
  assert_int_equal(rc.packets_reinjected, 0);
  spd_emu_stop(emu);
  assert_int_equal(spd_emu_core_status(emu, 0, 0, 2, &st), 0);
  assert_int_equal(st.state, SPD_CORE_DEAD);
  assert_int_equal(spd_test_place(emu, 0, 0, 2, "test_receiver", r, NULL), SPD_ESTATE);
  assert_int_equal(spd_emu_core_status(emu, 0, 0, 1, &st), 0);
  assert_int_equal(st.state, SPD_CORE_EXITED); /* the sender had finished */
  /* Only application cores of the machine can be killed. */
  assert_int_equal(spd_emu_kill_core(emu, 0, 0, 0, 1), SPD_EINVAL);
  assert_int_equal(spd_emu_kill_core(emu, 0, 0, 18, 1), SPD_EINVAL);
  assert_int_equal(spd_emu_kill_core(emu, 99, 0, 1, 1), SPD_EINVAL);
  spd_emu_free(emu);
  spd_machine_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(injected_drops_come_back_and_duplicate_the_other_output),
      cmocka_unit_test(without_reinjection_a_drop_is_lost),
      cmocka_unit_test(injected_drops_repeat_with_their_seed),
      cmocka_unit_test(wait1_drops_come_back),
      cmocka_unit_test(drops_while_the_dump_registers_are_full_are_lost),
      cmocka_unit_test(bad_probabilities_are_refused),
      cmocka_unit_test(a_killed_core_dies_after_its_samples_and_stays_dead),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
