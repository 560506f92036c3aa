/* nn/metrics: the accuracies, Keras's choice behind "accuracy" and the
 * batch-weighted epoch means. */
#include "test_support.h"

#include <math.h>
#include <string.h>

#include "spindle/metrics.h"

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
  for (int k = 0; k < SPD_METRIC_COUNT; k++)
    assert_int_equal(spd_metric_parse(spd_metric_name((spd_metric_kind_t)k)), k);
  assert_string_equal(spd_metric_name(SPD_METRIC_COUNT), "unknown");
  spd_targets_t tail = spd_targets_slice(&sparse, 1, 2);
  assert_int_equal(tail.n, 2);
  assert_int_equal(tail.labels[1], 2);
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
      cmocka_unit_test(accuracies),
      cmocka_unit_test(mean_weights_by_batch_size),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
