/* Dropout on the emulated machine (docs/dense-on-machine.md, "Dropout"):
 * in training the cores sending the values a Dropout reads apply its mask,
 * so the trained weights equal spd_fit_fixed's bit for bit (and spd_fit_float's
 * within 1e-4 in float) over several batches and two epochs, through full
 * tiles and through reducers; evaluate and predict pass the Dropout
 * through; a Dropout the kernels cannot mask is refused by name. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spindle/checkpoint.h"
#include "spindle/fit_fixed.h"
#include "spindle/machine_run.h"
#include "support/test_machine_data.h"
#include "support/test_models.h"
#include "support/test_support.h"

/* 20 inputs, Dense 16 relu, Dropout 0.4, Dense 8 sigmoid, Dropout 0.25
 * (its own seed), Dense 4 softmax: every Dense is one full tile. */
static int small_layers(spd_layer_config_t *l) {
  l[0] = spd_test_dense("dense_0", 16, SPD_ACT_RELU);
  l[1] = spd_test_dropout("dropout_0", 0.4, 0);
  l[2] = spd_test_dense("dense_1", 8, SPD_ACT_SIGMOID);
  l[3] = spd_test_dropout("dropout_1", 0.25, 99);
  l[4] = spd_test_dense("dense_2", 4, SPD_ACT_SOFTMAX);
  return 5;
}

/* 300 inputs, Dense 64 relu cut into row blocks (its y comes from
 * reducers), a Dropout of rate 0 (it passes values on), Dropout 0.5,
 * Dense 10 softmax. */
static int reduced_layers(spd_layer_config_t *l) {
  l[0] = spd_test_dense("dense_0", 64, SPD_ACT_RELU);
  l[1] = spd_test_dropout("passing", 0.0, 0);
  l[2] = spd_test_dropout("dropout_0", 0.5, 0);
  l[3] = spd_test_dense("dense_1", 10, SPD_ACT_SOFTMAX);
  return 4;
}

static spd_model_t *stack(spd_ctx_t *ctx, int32_t in, int (*layers)(spd_layer_config_t *)) {
  spd_layer_config_t l[8];
  int n = layers(l);
  return spd_test_stack(ctx, "dropout_net", (spd_shape_t){1, {in}}, l, n, 7);
}

static int32_t classes_of(const spd_model_t *m) {
  return (int32_t)spd_shape_size(&m->layers[m->n_layers - 1].output_shape);
}

/* Two epochs of 37 samples in batches of 8 (a short last one) on the
 * machine and on the host: fixed point bit for bit, float within 1e-4. */
static void train_case(int32_t in, int (*layers)(spd_layer_config_t *), spd_numeric_t numeric,
                       spd_optimizer_kind_t kind, float momentum) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *on_machine = stack(&ctx, in, layers);
  spd_model_t *on_host = stack(&ctx, in, layers);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn5", NULL);
  spd_test_samples_t s;
  size_t n = 37;
  spd_test_samples_make(&s, n, (spd_shape_t){1, {in}}, classes_of(on_host), true);
  spd_fit_config_t cfg;
  spd_test_fit_config(&cfg, kind, momentum);
  spd_machine_run_opts_t o = {.numeric = numeric};
  spd_test_expect_trains_as_reference(&ctx, on_host, on_machine, mc, &o, &cfg, &s, NULL);
  spd_test_samples_free(&s);
  spd_machine_free(mc);
  spd_model_free(on_machine);
  spd_model_free(on_host);
}

static void test_train_full_tiles_exact(void **state) {
  (void)state;
  train_case(20, small_layers, SPD_NUMERIC_FIXED, SPD_OPT_SGD, 0.9f);
}

/* The 300-input layer really is cut into row blocks: its y, and so the
 * Dropout's mask, comes from reducers. */
static void test_train_reducers_exact(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = stack(&ctx, 300, reduced_layers);
  spd_test_expect_dense_row_blocks(&ctx, m, SPD_OPT_ADAM);
  spd_model_free(m);
  train_case(300, reduced_layers, SPD_NUMERIC_FIXED, SPD_OPT_ADAM, 0.0f);
}

static void test_train_float_close(void **state) {
  (void)state;
  train_case(20, small_layers, SPD_NUMERIC_FLOAT, SPD_OPT_SGD, 0.9f);
  train_case(300, reduced_layers, SPD_NUMERIC_FLOAT, SPD_OPT_ADAM, 0.0f);
}

/* Checkpoints on the machine (docs/formats.md, "On the machine"): one
 * epoch with a checkpoint, then a run resumed from it up to epoch 3, with
 * validation, lands on spd_fit_fixed's three straight epochs bit for bit:
 * the Adam slabs of the tiles and reducers, the update steps, the order
 * and the Dropout counters all go on. The final checkpoint stands at
 * epoch 3. */
static void test_resume_exact(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *on_host = stack(&ctx, 300, reduced_layers);
  spd_model_t *first = stack(&ctx, 300, reduced_layers);
  spd_model_t *resumed = stack(&ctx, 300, reduced_layers);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn5", NULL);
  spd_test_samples_t s, val;
  spd_test_samples_make(&s, 37, (spd_shape_t){1, {300}}, classes_of(on_host), true);
  spd_test_samples_make(&val, 9, (spd_shape_t){1, {300}}, classes_of(on_host), false);
  spd_fit_config_t cfg;
  spd_test_fit_config(&cfg, SPD_OPT_ADAM, 0.0f);
  cfg.epochs = 3;
  cfg.validation = &val.d;
  spd_history_t want = {0}, got = {0};
  assert_int_equal(spd_fit_fixed(on_host, &cfg, &s.d, &want, NULL), 0);

  const char *dir = spd_test_tmpdir();
  assert_non_null(dir);
  spd_machine_run_opts_t o = {.numeric = SPD_NUMERIC_FIXED};
  cfg.epochs = 1;
  cfg.checkpoint_dir = dir;
  if (spd_machine_fit(&ctx, first, mc, &o, &cfg, &s.d, NULL, NULL))
    fail_msg("%s", spd_ctx_message(&ctx));
  spd_checkpoint_t *ck = NULL;
  assert_int_equal(spd_checkpoint_open(&ctx, dir, &ck), 0);
  cfg.epochs = 3;
  cfg.resume = ck;
  spd_machine_stats_t st;
  if (spd_machine_fit(&ctx, resumed, mc, &o, &cfg, &s.d, &got, &st))
    fail_msg("%s", spd_ctx_message(&ctx));
  assert_int_equal(st.samples, 2 * 37);
  for (int i = 0; i < on_host->n_layers; i++)
    for (int p = 0; p < on_host->layers[i].n_params; p++) {
      const spd_tensor_t *a = &on_host->layers[i].params[p].value;
      const spd_tensor_t *b = &resumed->layers[i].params[p].value;
      assert_memory_equal(a->data, b->data, spd_shape_size(&a->shape) * sizeof(float));
    }
  for (int e = 0; e < 3; e++) {
    assert_true(got.epochs[e].loss == want.epochs[e].loss);
    assert_true(got.epochs[e].val_loss == want.epochs[e].val_loss);
  }
  spd_checkpoint_free(ck);
  assert_int_equal(spd_checkpoint_open(&ctx, dir, &ck), 0);
  spd_checkpoint_info_t info;
  spd_checkpoint_info(ck, &info);
  assert_int_equal(info.epochs_done, 3);
  assert_string_equal(info.backend, "machine");
  spd_checkpoint_free(ck);
  spd_test_rmtree(dir);
  spd_history_free(&want);
  spd_history_free(&got);
  spd_test_samples_free(&s);
  spd_test_samples_free(&val);
  spd_machine_free(mc);
  spd_model_free(on_host);
  spd_model_free(first);
  spd_model_free(resumed);
}

/* Inference passes a Dropout through (Keras): predict and evaluate equal
 * the reference's fixed mode. */
static void test_inference_passes_through(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = stack(&ctx, 20, small_layers);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn3", NULL);
  spd_test_samples_t s;
  size_t n = 9, n_out = 4;
  spd_test_samples_make(&s, n, (spd_shape_t){1, {20}}, (int)n_out, false);
  float *want = calloc(n * n_out, sizeof *want), *got = calloc(n * n_out, sizeof *got);
  spd_test_reference_fixed(&ctx, m, &s, want);
  spd_machine_run_opts_t o = {.numeric = SPD_NUMERIC_FIXED};
  spd_machine_stats_t st;
  if (spd_machine_predict(&ctx, m, mc, &o, &s.d, got, &st))
    fail_msg("%s", spd_ctx_message(&ctx));
  assert_memory_equal(got, want, n * n_out * sizeof *got);
  spd_test_expect_evaluates_as_reference(&ctx, m, mc, &o, &s, NULL);
  free(want);
  free(got);
  spd_test_samples_free(&s);
  spd_machine_free(mc);
  spd_model_free(m);
}

/* A Dropout on the input has no Dense layer to apply its mask: refused,
 * naming it and the way out; at rate 0 it passes values through and
 * trains. */
static int input_dropout_layers(spd_layer_config_t *l) {
  l[0] = spd_test_dropout("input_dropout", 0.2, 0);
  l[1] = spd_test_dense("dense_0", 4, SPD_ACT_SOFTMAX);
  return 2;
}

static void test_input_dropout_refused(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = stack(&ctx, 12, input_dropout_layers);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn3", NULL);
  spd_test_samples_t s;
  spd_test_samples_make(&s, 10, (spd_shape_t){1, {12}}, 4, true);
  spd_fit_config_t cfg;
  spd_fit_config_defaults(&cfg);
  cfg.batch_size = 4;
  spd_machine_run_opts_t o = {.numeric = SPD_NUMERIC_FIXED};
  spd_history_t h = {0};
  spd_machine_stats_t st;
  assert_int_equal(spd_machine_fit(&ctx, m, mc, &o, &cfg, &s.d, &h, &st), SPD_EUNSUPPORTED);
  const char *msg = spd_ctx_message(&ctx);
  assert_non_null(strstr(msg, "'input_dropout'"));
  assert_non_null(strstr(msg, "--backend reference"));
  m->layers[1].config.rate = 0.0;
  if (spd_machine_fit(&ctx, m, mc, &o, &cfg, &s.d, &h, &st))
    fail_msg("%s", spd_ctx_message(&ctx));
  spd_history_free(&h);
  spd_test_samples_free(&s);
  spd_machine_free(mc);
  spd_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_train_full_tiles_exact),
      cmocka_unit_test(test_train_reducers_exact),
      cmocka_unit_test(test_resume_exact),
      cmocka_unit_test(test_train_float_close),
      cmocka_unit_test(test_inference_passes_through),
      cmocka_unit_test(test_input_dropout_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
