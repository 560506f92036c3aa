/* run/fit_fixed: fixed-point fit and evaluate follow spd_fit_float's contract
 * (history, callbacks, same data order) and land near float training;
 * evaluation without a run calibrates its own plan; allocation failures
 * leak nothing. */
#include "test_models.h"
#include "test_support.h"

#include <math.h>
#include <string.h>

#include "spindle/fit_fixed.h"
#include "spindle/rng.h"

enum { IN = 6, CLASSES = 3, N = 300 };

static spd_model_t *mlp(spd_ctx_t *ctx) {
  spd_layer_config_t layers[2];
  spd_layer_config_defaults(&layers[0], SPD_LAYER_DENSE, "hidden");
  layers[0].units = 12;
  layers[0].activation = SPD_ACT_RELU;
  spd_layer_config_defaults(&layers[1], SPD_LAYER_DENSE, "out");
  layers[1].units = CLASSES;
  layers[1].activation = SPD_ACT_SOFTMAX;
  return spd_test_stack(ctx, "mlp", (spd_shape_t){1, {IN}}, layers, 2, 5);
}

static float xs[N * IN];
static int32_t labels[N];

static spd_fit_data_t data(void) {
  spd_rng_t rng;
  spd_rng_init(&rng, 12, 0);
  for (int s = 0; s < N; s++) {
    labels[s] = s % CLASSES;
    for (int j = 0; j < IN; j++)
      xs[s * IN + j] = (float)fmin(1, fmax(0, 0.2 + 0.3 * ((labels[s] + j) % CLASSES) +
                                               0.1 * spd_rng_normal(&rng)));
  }
  return (spd_fit_data_t){.n = N, .sample_shape = {1, {IN}}, .x = xs,
                          .y = {.n = N, .labels = labels}};
}

static int batches_seen;
static int count_batches(void *ud, size_t step, size_t steps, double loss, double acc) {
  (void)ud;
  (void)steps;
  assert_true(step >= 1 && isfinite(loss) && acc >= 0 && acc <= 1);
  batches_seen++;
  return 0;
}

static void fixed_fit_tracks_float_fit(void **state) {
  (void)state;
  spd_fit_data_t d = data();
  spd_fit_config_t cfg;
  spd_fit_config_defaults(&cfg);
  cfg.epochs = 4;
  cfg.batch_size = 20;
  cfg.seed = 9;
  cfg.optimizer.momentum = 0.9f;
  cfg.validation = &d;
  cfg.callbacks.on_batch_cb = count_batches;
  spd_model_t *mf = mlp(NULL), *mx = mlp(NULL);
  spd_history_t hf, hx;
  assert_int_equal(spd_fit_float(mf, &cfg, &d, &hf), 0);
  batches_seen = 0;
  spd_fixed_run_t *run = NULL;
  assert_int_equal(spd_fit_fixed(mx, &cfg, &d, &hx, &run), 0);
  assert_int_equal(batches_seen, 4 * 15);
  assert_int_equal(hx.n_epochs, 4);
  for (int e = 0; e < 4; e++) {
    assert_true(fabs(hx.epochs[e].loss - hf.epochs[e].loss) < 0.02);
    assert_true(hx.epochs[e].has_validation);
  }
  assert_true(hx.epochs[3].val_accuracy > 0.9);
  assert_true(fabs(hx.epochs[3].val_accuracy - hf.epochs[3].val_accuracy) <= 0.02);
  double loss, acc;
  assert_int_equal(spd_evaluate_fixed(mx, run, cfg.loss, false, 64, &d, NULL, &loss, &acc), 0);
  assert_true(fabs(acc - hx.epochs[3].val_accuracy) < 1e-12); /* same integers */
  assert_int_equal(spd_fixed_run_saturations(run), 0);
  /* predict runs the same forward: its argmax gives the same accuracy. */
  static float out[N * CLASSES];
  assert_int_equal(spd_predict_fixed(mx, run, 64, &d, NULL, out), 0);
  int correct = 0;
  for (int s = 0; s < N; s++) {
    int best = 0;
    for (int c = 1; c < CLASSES; c++)
      if (out[s * CLASSES + c] > out[s * CLASSES + best])
        best = c;
    correct += best == labels[s];
  }
  assert_true(fabs((double)correct / N - acc) < 1e-12);
  assert_int_equal(spd_fixed_run_plan(run)->layers[0].act_frac, 14);
  /* Without the run: the exported weights and a fresh calibrated plan. */
  double loss2, acc2;
  assert_int_equal(spd_evaluate_fixed(mx, NULL, cfg.loss, false, 64, &d, NULL, &loss2, &acc2), 0);
  assert_true(fabs(acc2 - acc) <= 0.02);
  spd_fixed_run_free(run);
  spd_history_free(&hf);
  spd_history_free(&hx);
  spd_model_free(mf);
  spd_model_free(mx);
}

static void bad_config_and_targets_rejected(void **state) {
  (void)state;
  spd_fit_data_t d = data();
  spd_fit_config_t cfg;
  spd_fit_config_defaults(&cfg);
  cfg.epochs = 0;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = mlp(&ctx);
  spd_history_t h;
  assert_int_equal(spd_fit_fixed(m, &cfg, &d, &h, NULL), SPD_EINVAL);
  cfg.epochs = 1;
  cfg.loss = SPD_LOSS_CATEGORICAL_CROSSENTROPY; /* needs target rows */
  assert_int_equal(spd_fit_fixed(m, &cfg, &d, &h, NULL), SPD_EINVAL);
  spd_model_free(m);
}

static void allocation_failures_leak_nothing(void **state) {
  (void)state;
  spd_fit_data_t d = data();
  spd_fit_config_t cfg;
  spd_fit_config_defaults(&cfg);
  cfg.batch_size = 50;
  for (uint64_t n = 1;; n++) {
    spd_ctx_t ctx;
    spd_ctx_init(&ctx);
    spd_model_t *m = mlp(&ctx);
    spd_test_alloc_t ta;
    spd_test_alloc_install(&ctx, &ta, n);
    spd_history_t h;
    spd_fixed_run_t *run = NULL;
    int rc = spd_fit_fixed(m, &cfg, &d, &h, &run);
    if (rc == 0) {
      spd_fixed_run_free(run);
      spd_history_free(&h);
    } else {
      assert_int_equal(rc, SPD_ENOMEM);
      assert_null(run);
    }
    assert_int_equal(ta.live, 0); /* everything the fit allocated is gone */
    spd_test_alloc_install(&ctx, &ta, 0);
    spd_model_free(m);
    if (rc == 0)
      break;
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fixed_fit_tracks_float_fit),
      cmocka_unit_test(bad_config_and_targets_rejected),
      cmocka_unit_test(allocation_failures_leak_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
