/* The transceiver over the emulator: the host writes data, a kernel DMAs it
 * into DTCM, changes it and DMAs it back, the host reads it; status,
 * provenance and errors through the same door. */
#include "test_support.h"

#include <string.h>

#include "emu_kernels.h"
#include "spindle/transceiver.h"

static void host_data_round_trips_through_dma(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m;
  assert_int_equal(spd_machine_new(&ctx, "spinn5", &m), 0);
  spd_transceiver_t *tx;
  assert_int_equal(spd_transceiver_new_emulated(&ctx, m, &tx), 0);
  assert_int_equal(spd_test_register_kernels(spd_transceiver_emulator(tx)), 0);

  enum { N = 12000 }; /* 48 KB of DTCM, placed to span two 64 KB SDRAM pages */
  static uint32_t words[N], back[N];
  for (uint32_t i = 0; i < N; i++)
    words[i] = i * 2654435761u;
  uint32_t data, params, pad;
  assert_int_equal(spd_tx_sdram_alloc(tx, 4, 5, 40000, &pad), 0);
  assert_int_equal(spd_tx_sdram_alloc(tx, 4, 5, sizeof words, &data), 0);
  assert_int_equal(spd_tx_write_sdram(tx, 4, 5, data, words, sizeof words), 0);
  spd_test_kparams_t p = {.n_packets = N, .key = data};
  assert_int_equal(spd_tx_sdram_alloc(tx, 4, 5, sizeof p + sizeof(spd_test_kresult_t), &params),
                   0);
  p.result_addr = params + sizeof p;
  assert_int_equal(spd_tx_write_sdram(tx, 4, 5, params, &p, sizeof p), 0);
  assert_int_equal(spd_tx_load_kernel(tx, 4, 5, 7, "test_dma", params), 0);
  spd_core_status_t st;
  assert_int_equal(spd_tx_core_status(tx, 4, 5, 7, &st), 0);
  assert_int_equal(st.state, SPD_CORE_LOADED);
  assert_int_equal(spd_tx_start(tx), 0);
  assert_int_equal(spd_tx_wait(tx, 1000000000000ull), 0);

  assert_int_equal(spd_tx_read_sdram(tx, 4, 5, data, back, sizeof back), 0);
  for (uint32_t i = 0; i < N; i++)
    assert_int_equal(back[i], words[i] + 1);
  assert_int_equal(spd_tx_core_status(tx, 4, 5, 7, &st), 0);
  assert_int_equal(st.state, SPD_CORE_EXITED);
  assert_int_equal(st.exit_code, 0);

  spd_core_counters_t cc;
  assert_int_equal(spd_tx_core_counters(tx, 4, 5, 7, &cc), 0);
  assert_int_equal(cc.dma_transfers, 2);
  assert_int_equal(cc.dma_bytes, 2 * sizeof words);
  spd_run_counters_t rc;
  assert_int_equal(spd_tx_run_counters(tx, &rc), 0);
  /* Two 48 KB transfers at 15 ns per word plus the kernel's 2 cycles (10 ns)
   * per word, plus small fixed costs. */
  uint64_t expect = 2ull * N * 15000u + 2ull * N * 5000u;
  assert_true(rc.sim_time_ps >= expect);
  assert_true(rc.sim_time_ps < expect + 5000000u);

  /* The core is free again: it can be reloaded and rerun. */
  assert_int_equal(spd_tx_load_kernel(tx, 4, 5, 7, "test_dma", params), 0);
  assert_int_equal(spd_tx_start(tx), 0);
  assert_int_equal(spd_tx_wait(tx, 1000000000000ull), 0);
  assert_int_equal(spd_tx_read_sdram(tx, 4, 5, data, back, sizeof back), 0);
  assert_int_equal(back[17], words[17] + 2);

  spd_transceiver_free(tx);
  spd_machine_free(m);
}

static void errors_come_through_the_same_door(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m;
  assert_int_equal(spd_machine_new(&ctx, "spinn3", &m), 0);
  spd_transceiver_t *tx;
  assert_int_equal(spd_transceiver_new_emulated(&ctx, m, &tx), 0);
  assert_non_null(spd_transceiver_emulator(tx));
  uint32_t word = 7, addr;
  assert_int_equal(spd_tx_write_sdram(tx, 5, 5, 0x60000000u, &word, 4), SPD_EINVAL);
  assert_non_null(strstr(spd_ctx_message(&ctx), "(5,5)"));
  assert_int_equal(spd_tx_write_sdram(tx, 0, 0, 0x10000000u, &word, 4), SPD_EINVAL);
  assert_int_equal(spd_tx_write_sdram(tx, 0, 0, 0x60000000u + SPD_SDRAM_BYTES - 2, &word, 4),
                   SPD_EINVAL);
  assert_int_equal(spd_tx_sdram_alloc(tx, 1, 1, 16, &addr), 0);
  assert_int_equal(spd_tx_load_kernel(tx, 1, 1, 3, "nothing_by_that_name", addr), SPD_ENOTFOUND);
  /* Starting with nothing loaded finishes at once; a run with a core that
   * never exits times out. */
  assert_int_equal(spd_tx_start(tx), 0);
  assert_int_equal(spd_tx_wait(tx, 1000), 0);
  spd_test_register_kernels(spd_transceiver_emulator(tx));
  spd_test_kparams_t p = {.expected = 1, .deadline_us = 1u << 30, .period_us = 100};
  uint32_t params;
  assert_int_equal(spd_tx_sdram_alloc(tx, 1, 1, sizeof p + 16, &params), 0);
  p.result_addr = params + sizeof p;
  assert_int_equal(spd_tx_write_sdram(tx, 1, 1, params, &p, sizeof p), 0);
  assert_int_equal(spd_tx_load_kernel(tx, 1, 1, 3, "test_receiver", params), 0);
  assert_int_equal(spd_tx_start(tx), 0);
  assert_int_equal(spd_tx_wait(tx, 1000000000ull), SPD_ETIMEOUT);
  assert_non_null(strstr(spd_ctx_message(&ctx), "1 cores still running"));
  assert_int_equal(spd_tx_load_kernel(tx, 1, 1, 3, "test_receiver", params), SPD_ESTATE);
  spd_tx_stop(tx);
  spd_core_status_t st;
  assert_int_equal(spd_tx_core_status(tx, 1, 1, 3, &st), 0);
  assert_int_equal(st.state, SPD_CORE_EXITED);
  assert_int_equal(st.exit_code, SPD_ETIMEOUT);
  assert_int_equal(spd_tx_wait(tx, 1000), 0);
  spd_run_counters_t rc;
  assert_int_equal(spd_tx_run_counters(tx, &rc), 0);
  assert_int_equal(rc.sim_time_ps, 1000000000ull);
  assert_int_equal(rc.cores_loaded, 1);
  assert_int_equal(spd_tx_load_kernel(tx, 1, 1, 3, "test_receiver", params), 0);
  spd_transceiver_free(tx);
  spd_machine_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(host_data_round_trips_through_dma),
      cmocka_unit_test(errors_come_through_the_same_door),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
