/* Timing of the emulated hardware against hand-computed cases: the comms
 * controller's single packet slot, link occupancy, shared SDRAM bandwidth. */
#include "test_support.h"

#include <string.h>

#include "emu_kernels.h"
#include "machine/cost_table.h"
#include "spindle/emu.h"
#include "spindle/machine.h"

#define US 1000000ull /* picoseconds */

static spd_emu_t *new_emu(spd_ctx_t *ctx, spd_machine_t **m) {
  spd_emu_t *emu = NULL;
  assert_int_equal(spd_machine_new(ctx, "spinn5", m), 0);
  assert_int_equal(spd_emu_new(ctx, *m, &emu), 0);
  assert_int_equal(spd_test_register_kernels(emu), 0);
  return emu;
}

/* Three packets sent at once to a core whose priority-0 callback takes
 * 5 us: the first is taken, the second waits in the comms controller, the
 * third blocks the router and is dropped after wait1 (1.8 us). */
static void comms_controller_holds_one_packet(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m;
  spd_emu_t *emu = new_emu(&ctx, &m);
  spd_route_entry_t e = spd_route_entry(0x500, 0xFFFFFF00, spd_route_core(2));
  assert_int_equal(spd_emu_load_routes(emu, 0, 0, &e, 1), 0);
  spd_test_kparams_t s = {.n_packets = 3, .key = 0x500, .period_us = 1, .per_tick = 3};
  spd_test_kparams_t r = {.expected = 3, .deadline_us = 100, .period_us = 50,
                          .per_packet_cycles = 1000, .priority = 0};
  uint32_t res;
  assert_int_equal(spd_test_place(emu, 0, 0, 1, "test_sender", s, NULL), 0);
  assert_int_equal(spd_test_place(emu, 0, 0, 2, "test_receiver", r, &res), 0);
  assert_int_equal(spd_emu_start(emu), 0);
  assert_int_equal(spd_emu_run(emu, 1000 * US), 0);
  assert_int_equal(spd_test_result(emu, 0, 0, res).count, 2);
  spd_chip_counters_t c;
  assert_int_equal(spd_emu_chip_counters(emu, 0, 0, &c), 0);
  assert_int_equal(c.dropped_wait1, 1);
  assert_int_equal(c.delivered, 2);
  spd_emu_free(emu);
  spd_machine_free(m);
}

/* 16 packets with payload sent in one go to a neighbour: the link carries
 * one per 333 ns, so the last arrives 16 x 333 ns after the first left. */
static void link_carries_three_million_72_bit_packets_per_second(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m;
  spd_emu_t *emu = new_emu(&ctx, &m);
  spd_route_entry_t a = spd_route_entry(0x600, 0xFFFFFF00, spd_route_link(SPD_LINK_N));
  spd_route_entry_t b = spd_route_entry(0x600, 0xFFFFFF00, spd_route_core(1));
  assert_int_equal(spd_emu_load_routes(emu, 2, 2, &a, 1), 0);
  assert_int_equal(spd_emu_load_routes(emu, 2, 3, &b, 1), 0);
  spd_test_kparams_t s = {.n_packets = 16, .key = 0x600, .with_payload = 1, .period_us = 10,
                          .per_tick = 16};
  spd_test_kparams_t r = {.expected = 16, .deadline_us = 1000, .period_us = 500,
                          .priority = 1};
  uint32_t res;
  assert_int_equal(spd_test_place(emu, 2, 2, 1, "test_sender", s, NULL), 0);
  assert_int_equal(spd_test_place(emu, 2, 3, 1, "test_receiver", r, &res), 0);
  assert_int_equal(spd_emu_start(emu), 0);
  assert_int_equal(spd_emu_run(emu, 1000 * US), 0);
  spd_run_counters_t rc;
  spd_emu_run_counters(emu, &rc);
  assert_int_equal(spd_test_result(emu, 2, 3, res).count, 16);
  assert_int_equal(rc.packets_dropped, 0);
  /* The tick comes 10 us after main (main reads 12 parameter words from
   * SDRAM: 1.2 us); then 16 link slots of 333.333 ns; then a few hundred
   * ns of router cycles, interrupt and callback. */
  uint64_t first_send = 10 * US + 1200000ull;
  uint64_t link_done = first_send + 16ull * 333333ull;
  assert_true(rc.sim_time_ps >= link_done);
  /* At the calibrated costs the receiver (its interrupt and queued
   * callback, 75 + 80 cycles: 775 ns a packet) is slower than the link's
   * 333 ns, so the run ends by the receiver: 16 packets at the slower. */
  uint64_t core_ps = (SPD_COST_EVENT_DISPATCH + SPD_COST_TASK_DISPATCH) * 5000ull;
  uint64_t per_packet = core_ps > 333333ull ? core_ps : 333333ull;
  assert_true(rc.sim_time_ps < first_send + 16ull * per_packet + 2 * US);
  spd_emu_free(emu);
  spd_machine_free(m);
}

/* One core's DMA runs at 15 ns per word; 16 cores of one chip share the
 * chip's 1 GB/s (4 ns per word), so together they take 16 x 4 / 15 = 4.3
 * times longer than one alone. */
static uint64_t dma_run(int cores) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m;
  spd_emu_t *emu = new_emu(&ctx, &m);
  enum { WORDS = 8000 };
  for (int p = 1; p <= cores; p++) {
    uint32_t data;
    assert_int_equal(spd_emu_sdram_alloc(emu, 3, 3, 4 * WORDS, &data), 0);
    spd_test_kparams_t d = {.n_packets = WORDS, .key = data};
    assert_int_equal(spd_test_place(emu, 3, 3, p, "test_dma", d, NULL), 0);
  }
  assert_int_equal(spd_emu_start(emu), 0);
  assert_int_equal(spd_emu_run(emu, 100000 * US), 0);
  uint64_t t = spd_emu_now_ps(emu);
  spd_emu_free(emu);
  spd_machine_free(m);
  return t;
}

static void chip_sdram_bandwidth_is_shared(void **state) {
  (void)state;
  uint64_t one = dma_run(1), sixteen = dma_run(16);
  /* One core: read + write at 15 ns/word + 2 cycles/word of work. */
  uint64_t alone = 2ull * 8000 * 15000 + 8000ull * 2 * 5000;
  assert_true(one >= alone && one < alone + 10 * US);
  /* Sixteen: the chip serves 2 x 16 x 8000 words at 4 ns each. */
  uint64_t shared = 2ull * 16 * 8000 * 4000;
  assert_true(sixteen >= shared);
  assert_true(sixteen > 3 * one);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(comms_controller_holds_one_packet),
      cmocka_unit_test(link_carries_three_million_72_bit_packets_per_second),
      cmocka_unit_test(chip_sdram_bandwidth_is_shared),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
