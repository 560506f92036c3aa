/* run/api: spd_fit, spd_evaluate and spd_predict hand the work to the engine
 * the options choose and change nothing of it: on the reference backend the
 * same weights, losses and outputs as the engines called directly, in float
 * and fixed point (with the trained fixed-point run kept and used); on the
 * machine the outputs of the reference's fixed point, and the machine's
 * figures; bad options and a loss the machine lacks are refused by name. */
#include "test_support.h"

#include <string.h>

#include "spindle/api.h"

#define N 32

static spd_model_t *mlp(spd_ctx_t *ctx, uint64_t seed) {
  spd_model_t *m = NULL;
  assert_int_equal(spd_model_new(ctx, "mlp", &m), 0);
  spd_layer_config_t cfg;
  int prev;
  spd_layer_config_defaults(&cfg, SPD_LAYER_INPUT, "input");
  cfg.input_shape = (spd_shape_t){.rank = 1, .dims = {4}};
  assert_int_equal(spd_model_add(m, &cfg, NULL, 0, &prev), 0);
  spd_layer_config_defaults(&cfg, SPD_LAYER_DENSE, "hidden");
  cfg.units = 8;
  cfg.activation = SPD_ACT_RELU;
  assert_int_equal(spd_model_add(m, &cfg, &prev, 1, &prev), 0);
  spd_layer_config_defaults(&cfg, SPD_LAYER_DENSE, "out");
  cfg.units = 3;
  cfg.activation = SPD_ACT_SOFTMAX;
  assert_int_equal(spd_model_add(m, &cfg, &prev, 1, &prev), 0);
  assert_int_equal(spd_model_build(m, seed), 0);
  return m;
}

typedef struct data {
  float x[N * 4];
  int32_t y[N];
  spd_fit_data_t d;
} data_t;

static void make_data(data_t *d) {
  for (int i = 0; i < N; i++) {
    for (int j = 0; j < 4; j++)
      d->x[i * 4 + j] = (float)((i * 7 + j * 3) % 11) / 11.0f - 0.5f;
    d->y[i] = i % 3;
  }
  d->d = (spd_fit_data_t){.n = N, .sample_shape = {.rank = 1, .dims = {4}}, .x = d->x,
                          .y = {.n = N, .labels = d->y}};
}

static void config(spd_fit_config_t *cfg) {
  spd_fit_config_defaults(cfg);
  cfg->epochs = 2;
  cfg->batch_size = 8;
  cfg->seed = 3;
}

static const float *kernel(const spd_model_t *m, int layer) {
  return m->layers[layer].params[0].value.data;
}

static int epochs_ended;
static void on_epoch_end(void *ud, const spd_epoch_logs_t *logs) {
  (void)ud;
  (void)logs;
  epochs_ended++;
}

/* Float and fixed point on the reference backend: the engines' results. */
static void reference_is_the_engines(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  data_t d;
  make_data(&d);
  spd_fit_config_t cfg;
  config(&cfg);
  for (int fixed = 0; fixed <= 1; fixed++) {
    spd_model_t *a = mlp(&ctx, 1), *b = mlp(&ctx, 1);
    spd_history_t ha, hb;
    spd_fixed_run_t *direct = NULL, *kept = NULL;
    if (fixed)
      assert_int_equal(spd_fit_fixed(a, &cfg, &d.d, &ha, &direct), 0);
    else
      assert_int_equal(spd_fit_float(a, &cfg, &d.d, &ha), 0);
    spd_run_options_t o;
    spd_run_options_defaults(&o);
    o.backend = SPD_BACKEND_REFERENCE;
    o.numeric = fixed ? SPD_NUMERIC_FIXED : SPD_NUMERIC_FLOAT;
    o.fixed_run = &kept;
    o.batch_size = 8;
    o.callbacks.on_epoch_end_cb = on_epoch_end;
    epochs_ended = 0;
    assert_int_equal(spd_fit(&ctx, b, &d.d, &cfg, &o, &hb), 0);
    assert_int_equal(epochs_ended, 2);
    assert_true(fixed ? kept != NULL : kept == NULL);
    assert_int_equal(hb.n_epochs, 2);
    assert_true(ha.epochs[1].loss == hb.epochs[1].loss);
    assert_memory_equal(kernel(a, 1), kernel(b, 1), 4 * 8 * sizeof(float));
    double la, aa, lb, ab;
    if (fixed)
      assert_int_equal(spd_evaluate_fixed(a, direct, cfg.loss, false, 8, &d.d, NULL, &la, &aa),
                       0);
    else
      assert_int_equal(spd_evaluate_float(a, cfg.loss, false, 8, &d.d, NULL, &la, &aa), 0);
    assert_int_equal(spd_evaluate(&ctx, b, &d.d, &o, &lb, &ab), 0);
    assert_true(la == lb && aa == ab);
    float pa[N * 3], pb[N * 3];
    if (fixed)
      assert_int_equal(spd_predict_fixed(a, direct, 8, &d.d, NULL, pa), 0);
    else
      assert_int_equal(spd_predict_float(a, 8, &d.d, NULL, pa), 0);
    assert_int_equal(spd_predict(&ctx, b, &d.d, &o, pb), 0);
    assert_memory_equal(pa, pb, sizeof pa);
    spd_history_free(&ha);
    spd_history_free(&hb);
    spd_fixed_run_free(direct);
    spd_fixed_run_free(kept);
    spd_model_free(a);
    spd_model_free(b);
  }
}

/* The machine (made from its name for the call) predicts in fixed point
 * exactly what the reference's fixed point does, and says what it cost. */
static void machine_predicts_and_reports(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  data_t d;
  make_data(&d);
  spd_model_t *m = mlp(&ctx, 2);
  spd_run_options_t o;
  spd_run_options_defaults(&o);
  o.numeric = SPD_NUMERIC_FIXED;
  o.machine_name = "spinn3";
  o.batch_size = 8;
  spd_machine_stats_t stats;
  memset(&stats, 0, sizeof stats);
  o.stats = &stats;
  float on_machine[N * 3], on_host[N * 3];
  assert_int_equal(spd_predict(&ctx, m, &d.d, &o, on_machine), 0);
  assert_true(stats.completed);
  assert_int_equal(stats.samples, N);
  assert_true(stats.packets_sent > 0 && stats.simulated_seconds > 0);
  assert_int_equal(stats.packets_dropped, 0);
  o.backend = SPD_BACKEND_REFERENCE;
  assert_int_equal(spd_predict(&ctx, m, &d.d, &o, on_host), 0);
  assert_memory_equal(on_machine, on_host, sizeof on_host);
  spd_model_free(m);
}

static void bad_options_are_named(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  data_t d;
  make_data(&d);
  spd_model_t *m = mlp(&ctx, 1);
  spd_run_options_t o;
  spd_run_options_defaults(&o);
  o.machine_name = "spinn7";
  float out[N * 3];
  assert_int_equal(spd_predict(&ctx, m, &d.d, &o, out), SPD_EINVAL);
  assert_non_null(strstr(spd_ctx_message(&ctx), "spinn7"));
  spd_run_options_defaults(&o);
  o.backend = (spd_backend_t)7;
  assert_int_equal(spd_predict(&ctx, m, &d.d, &o, out), SPD_EINVAL);
  assert_non_null(strstr(spd_ctx_message(&ctx), "backend"));
  spd_run_options_defaults(&o);
  o.loss = SPD_LOSS_MSE;
  double loss, acc;
  assert_int_equal(spd_evaluate(&ctx, m, &d.d, &o, &loss, &acc), SPD_EUNSUPPORTED);
  assert_non_null(strstr(spd_ctx_message(&ctx), "mean_squared_error"));
  /* a diagnostic of the engine reaches the caller's own context */
  spd_ctx_t mine;
  spd_ctx_init(&mine);
  spd_fit_data_t wrong = d.d;
  wrong.sample_shape = (spd_shape_t){.rank = 1, .dims = {5}};
  o.backend = SPD_BACKEND_REFERENCE;
  o.loss = SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
  assert_int_equal(spd_evaluate(&mine, m, &wrong, &o, &loss, &acc), SPD_ESHAPE);
  assert_non_null(strstr(spd_ctx_message(&mine), "(None, 5)"));
  assert_int_equal(spd_backend_parse("reference"), SPD_BACKEND_REFERENCE);
  assert_int_equal(spd_backend_parse("cloud"), -1);
  assert_string_equal(spd_version(), SPINDLE_VERSION_STRING);
  assert_int_equal(spd_version_major(), SPINDLE_VERSION_MAJOR);
  spd_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(reference_is_the_engines),
      cmocka_unit_test(machine_predicts_and_reports),
      cmocka_unit_test(bad_options_are_named),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
