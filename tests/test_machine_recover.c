/* Recovery from a dead core (run/machine_recover.c, docs/recovery.md),
 * under the sanitizers too: a core of examples/mlp.json dies in the first
 * or the second epoch of a fixed-point run on spinn5; the run finds it,
 * moves its work and goes on, and ends with the clean run's weights to the
 * bit. A fault on a core the run does not use is refused. */
#include <stdlib.h>
#include <string.h>

#include "spindle/keras.h"
#include "spindle/machine_run.h"
#include "support/test_machine_data.h"
#include "support/test_models.h"
#include "support/test_support.h"

typedef struct outcome {
  float *weights;   /* every parameter, model order */
  size_t n;
  spd_machine_stats_t st;
  int err;
} outcome_t;

static outcome_t train(const spd_core_kill_t *kill) {
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
  spd_machine_run_opts_t o = {.numeric = SPD_NUMERIC_FIXED};
  if (kill)
    o.kill = *kill;
  outcome_t out = {0};
  spd_history_t h = {0};
  out.err = spd_machine_fit(&ctx, m, mc, &o, &cfg, &s.d, &h, &out.st);
  for (int l = 0; l < m->n_layers; l++)
    for (int p = 0; p < m->layers[l].n_params; p++)
      out.n += spd_shape_size(&m->layers[l].params[p].value.shape);
  out.weights = calloc(out.n ? out.n : 1, sizeof *out.weights);
  assert_non_null(out.weights);
  size_t at = 0;
  for (int l = 0; l < m->n_layers; l++)
    for (int p = 0; p < m->layers[l].n_params; p++) {
      size_t k = spd_shape_size(&m->layers[l].params[p].value.shape);
      memcpy(out.weights + at, m->layers[l].params[p].value.data, k * sizeof(float));
      at += k;
    }
  spd_history_free(&h);
  spd_test_samples_free(&s);
  spd_machine_free(mc);
  spd_model_free(m);
  return out;
}

static void expect_clean_result(uint64_t after, const char *went_on) {
  outcome_t clean = train(NULL);
  assert_int_equal(clean.err, 0);
  assert_int_equal(clean.st.recoveries, 0);
  spd_core_kill_t kill = {.on = true, .x = 0, .y = 0, .p = 2, .after = after};
  outcome_t dead = train(&kill);
  assert_int_equal(dead.err, 0);
  assert_int_equal(dead.st.cores_failed, 1);
  assert_int_equal(dead.st.recoveries, 1);
  assert_true(dead.st.completed);
  assert_non_null(strstr(dead.st.failure, "core (0,0,2) is dead"));
  assert_non_null(strstr(dead.st.failure, went_on));
  assert_true(dead.st.packets_sent > clean.st.packets_sent);
  assert_int_equal(dead.n, clean.n);
  assert_memory_equal(dead.weights, clean.weights, clean.n * sizeof(float));
  free(clean.weights);
  free(dead.weights);
}

static void a_core_dead_in_the_second_epoch(void **state) {
  (void)state;
  expect_clean_result(18, "went on from batch 2 of epoch 2");
}

static void a_core_dead_in_the_first_epoch(void **state) {
  (void)state;
  expect_clean_result(6, "went on from batch 2 of epoch 1");
}

static void a_core_the_run_does_not_use_is_refused(void **state) {
  (void)state;
  spd_core_kill_t kill = {.on = true, .x = 7, .y = 7, .p = 17, .after = 3};
  outcome_t out = train(&kill);
  assert_int_equal(out.err, SPD_EINVAL);
  free(out.weights);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_core_dead_in_the_second_epoch),
      cmocka_unit_test(a_core_dead_in_the_first_epoch),
      cmocka_unit_test(a_core_the_run_does_not_use_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
