/* Dense networks run forward on the emulated machine (spindle/machine_run.h):
 * fixed point bit-identical to the reference's fixed mode, float within
 * 1e-4 of the float reference, a layer split over many tiles and chips
 * equal to the unsplit reference, dead chips and links mapped around with
 * identical results, and no packet dropped anywhere. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/fx_net.h"
#include "spindle/fit_fixed.h"
#include "spindle/machine_run.h"
#include "support/test_machine_data.h"
#include "support/test_models.h"
#include "support/test_support.h"

static spd_model_t *chain(spd_ctx_t *ctx, int32_t in, const int32_t *units, int n) {
  spd_model_t *m = NULL;
  assert_int_equal(spd_model_new(ctx, "chain", &m), 0);
  spd_layer_config_t cfg;
  spd_layer_config_defaults(&cfg, SPD_LAYER_INPUT, "input");
  cfg.input_shape = (spd_shape_t){1, {in}};
  assert_int_equal(spd_model_add(m, &cfg, NULL, 0, NULL), 0);
  for (int i = 0; i < n; i++) {
    char name[32];
    snprintf(name, sizeof name, "dense_%d", i);
    spd_layer_config_defaults(&cfg, SPD_LAYER_DENSE, name);
    cfg.units = units[i];
    cfg.activation = i + 1 < n ? SPD_ACT_RELU : SPD_ACT_SOFTMAX;
    int prev = m->n_layers - 1;
    assert_int_equal(spd_model_add(m, &cfg, &prev, 1, NULL), 0);
  }
  assert_int_equal(spd_model_build(m, 7), 0);
  return m;
}

typedef spd_test_samples_t samples_t;

static void samples_make(samples_t *s, size_t n, int32_t in, int classes, bool bytes) {
  spd_test_samples_make(s, n, (spd_shape_t){1, {in}}, classes, bytes);
}

static spd_machine_t *machine(spd_ctx_t *ctx, const char *name, const char *faults) {
  spd_machine_t *mc = NULL;
  assert_int_equal(spd_machine_new(ctx, name, &mc), 0);
  if (faults)
    assert_int_equal(spd_machine_apply_faults(mc, faults), 0);
  return mc;
}

static void expect_clean(const spd_machine_stats_t *st, uint64_t samples) {
  assert_int_equal(st->packets_dropped, 0);
  assert_true(st->packets_sent > 0);
  assert_int_equal(st->samples, samples);
  assert_true(st->simulated_seconds > 0);
  assert_true(st->energy_joules > 0);
  assert_true(st->cores_used >= 5);
}

/* Fixed point through the machine: every output bit-identical. */
static void fixed_run(const char *machine_name, const char *faults, int32_t in,
                      const int32_t *units, int n_layers, size_t n, bool bytes,
                      uint32_t *chips_used) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = chain(&ctx, in, units, n_layers);
  spd_machine_t *mc = machine(&ctx, machine_name, faults);
  samples_t s;
  samples_make(&s, n, in, units[n_layers - 1], bytes);
  size_t n_out = (size_t)units[n_layers - 1];
  float *want = calloc(n * n_out, sizeof *want), *got = calloc(n * n_out, sizeof *got);
  spd_test_reference_fixed(&ctx, m, &s, want);
  spd_machine_stats_t st;
  spd_machine_run_opts_t o = {.numeric = SPD_NUMERIC_FIXED};
  int rc = spd_machine_predict(&ctx, m, mc, &o, &s.d, got, &st);
  if (rc)
    fail_msg("%s", spd_ctx_message(&ctx));
  expect_clean(&st, n);
  assert_memory_equal(got, want, n * n_out * sizeof *got);
  spd_test_expect_evaluates_as_reference(&ctx, m, mc, &o, &s, &st);
  if (chips_used)
    *chips_used = st.chips_used;
  free(want);
  free(got);
  spd_test_samples_free(&s);
  spd_machine_free(mc);
  spd_model_free(m);
}

static void test_small_fixed_exact(void **state) {
  (void)state;
  const int32_t units[] = {12, 5};
  fixed_run("spinn3", NULL, 20, units, 2, 9, false, NULL);
}

static void test_small_fixed_bytes_exact(void **state) {
  (void)state;
  const int32_t units[] = {16, 8, 4};
  fixed_run("spinn3", NULL, 30, units, 3, 11, true, NULL);
}

/* A 784x1024 layer: the partitioner splits it over many tiles and chips;
 * the result equals the unsplit reference bit for bit. */
static void test_wide_layer_split_exact(void **state) {
  (void)state;
  const int32_t units[] = {1024, 10};
  uint32_t chips = 0;
  fixed_run("spinn5", NULL, 784, units, 2, 3, true, &chips);
  assert_true(chips > 1);
}

/* Dead chips and links: mapped around, identical results. */
static void test_faults_identical(void **state) {
  (void)state;
  const int32_t units[] = {64, 10};
  fixed_run("spinn5", "chip 1 0\nchip 2 2\nlink 0 0 N\nlink 1 1 E\n", 100, units, 2, 5, true,
            NULL);
}

static void test_float_close(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  const int32_t units[] = {24, 16, 6};
  spd_model_t *m = chain(&ctx, 40, units, 3);
  spd_machine_t *mc = machine(&ctx, "spinn3", NULL);
  samples_t s;
  size_t n = 7;
  samples_make(&s, n, 40, 6, false);
  float want[7 * 6], got[7 * 6];
  assert_int_equal(spd_predict_float(m, 4, &s.d, NULL, want), 0);
  spd_machine_stats_t st;
  spd_machine_run_opts_t o = {.numeric = SPD_NUMERIC_FLOAT};
  int rc = spd_machine_predict(&ctx, m, mc, &o, &s.d, got, &st);
  if (rc)
    fail_msg("%s", spd_ctx_message(&ctx));
  expect_clean(&st, n);
  for (size_t i = 0; i < n * 6; i++)
    assert_true(fabsf(got[i] - want[i]) < 1e-4f);
  double loss, acc, ref_loss, ref_acc;
  assert_int_equal(spd_machine_evaluate(&ctx, m, mc, &o, &s.d, &loss, &acc, &st), 0);
  assert_int_equal(spd_evaluate_float(m, SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, false, 4, &s.d,
                                NULL, &ref_loss, &ref_acc), 0);
  assert_true(fabs(loss - ref_loss) < 1e-4);
  assert_true(acc == ref_acc);
  spd_test_samples_free(&s);
  spd_machine_free(mc);
  spd_model_free(m);
}

/* Several batches (a short last one) and two epochs of training on the
 * machine land on exactly the reference's weights in fixed point, within
 * 1e-4 of them in float. */
static void numeric_train_case(spd_numeric_t numeric, spd_optimizer_kind_t kind, float momentum,
                               const char *machine_name, int32_t in, const int32_t *units,
                               int n_layers) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *on_machine = chain(&ctx, in, units, n_layers);
  spd_model_t *on_host = chain(&ctx, in, units, n_layers);
  spd_machine_t *mc = machine(&ctx, machine_name, NULL);
  samples_t s;
  size_t n = 37;
  samples_make(&s, n, in, units[n_layers - 1], true);
  spd_fit_config_t cfg;
  spd_test_fit_config(&cfg, kind, momentum);
  spd_machine_run_opts_t o = {.numeric = numeric};
  spd_machine_stats_t st;
  spd_test_expect_trains_as_reference(&ctx, on_host, on_machine, mc, &o, &cfg, &s, &st);
  expect_clean(&st, (uint64_t)cfg.epochs * n);
  spd_test_samples_free(&s);
  spd_machine_free(mc);
  spd_model_free(on_machine);
  spd_model_free(on_host);
}

static void train_case(spd_optimizer_kind_t kind, float momentum, const char *machine_name,
                       int32_t in, const int32_t *units, int n_layers) {
  numeric_train_case(SPD_NUMERIC_FIXED, kind, momentum, machine_name, in, units, n_layers);
}

/* Float training on the machine: within 1e-4 of the float reference. */
static void float_train_case(spd_optimizer_kind_t kind, float momentum, int32_t in,
                             const int32_t *units, int n_layers) {
  numeric_train_case(SPD_NUMERIC_FLOAT, kind, momentum, "spinn5", in, units, n_layers);
}

static void test_train_sgd_momentum_exact(void **state) {
  (void)state;
  const int32_t units[] = {12, 5};
  train_case(SPD_OPT_SGD, 0.9f, "spinn3", 20, units, 2);
}

static void test_train_adam_three_layers_exact(void **state) {
  (void)state;
  const int32_t units[] = {16, 8, 4};
  train_case(SPD_OPT_ADAM, 0.0f, "spinn5", 20, units, 3);
}

/* A 300-input layer cut into row blocks: partial sums, dX sums and bias
 * gradients go through reducers. */
static void test_train_reduced_layers_exact(void **state) {
  (void)state;
  const int32_t units[] = {64, 10};
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = chain(&ctx, 300, units, 2);
  spd_test_expect_dense_row_blocks(&ctx, m, SPD_OPT_SGD);
  spd_model_free(m);
  train_case(SPD_OPT_SGD, 0.0f, "spinn5", 300, units, 2);
}

static void test_train_float_sgd_close(void **state) {
  (void)state;
  const int32_t units[] = {16, 8, 4};
  float_train_case(SPD_OPT_SGD, 0.9f, 20, units, 3);
}

static void test_train_float_adam_reduced_close(void **state) {
  (void)state;
  const int32_t units[] = {64, 10};
  float_train_case(SPD_OPT_ADAM, 0.0f, 300, units, 2);
}

/* Validation during machine training: after each epoch the tiles and
 * reducers leave that epoch's weights in SDRAM and the validation samples
 * run forward on the machine with them, exactly as spd_fit_fixed
 * evaluates after each epoch; the trained weights stay the reference's. */
static void test_train_validation_exact(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  const int32_t units[] = {12, 5};
  spd_model_t *on_machine = chain(&ctx, 20, units, 2);
  spd_model_t *on_host = chain(&ctx, 20, units, 2);
  spd_machine_t *mc = machine(&ctx, "spinn3", NULL);
  samples_t s, val;
  samples_make(&s, 37, 20, 5, true);
  samples_make(&val, 9, 20, 5, false);
  spd_fit_config_t cfg;
  spd_fit_config_defaults(&cfg);
  cfg.epochs = 3;
  cfg.batch_size = 8;
  cfg.seed = 3;
  cfg.optimizer.momentum = 0.9f;
  cfg.optimizer.learning_rate.initial_learning_rate = 0.1;
  cfg.validation = &val.d;
  spd_history_t want = {0}, got = {0};
  assert_int_equal(spd_fit_fixed(on_host, &cfg, &s.d, &want, NULL), 0);
  spd_machine_run_opts_t o = {.numeric = SPD_NUMERIC_FIXED};
  spd_machine_stats_t st;
  int rc = spd_machine_fit(&ctx, on_machine, mc, &o, &cfg, &s.d, &got, &st);
  if (rc)
    fail_msg("%s", spd_ctx_message(&ctx));
  expect_clean(&st, 3 * 37);
  for (int e = 0; e < 3; e++) {
    assert_true(got.epochs[e].has_validation);
    assert_true(got.epochs[e].loss == want.epochs[e].loss);
    assert_true(got.epochs[e].val_loss == want.epochs[e].val_loss);
    assert_true(got.epochs[e].val_accuracy == want.epochs[e].val_accuracy);
  }
  assert_true(got.epochs[0].val_loss != got.epochs[2].val_loss);
  for (int i = 0; i < on_host->n_layers; i++)
    for (int p = 0; p < on_host->layers[i].n_params; p++) {
      const spd_tensor_t *a = &on_host->layers[i].params[p].value;
      const spd_tensor_t *b = &on_machine->layers[i].params[p].value;
      assert_memory_equal(a->data, b->data, spd_shape_size(&a->shape) * sizeof(float));
    }
  spd_history_free(&want);
  spd_history_free(&got);
  spd_test_samples_free(&s);
  spd_test_samples_free(&val);
  spd_machine_free(mc);
  spd_model_free(on_machine);
  spd_model_free(on_host);
}

/* The host follows a run through the sink's records in SDRAM: in training
 * every batch and epoch reaches the callbacks while the machine runs, the
 * last batch's running means are the epoch's logs, and a batch callback
 * stops the machine early; inference reports its batches the same way. */
typedef struct seen {
  int begins, ends, batches, stop_at;
  size_t step, steps;
  double loss, accuracy;
  spd_epoch_logs_t logs[2];
} seen_t;

static void seen_begin(void *ud, int epoch, int epochs, size_t steps) {
  seen_t *s = ud;
  assert_int_equal(epoch, s->begins++);
  assert_int_equal(epochs, 2);
  assert_int_equal(steps, s->steps);
}

static int seen_batch(void *ud, size_t step, size_t steps, double loss, double accuracy) {
  seen_t *s = ud;
  assert_int_equal(steps, s->steps);
  assert_int_equal(step, s->step % steps + 1);
  s->step = step;
  s->loss = loss;
  s->accuracy = accuracy;
  return ++s->batches == s->stop_at;
}

static void seen_end(void *ud, const spd_epoch_logs_t *logs) {
  seen_t *s = ud;
  assert_int_equal(logs->epoch, s->ends);
  assert_int_equal(s->step, s->steps);
  assert_true(logs->loss == s->loss && logs->accuracy == s->accuracy);
  s->logs[s->ends++] = *logs;
}

static void test_progress_follows_the_records(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  const int32_t units[] = {12, 5};
  spd_model_t *m = chain(&ctx, 20, units, 2);
  spd_machine_t *mc = machine(&ctx, "spinn3", NULL);
  samples_t s;
  samples_make(&s, 37, 20, 5, true);
  spd_fit_config_t cfg;
  spd_fit_config_defaults(&cfg);
  cfg.epochs = 2;
  cfg.batch_size = 8;
  seen_t seen = {.steps = 5};
  cfg.callbacks = (spd_fit_callbacks_t){.ud = &seen, .on_epoch_begin_cb = seen_begin,
                                        .on_batch_cb = seen_batch, .on_epoch_end_cb = seen_end};
  spd_machine_run_opts_t o = {.numeric = SPD_NUMERIC_FIXED};
  spd_machine_stats_t full, stopped;
  spd_history_t h = {0};
  int rc = spd_machine_fit(&ctx, m, mc, &o, &cfg, &s.d, &h, &full);
  if (rc)
    fail_msg("%s", spd_ctx_message(&ctx));
  expect_clean(&full, 2 * 37);
  assert_int_equal(seen.begins, 2);
  assert_int_equal(seen.ends, 2);
  assert_int_equal(seen.batches, 10);
  for (int e = 0; e < 2; e++)
    assert_memory_equal(&h.epochs[e], &seen.logs[e], sizeof seen.logs[e]);
  spd_history_free(&h);
  seen = (seen_t){.steps = 5, .stop_at = 3};
  assert_int_equal(spd_machine_fit(&ctx, m, mc, &o, &cfg, &s.d, NULL, &stopped), SPD_ESTATE);
  assert_non_null(strstr(spd_ctx_message(&ctx), "batch 3"));
  assert_int_equal(seen.batches, 3);
  assert_true(stopped.simulated_seconds < full.simulated_seconds);
  seen = (seen_t){.steps = 2};
  spd_fit_callbacks_t cb = {.ud = &seen, .on_batch_cb = seen_batch};
  o.progress = &cb;
  o.batch_size = 20;
  double loss, accuracy;
  assert_int_equal(spd_machine_evaluate(&ctx, m, mc, &o, &s.d, &loss, &accuracy, NULL), 0);
  assert_int_equal(seen.batches, 2);
  assert_true(seen.loss == loss && seen.accuracy == accuracy);
  spd_test_samples_free(&s);
  spd_machine_free(mc);
  spd_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_small_fixed_exact),
      cmocka_unit_test(test_small_fixed_bytes_exact),
      cmocka_unit_test(test_float_close),
      cmocka_unit_test(test_faults_identical),
      cmocka_unit_test(test_wide_layer_split_exact),
      cmocka_unit_test(test_train_sgd_momentum_exact),
      cmocka_unit_test(test_train_adam_three_layers_exact),
      cmocka_unit_test(test_train_reduced_layers_exact),
      cmocka_unit_test(test_train_float_sgd_close),
      cmocka_unit_test(test_train_float_adam_reduced_close),
      cmocka_unit_test(test_progress_follows_the_records),
      cmocka_unit_test(test_train_validation_exact),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
