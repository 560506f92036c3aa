/* nn/loss and nn/metrics: Keras's loss values and reductions, gradients
 * against central differences, the accuracies and Keras's choice behind
 * "accuracy". */
#include "test_support.h"

#include <math.h>
#include <string.h>

#include "golden_npy.h"
#include "spindle/loss.h"
#include "spindle/metrics.h"

static void known_loss_values(void **state) {
  (void)state;
  const float p[6] = {0.1f, 0.7f, 0.2f, 0.5f, 0.25f, 0.25f};
  const int32_t labels[2] = {1, 0};
  spd_targets_t sparse = {.n = 2, .labels = labels};
  double expect = (-log(0.7) - log(0.5)) / 2;
  assert_true(fabs(spd_loss_compute(SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, false, p, 3,
                                    &sparse, NULL) - expect) < 1e-6);
  const float onehot[6] = {0, 1, 0, 1, 0, 0};
  spd_targets_t dense = {.n = 2, .width = 3, .values = onehot};
  assert_true(fabs(spd_loss_compute(SPD_LOSS_CATEGORICAL_CROSSENTROPY, false, p, 3, &dense,
                                    NULL) - expect) < 1e-6);
  /* Rows are normalised by their sum first, as Keras does. */
  const float unnormalised[3] = {0.2f, 1.4f, 0.4f};
  spd_targets_t one = {.n = 1, .labels = labels};
  assert_true(fabs(spd_loss_compute(SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, false,
                                    unnormalised, 3, &one, NULL) + log(0.7)) < 1e-6);
  /* Clipping at 1e-7: a zero probability costs -log(1e-7), not infinity. */
  const float zero[2] = {1.0f, 0.0f};
  spd_targets_t second = {.n = 1, .labels = &labels[0]};
  assert_true(fabs(spd_loss_compute(SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, false, zero, 2,
                                    &second, NULL) + log(1e-7)) < 1e-4);
  const float bp[2] = {0.8f, 0.4f}, bt[2] = {1.0f, 0.0f};
  spd_targets_t bin = {.n = 1, .width = 2, .values = bt};
  assert_true(fabs(spd_loss_compute(SPD_LOSS_BINARY_CROSSENTROPY, false, bp, 2, &bin, NULL) -
                   (-log(0.8) - log(0.6)) / 2) < 1e-6);
  assert_true(fabs(spd_loss_compute(SPD_LOSS_MSE, false, bp, 2, &bin, NULL) -
                   (0.04 + 0.16) / 2) < 1e-6);
}

/* dL/dp from spd_loss_compute against central differences of the loss. */
static void check_gradient(spd_loss_kind_t kind, bool logits, float *p, size_t n, size_t units,
                           const spd_targets_t *y) {
  float grad[16];
  spd_loss_compute(kind, logits, p, units, y, grad);
  for (size_t k = 0; k < n * units; k++) {
    float saved = p[k], h = 1e-3f;
    p[k] = saved + h;
    double up = spd_loss_compute(kind, logits, p, units, y, NULL);
    p[k] = saved - h;
    double down = spd_loss_compute(kind, logits, p, units, y, NULL);
    p[k] = saved;
    double numeric = (up - down) / (2.0 * h);
    if (fabs(numeric - grad[k]) > 2e-3 * (1.0 + fabs(numeric)))
      fail_msg("%s: dL/dp[%zu] = %g, central difference %g", spd_loss_name(kind), k,
               (double)grad[k], numeric);
  }
}

static void gradients_match_differences(void **state) {
  (void)state;
  float p[6] = {0.1f, 0.7f, 0.2f, 0.5f, 0.3f, 0.2f};
  const int32_t labels[2] = {2, 0};
  spd_targets_t sparse = {.n = 2, .labels = labels};
  const float soft[6] = {0.2f, 0.3f, 0.5f, 1, 0, 0};
  spd_targets_t dense = {.n = 2, .width = 3, .values = soft};
  for (int logits = 0; logits < 2; logits++) {
    check_gradient(SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, logits, p, 2, 3, &sparse);
    check_gradient(SPD_LOSS_CATEGORICAL_CROSSENTROPY, logits, p, 2, 3, &dense);
    check_gradient(SPD_LOSS_BINARY_CROSSENTROPY, logits, p, 2, 3, &dense);
    check_gradient(SPD_LOSS_MSE, logits, p, 2, 3, &dense);
  }
}


/* The committed PyTorch goldens in Keras semantics (tests/golden): value
 * and dL/dy_pred of every loss, within the manifest's rtol 1e-5. */
static void matches_goldens(void **state) {
  (void)state;
  static const struct { const char *name; spd_loss_kind_t kind; bool logits; size_t units; } cases[] = {
      {"mse", SPD_LOSS_MSE, false, 3},
      {"binary_ce", SPD_LOSS_BINARY_CROSSENTROPY, false, 3},
      {"binary_ce_clipped", SPD_LOSS_BINARY_CROSSENTROPY, false, 3},
      {"binary_ce_logits", SPD_LOSS_BINARY_CROSSENTROPY, true, 3},
      {"categorical_ce", SPD_LOSS_CATEGORICAL_CROSSENTROPY, false, 5},
      {"categorical_ce_soft_targets", SPD_LOSS_CATEGORICAL_CROSSENTROPY, false, 5},
      {"categorical_ce_unnormalised", SPD_LOSS_CATEGORICAL_CROSSENTROPY, false, 5},
      {"categorical_ce_logits", SPD_LOSS_CATEGORICAL_CROSSENTROPY, true, 5},
      {"sparse_categorical_ce", SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, false, 5},
      {"sparse_categorical_ce_logits", SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, true, 5},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    char key[96];
    float y_true[32], y_pred[32], want_grad[32], grad[32], want_loss;
    int32_t labels[8];
    snprintf(key, sizeof key, "%s.y_true", cases[c].name);
    size_t n_true = golden_load(key, y_true, 32);
    snprintf(key, sizeof key, "%s.y_pred", cases[c].name);
    size_t n_pred = golden_load(key, y_pred, 32);
    snprintf(key, sizeof key, "%s.grad", cases[c].name);
    assert_int_equal(golden_load(key, want_grad, 32), n_pred);
    snprintf(key, sizeof key, "%s.loss", cases[c].name);
    assert_int_equal(golden_load(key, &want_loss, 1), 1);
    size_t rows = n_pred / cases[c].units;
    spd_targets_t y = {.n = rows, .width = cases[c].units, .values = y_true};
    if (n_true == rows) {
      for (size_t i = 0; i < rows; i++)
        labels[i] = (int32_t)y_true[i];
      y = (spd_targets_t){.n = rows, .labels = labels};
    }
    double loss = spd_loss_compute(cases[c].kind, cases[c].logits, y_pred, cases[c].units,
                                   &y, grad);
    if (fabs(loss - want_loss) > 1e-5 * fabs(want_loss) + 1e-6)
      fail_msg("%s: loss %.8g, golden %.8g", cases[c].name, loss, (double)want_loss);
    for (size_t k = 0; k < n_pred; k++)
      if (fabs(grad[k] - want_grad[k]) > 1e-5 * fabs(want_grad[k]) + 1e-6)
        fail_msg("%s: grad[%zu] %.8g, golden %.8g", cases[c].name, k, (double)grad[k],
                 (double)want_grad[k]);
  }
}

static void default_loss_and_checks(void **state) {
  (void)state;
  const int32_t labels[2] = {1, 3};
  spd_targets_t sparse = {.n = 2, .labels = labels};
  assert_int_equal(spd_loss_parse("mse"), SPD_LOSS_MSE);
  assert_int_equal(spd_loss_parse("sparse_categorical_crossentropy"),
                   SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY);
  assert_int_equal(spd_loss_parse("hinge"), -1);
  spd_targets_t slice = spd_targets_slice(&sparse, 1, 1);
  assert_int_equal(slice.n, 1);
  assert_int_equal(slice.labels[0], 3);
}

static void accuracies(void **state) {
  (void)state;
  const float p[9] = {0.1f, 0.7f, 0.2f, 0.5f, 0.3f, 0.2f, 0.3f, 0.3f, 0.4f};
  const int32_t labels[3] = {1, 1, 2};
  spd_targets_t sparse = {.n = 3, .labels = labels};
  assert_true(spd_metric_correct(SPD_METRIC_SPARSE_CATEGORICAL_ACCURACY, p, 3, &sparse) == 2.0);
  const float onehot[9] = {0, 1, 0, 1, 0, 0, 1, 0, 0};
  spd_targets_t dense = {.n = 3, .width = 3, .values = onehot};
  assert_true(spd_metric_correct(SPD_METRIC_CATEGORICAL_ACCURACY, p, 3, &dense) == 2.0);
  /* Ties go to the first maximum, as argmax does. */
  const float tie[2] = {0.5f, 0.5f};
  const int32_t zero = 0;
  spd_targets_t one = {.n = 1, .labels = &zero};
  assert_true(spd_metric_correct(SPD_METRIC_SPARSE_CATEGORICAL_ACCURACY, tie, 2, &one) == 1.0);
  const float bp[4] = {0.9f, 0.2f, 0.6f, 0.4f}, bt[4] = {1, 1, 0, 0};
  spd_targets_t bin = {.n = 2, .width = 2, .values = bt};
  assert_true(fabs(spd_metric_correct(SPD_METRIC_BINARY_ACCURACY, bp, 2, &bin) - 1.0) < 1e-12);
  assert_int_equal(spd_metric_resolve_accuracy(10, true, false),
                   SPD_METRIC_SPARSE_CATEGORICAL_ACCURACY);
  assert_int_equal(spd_metric_resolve_accuracy(10, false, false),
                   SPD_METRIC_CATEGORICAL_ACCURACY);
  assert_int_equal(spd_metric_resolve_accuracy(1, true, false), SPD_METRIC_BINARY_ACCURACY);
  assert_int_equal(spd_metric_resolve_accuracy(4, false, true), SPD_METRIC_BINARY_ACCURACY);
  assert_int_equal(spd_metric_parse("categorical_accuracy"), SPD_METRIC_CATEGORICAL_ACCURACY);
  assert_int_equal(spd_metric_parse("accuracy"), -1);
}

static void mean_weights_by_batch_size(void **state) {
  (void)state;
  spd_mean_t m;
  spd_mean_reset(&m);
  assert_true(spd_mean_value(&m) == 0.0);
  spd_mean_add(&m, 1.0, 32);
  spd_mean_add(&m, 4.0, 8);
  assert_true(fabs(spd_mean_value(&m) - (32.0 + 32.0) / 40.0) < 1e-12);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(known_loss_values),
      cmocka_unit_test(gradients_match_differences),
      cmocka_unit_test(matches_goldens),
      cmocka_unit_test(default_loss_and_checks),
      cmocka_unit_test(accuracies),
      cmocka_unit_test(mean_weights_by_batch_size),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
