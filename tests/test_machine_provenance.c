/* Provenance as on real boards (docs/provenance.md): every kernel writes
 * its counters into its SDRAM region and the host reads them back through
 * the transceiver. What the kernels counted equals what the emulator
 * counted for each core (packets in and out, callbacks, samples, resends),
 * the sums equal the run's totals, and a run whose core dies mid-way still
 * reads every live core's counters (written at its last timer tick) before
 * it recovers. */
#include <stdlib.h>
#include <string.h>

#include "spindle/keras.h"
#include "spindle/machine_run.h"
#include "support/test_machine_data.h"
#include "support/test_models.h"
#include "support/test_support.h"

#define MAX_ATTEMPTS 4

typedef struct seen {
  uint32_t attempts;
  uint32_t n[MAX_ATTEMPTS];
  spd_core_provenance_t *cores[MAX_ATTEMPTS];
  uint64_t emu_sent[MAX_ATTEMPTS]; /* the emulator's own per-core sends, summed */
  bool compare;                    /* each core against the emulator's counters */
} seen_t;

static void on_provenance(void *ud, spd_transceiver_t *tx, uint32_t attempt,
                          const spd_core_provenance_t *cores, uint32_t n) {
  seen_t *s = ud;
  assert_int_equal(attempt, s->attempts);
  assert_true(attempt < MAX_ATTEMPTS);
  s->n[attempt] = n;
  s->cores[attempt] = calloc(n, sizeof *cores);
  assert_non_null(s->cores[attempt]);
  memcpy(s->cores[attempt], cores, n * sizeof *cores);
  for (uint32_t i = 0; i < n; i++) {
    const spd_core_provenance_t *c = &cores[i];
    spd_core_counters_t cc;
    assert_int_equal(spd_tx_core_counters(tx, c->x, c->y, c->p, &cc), 0);
    s->emu_sent[attempt] += cc.packets_sent;
    if (!s->compare || !c->final)
      continue;
    /* The kernel's packet callback takes every packet the core receives
     * once it is registered; before that the emulator discards them. */
    assert_int_equal(c->packets_in, cc.packets_received - cc.discarded_no_callback);
    assert_int_equal(c->packets_out, cc.packets_sent);
    assert_int_equal(c->callbacks, cc.callbacks);
    assert_int_equal(c->samples_done, cc.samples_done);
    assert_int_equal(c->resent, cc.packets_resent);
  }
  s->attempts++;
}

static void seen_free(seen_t *s) {
  for (uint32_t a = 0; a < s->attempts; a++)
    free(s->cores[a]);
}

typedef struct run {
  spd_machine_stats_t st;
  int err;
} run_t;

/* examples/mlp.json trained 2 epochs of 12 samples on spinn5 in fixed
 * point (test_machine_recover.c's run), with drops injected and a core
 * killed as asked. */
static run_t train(seen_t *seen, double drops, const spd_core_kill_t *kill) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = NULL;
  if (spd_keras_json_load(&ctx, spd_test_source_path("examples/mlp.json"), 7, &m))
    fail_msg("mlp.json: %s", spd_ctx_message(&ctx));
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn5", NULL);
  spd_test_samples_t s;
  spd_test_samples_make(&s, 12, m->layers[0].output_shape, 10, true);
  spd_fit_config_t cfg;
  spd_fit_config_defaults(&cfg);
  cfg.epochs = 2;
  cfg.batch_size = 4;
  spd_machine_run_opts_t o = {.numeric = SPD_NUMERIC_FIXED, .inject_drops = drops,
                              .fault_seed = 3, .on_provenance = on_provenance,
                              .on_provenance_ud = seen};
  if (kill)
    o.kill = *kill;
  run_t out = {0};
  spd_history_t h = {0};
  out.err = spd_machine_fit(&ctx, m, mc, &o, &cfg, &s.d, &h, &out.st);
  if (out.err)
    fail_msg("%s", spd_ctx_message(&ctx));
  spd_history_free(&h);
  spd_test_samples_free(&s);
  spd_machine_free(mc);
  spd_model_free(m);
  return out;
}

static void expect_totals(const seen_t *seen, const run_t *r) {
  const spd_provenance_summary_t *t = &r->st.provenance;
  uint64_t in = 0, out = 0;
  for (uint32_t a = 0; a < seen->attempts; a++)
    for (uint32_t i = 0; i < seen->n[a]; i++) {
      in += seen->cores[a][i].packets_in;
      out += seen->cores[a][i].packets_out;
    }
  assert_int_equal(t->packets_in, in);
  assert_int_equal(t->packets_out, out);
  assert_true(t->max_rx_queue >= 1);
  assert_true(t->max_rx_x >= 0);
}

static void counters_equal_the_emulators(void **state) {
  (void)state;
  seen_t seen = {.compare = true};
  run_t r = train(&seen, 0, NULL);
  assert_int_equal(seen.attempts, 1);
  assert_int_equal(seen.n[0], r.st.cores_used);
  for (uint32_t i = 0; i < seen.n[0]; i++) {
    const spd_core_provenance_t *c = &seen.cores[0][i];
    assert_true(c->written);
    assert_true(c->final);
    assert_int_equal(c->state, SPD_CORE_EXITED);
    assert_true(c->packets_in > 0 || c->packets_out > 0);
  }
  /* Every packet the run sent was sent by a kernel, and counted there. */
  assert_int_equal(r.st.provenance.packets_out, r.st.packets_sent);
  assert_int_equal(r.st.provenance.packets_out, seen.emu_sent[0]);
  assert_int_equal(r.st.provenance.cores_final, r.st.cores_used);
  /* Nothing was lost, so every copy reached its receiver: with no drops
   * the receivers took at least as many as were sent (multicast). */
  assert_true(r.st.provenance.packets_in >= r.st.provenance.packets_out);
  expect_totals(&seen, &r);
  seen_free(&seen);
}

static void resends_are_counted_where_they_happen(void **state) {
  (void)state;
  seen_t seen = {.compare = true};
  run_t r = train(&seen, 1e-3, NULL);
  assert_true(r.st.packets_dropped > 0);
  assert_int_equal(r.st.provenance.packets_out, r.st.packets_sent);
  assert_int_equal(r.st.provenance.resent, r.st.packets_resent);
  expect_totals(&seen, &r);
  seen_free(&seen);
}

static void a_run_killed_mid_way_reads_the_live_cores(void **state) {
  (void)state;
  seen_t seen = {.compare = true};
  spd_core_kill_t kill = {.on = true, .x = 0, .y = 0, .p = 2, .after = 18};
  run_t r = train(&seen, 0, &kill);
  assert_int_equal(r.st.recoveries, 1);
  assert_int_equal(seen.attempts, 2);
  /* The first attempt, stopped when the core was found dead: every core
   * had written its region (at start and at its ticks); the dead one is
   * reported dead, the others stopped before they finished. */
  uint32_t dead = 0, live_written = 0, live = 0;
  for (uint32_t i = 0; i < seen.n[0]; i++) {
    const spd_core_provenance_t *c = &seen.cores[0][i];
    assert_true(c->written);
    if (c->state == SPD_CORE_DEAD) {
      dead++;
      assert_int_equal(c->x, 0);
      assert_int_equal(c->y, 0);
      assert_int_equal(c->p, 2);
      continue;
    }
    live++;
    live_written += c->writes > 1 && c->packets_in > 0;
  }
  assert_int_equal(dead, 1);
  assert_true(live > 0);
  assert_int_equal(live_written, live);
  /* The second attempt ran to the end. */
  for (uint32_t i = 0; i < seen.n[1]; i++)
    assert_true(seen.cores[1][i].final);
  assert_int_equal(r.st.provenance.cores_dead, 1);
  assert_int_equal(r.st.provenance.cores, seen.n[0] + seen.n[1]);
  expect_totals(&seen, &r);
  seen_free(&seen);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(counters_equal_the_emulators),
      cmocka_unit_test(resends_are_counted_where_they_happen),
      cmocka_unit_test(a_run_killed_mid_way_reads_the_live_cores),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
