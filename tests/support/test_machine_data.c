#include "test_machine_data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/fx_net.h"
#include "spindle/numerics.h"
#include "test_support.h"

void spd_test_samples_make(spd_test_samples_t *s, size_t n, spd_shape_t shape, int classes,
                           bool bytes) {
  memset(s, 0, sizeof *s);
  size_t in = (size_t)spd_shape_size(&shape);
  s->x = calloc(n * in, sizeof *s->x);
  s->x_u8 = calloc(n * in, 1);
  s->labels = calloc(n, sizeof *s->labels);
  assert_non_null(s->x);
  assert_non_null(s->x_u8);
  assert_non_null(s->labels);
  uint32_t state = 12345;
  for (size_t i = 0; i < n * in; i++) {
    state = state * 1103515245u + 12345u;
    s->x_u8[i] = (uint8_t)(state >> 24);
    s->x[i] = (float)s->x_u8[i] / 255.0f;
  }
  for (size_t i = 0; i < n; i++)
    s->labels[i] = (int32_t)(i * 7 % (size_t)classes);
  s->d = (spd_fit_data_t){.n = n, .sample_shape = shape, .y = {.n = n, .labels = s->labels}};
  if (bytes) {
    s->d.x_u8 = s->x_u8;
    s->d.x_scale = 1.0f / 255.0f;
  } else {
    s->d.x = s->x;
  }
}

void spd_test_samples_free(spd_test_samples_t *s) {
  free(s->x);
  free(s->x_u8);
  free(s->labels);
}

void spd_test_reference_fixed(spd_ctx_t *ctx, spd_model_t *m, const spd_test_samples_t *s,
                              float *out) {
  size_t n = s->d.n, in = (size_t)spd_shape_size(&s->d.sample_shape);
  size_t batch = n < 32 ? n : 32;
  spd_numeric_plan_t *plan = NULL;
  spd_fx_net_t *net = NULL;
  assert_int_equal(spd_numeric_plan_new(ctx, m, &plan), 0);
  assert_int_equal(spd__fx_net_new(ctx, m, plan, SPD_FX_LOSS_SPARSE_CE, false, (int)batch, 0,
                                   &net), 0);
  spd_numeric_plan_free(plan);
  spd_fx_batch_t first = {.x = s->x, .labels = s->labels, .batch = (int)batch};
  assert_int_equal(spd__fx_net_calibrate(net, &first, 2), 0);
  size_t n_out = (size_t)spd_shape_size(&m->layers[m->n_layers - 1].output_shape);
  for (size_t at = 0; at < n; at += batch) {
    size_t k = n - at < batch ? n - at : batch;
    spd_fx_batch_t b = {.x = s->x + at * in, .labels = s->labels + at, .batch = (int)k};
    assert_int_equal(spd__fx_net_evaluate(net, &b, out + at * n_out, NULL), 0);
  }
  spd__fx_net_free(net);
}

void spd_test_expect_evaluates_as_reference(spd_ctx_t *ctx, spd_model_t *m,
                                            const spd_machine_t *mc,
                                            const spd_machine_run_opts_t *o,
                                            const spd_test_samples_t *s, spd_machine_stats_t *st) {
  double loss = 0, acc = 0, ref_loss = 0, ref_acc = 0;
  spd_machine_stats_t stats;
  if (spd_machine_evaluate(ctx, m, mc, o, &s->d, &loss, &acc, &stats))
    fail_msg("%s", spd_ctx_message(ctx));
  assert_int_equal(spd_evaluate_fixed(m, NULL, SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, false,
                                      32, &s->d, NULL, &ref_loss, &ref_acc), 0);
  assert_true(fabs(loss - ref_loss) < 1e-9);
  assert_true(acc == ref_acc);
  if (st)
    *st = stats;
}

void spd_test_fit_config(spd_fit_config_t *cfg, spd_optimizer_kind_t kind, float momentum) {
  spd_fit_config_defaults(cfg);
  cfg->epochs = 2;
  cfg->batch_size = 8;
  cfg->seed = 3;
  cfg->optimizer.kind = kind;
  cfg->optimizer.momentum = momentum;
  cfg->optimizer.learning_rate.initial_learning_rate = kind == SPD_OPT_ADAM ? 0.01 : 0.1;
}

void spd_test_expect_trains_as_reference(spd_ctx_t *ctx, spd_model_t *on_host,
                                         spd_model_t *on_machine, const spd_machine_t *mc,
                                         const spd_machine_run_opts_t *o,
                                         const spd_fit_config_t *cfg, const spd_test_samples_t *s,
                                         spd_machine_stats_t *st) {
  bool fixed = o->numeric == SPD_NUMERIC_FIXED;
  spd_history_t want = {0}, got = {0};
  if (fixed)
    assert_int_equal(spd_fit_fixed(on_host, cfg, &s->d, &want, NULL), 0);
  else
    assert_int_equal(spd_fit_float(on_host, cfg, &s->d, &want), 0);
  spd_machine_stats_t stats;
  if (spd_machine_fit(ctx, on_machine, mc, o, cfg, &s->d, &got, &stats))
    fail_msg("%s", spd_ctx_message(ctx));
  assert_int_equal(stats.packets_dropped, 0);
  assert_int_equal(stats.samples, (uint64_t)cfg->epochs * s->d.n);
  double worst = 0;
  for (int i = 0; i < on_host->n_layers; i++)
    for (int p = 0; p < on_host->layers[i].n_params; p++) {
      const spd_tensor_t *a = &on_host->layers[i].params[p].value;
      const spd_tensor_t *b = &on_machine->layers[i].params[p].value;
      if (fixed && memcmp(a->data, b->data, spd_shape_size(&a->shape) * sizeof(float)))
        fail_msg("layer '%s' parameter %d differs from spd_fit_fixed's",
                 on_host->layers[i].config.name, p);
      for (size_t e = 0; e < spd_shape_size(&a->shape); e++)
        worst = fmax(worst, fabs((double)a->data[e] - b->data[e]));
    }
  if (worst >= 1e-4)
    fail_msg("weights differ from the reference's by %g", worst);
  for (int e = 0; e < cfg->epochs; e++) {
    assert_true(fabs(got.epochs[e].loss - want.epochs[e].loss) < (fixed ? 1e-9 : 1e-4));
    if (fixed)
      assert_true(got.epochs[e].accuracy == want.epochs[e].accuracy);
  }
  spd_history_free(&want);
  spd_history_free(&got);
  if (st)
    *st = stats;
}
