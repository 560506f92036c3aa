#include "test_machine_data.h"

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
