/* base/fx_conv and the fixed-point reference's convolution and pooling: a
 * convolution split into tiles of output rows (with halo input rows), output
 * channels and input channels, reduced in any order, equals the unsplit
 * result bit for bit (forward, dX, dW); the reducer's single rounding is the
 * exact sum rounded; pooling routes and averages as documented; a small CNN
 * trains in fixed point. */
#include "test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/fx_conv.h"
#include "nn/fx_net.h"
#include "spindle/rng.h"

static void fill16(spd_rng_t *rng, int16_t *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    v[i] = (int16_t)(spd_rng_u32(rng) >> 16);
}

/* 'same' 5x5 conv with stride 1 and a 3x3 stride-2 dilated one. */
static const spd_fx_window_t geometries[] = {
    {12, 12, 3, 12, 12, 8, 5, 5, 1, 1, 1, 1, 2, 2},
    {13, 11, 4, 5, 4, 6, 3, 3, 2, 2, 2, 1, 0, 0},
};

static size_t in_n(const spd_fx_window_t *g) { return (size_t)g->in_h * g->in_w * g->in_c; }
static size_t out_n(const spd_fx_window_t *g) { return (size_t)g->out_h * g->out_w * g->out_c; }

/* First and one-past-last input rows that output rows [oh0, oh1) read. */
static void halo(const spd_fx_window_t *g, int oh0, int oh1, int *r0, int *r1) {
  *r0 = oh0 * g->stride_h - g->pad_top;
  *r1 = (oh1 - 1) * g->stride_h + (g->k_h - 1) * g->dil_h - g->pad_top + 1;
  if (*r0 < 0)
    *r0 = 0;
  if (*r1 > g->in_h)
    *r1 = g->in_h;
}

/* Each tile gets a private copy of its halo rows and writes private partial
 * sums, which the "reducer" adds into the full tensors in a random order. */
static void tiled(spd_rng_t *rng, const spd_fx_window_t *g, const int16_t *x, const int16_t *w,
                  const int16_t *dz, int64_t *acc, int64_t *dx, int64_t *gw) {
  int row_cut = 1 + (int)spd_rng_below(rng, (uint32_t)g->out_h);
  int oc_cut = 1 + (int)spd_rng_below(rng, (uint32_t)g->out_c);
  int ic_cut = 1 + (int)spd_rng_below(rng, (uint32_t)g->in_c);
  spd_fx_conv_block_t tiles[8];
  int n = 0;
  for (int a = 0; a < 2; a++)
    for (int b = 0; b < 2; b++)
      for (int c = 0; c < 2; c++)
        tiles[n++] = (spd_fx_conv_block_t){a ? row_cut : 0, a ? g->out_h : row_cut,
                                           b ? oc_cut : 0,  b ? g->out_c : oc_cut,
                                           c ? ic_cut : 0,  c ? g->in_c : ic_cut, 0};
  uint32_t order[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  spd_rng_shuffle_u32(rng, order, 8);
  size_t row_in = (size_t)g->in_w * g->in_c, row_out = (size_t)g->out_w * g->out_c;
  for (int t = 0; t < 8; t++) {
    spd_fx_conv_block_t b = tiles[order[t]];
    if (b.oh0 >= b.oh1 || b.oc0 >= b.oc1 || b.ic0 >= b.ic1)
      continue;
    int r0, r1;
    halo(g, b.oh0, b.oh1, &r0, &r1);
    b.in_row0 = r0;
    size_t rows = (size_t)(r1 - r0), orows = (size_t)(b.oh1 - b.oh0);
    int64_t *pacc = calloc(orows * row_out, sizeof *pacc);
    int64_t *pdx = calloc(rows * row_in + 1, sizeof *pdx);
    spd_fx_conv_forward_block(pacc, x + r0 * row_in, w, g, &b);
    spd_fx_conv_backward_input_block(pdx, dz + b.oh0 * row_out, w, g, &b);
    spd_fx_conv_grad_block(gw, x + r0 * row_in, dz + b.oh0 * row_out, g, &b);
    for (size_t i = 0; i < orows * row_out; i++)
      acc[b.oh0 * row_out + i] += pacc[i];
    for (size_t i = 0; i < rows * row_in; i++)
      dx[r0 * row_in + i] += pdx[i];
    free(pacc);
    free(pdx);
  }
}

static void conv_tiles_equal_unsplit(void **state) {
  (void)state;
  spd_rng_t rng;
  spd_rng_init(&rng, 21, 0);
  for (size_t k = 0; k < sizeof geometries / sizeof geometries[0]; k++) {
    const spd_fx_window_t *g = &geometries[k];
    size_t nw = (size_t)g->k_h * g->k_w * g->in_c * g->out_c;
    int16_t *x = malloc(in_n(g) * 2), *w = malloc(nw * 2), *dz = malloc(out_n(g) * 2);
    fill16(&rng, x, in_n(g));
    fill16(&rng, w, nw);
    fill16(&rng, dz, out_n(g));
    int64_t *acc1 = calloc(out_n(g), 8), *acc2 = calloc(out_n(g), 8);
    int64_t *dx1 = calloc(in_n(g), 8), *dx2 = calloc(in_n(g), 8);
    int64_t *gw1 = calloc(nw, 8), *gw2 = calloc(nw, 8);
    spd_fx_conv_block_t whole = spd_fx_conv_whole(g);
    spd_fx_conv_forward_block(acc1, x, w, g, &whole);
    spd_fx_conv_backward_input_block(dx1, dz, w, g, &whole);
    spd_fx_conv_grad_block(gw1, x, dz, g, &whole);
    for (int trial = 0; trial < 5; trial++) {
      memset(acc2, 0, out_n(g) * 8);
      memset(dx2, 0, in_n(g) * 8);
      memset(gw2, 0, nw * 8);
      tiled(&rng, g, x, w, dz, acc2, dx2, gw2);
      assert_memory_equal(acc1, acc2, out_n(g) * 8);
      assert_memory_equal(dx1, dx2, in_n(g) * 8);
      assert_memory_equal(gw1, gw2, nw * 8);
    }
    /* The reducer rounds the exact sum once: compare with double. */
    int32_t *z = malloc(out_n(g) * 4);
    spd_fx_conv_reduce(z, acc1, NULL, g->out_h * g->out_w, g->out_c, 28, 24, NULL);
    for (size_t i = 0; i < out_n(g); i++)
      assert_true(z[i] == (int32_t)floor(ldexp((double)acc1[i], -12) + 0.5));
    free(z);
    free(x);
    free(w);
    free(dz);
    free(acc1);
    free(acc2);
    free(dx1);
    free(dx2);
    free(gw1);
    free(gw2);
  }
}

static void pooling_routes_and_averages(void **state) {
  (void)state;
  /* 3x3 input, one channel, 2x2 'same' windows with stride 2: 2x2 output;
   * the windows at the right and bottom edges hold 2 and 1 valid taps. */
  spd_fx_window_t g = {3, 3, 1, 2, 2, 1, 2, 2, 2, 2, 1, 1, 0, 0};
  const int16_t x[9] = {5, 5, 1, 2, -7, 3, 9, 9, 4};
  int16_t y[4];
  int32_t arg[4];
  spd_fx_maxpool_forward(y, arg, x, &g);
  assert_int_equal(y[0], 5);
  assert_int_equal(arg[0], 0); /* first of the two maxima */
  assert_int_equal(y[1], 3);
  assert_int_equal(y[2], 9);
  assert_int_equal(arg[2], 6);
  assert_int_equal(y[3], 4);
  const int16_t dy[4] = {10, 20, 30, 40};
  int64_t dx[9] = {0};
  spd_fx_maxpool_backward(dx, dy, arg, 4);
  assert_true(dx[0] == 10 && dx[1] == 0 && dx[5] == 20 && dx[6] == 30 && dx[8] == 40);
  spd_fx_const_t inv[5];
  for (int c = 1; c <= 4; c++)
    inv[c] = spd_fx_const_from_double(1.0 / c);
  spd_fx_avgpool_forward(y, x, &g, inv, NULL);
  assert_int_equal(y[0], 1);  /* (5+5+2-7)/4 = 1.25 */
  assert_int_equal(y[1], 2);  /* (1+3)/2 */
  assert_int_equal(y[2], 9);  /* (9+9)/2 */
  assert_int_equal(y[3], 4);
}

static spd_model_t *cnn(spd_layer_kind_t pool2) {
  spd_model_t *m;
  assert_int_equal(spd_model_new(NULL, "cnn", &m), 0);
  spd_layer_config_t cfg;
  int idx = -1, prev;
#define ADD(kind, name, body)                                                \
  do {                                                                       \
    prev = idx;                                                              \
    spd_layer_config_defaults(&cfg, kind, name);                             \
    body;                                                                    \
    assert_int_equal(spd_model_add(m, &cfg, &prev, 1, &idx), 0);             \
  } while (0)
  spd_layer_config_defaults(&cfg, SPD_LAYER_INPUT, "in");
  cfg.input_shape = (spd_shape_t){3, {8, 8, 1}};
  assert_int_equal(spd_model_add(m, &cfg, NULL, 0, &idx), 0);
  ADD(SPD_LAYER_CONV2D, "c1", {
    cfg.filters = 4;
    cfg.kernel_size[0] = cfg.kernel_size[1] = 3;
    cfg.padding = SPD_PAD_SAME;
    cfg.activation = SPD_ACT_RELU;
  });
  ADD(SPD_LAYER_MAXPOOL2D, "p1", {
    cfg.pool_size[0] = cfg.pool_size[1] = 2;
    cfg.strides[0] = cfg.strides[1] = 2;
  });
  ADD(SPD_LAYER_CONV2D, "c2", {
    cfg.filters = 6;
    cfg.kernel_size[0] = cfg.kernel_size[1] = 3;
    cfg.activation = SPD_ACT_TANH;
  });
  if (pool2 == SPD_LAYER_GLOBALAVGPOOL2D) {
    ADD(SPD_LAYER_GLOBALAVGPOOL2D, "gap", {});
  } else {
    ADD(SPD_LAYER_AVGPOOL2D, "p2", {
      cfg.pool_size[0] = cfg.pool_size[1] = 2;
      cfg.strides[0] = cfg.strides[1] = 2;
      cfg.padding = SPD_PAD_SAME;
    });
    ADD(SPD_LAYER_FLATTEN, "flat", {});
  }
  ADD(SPD_LAYER_DENSE, "out", {
    cfg.units = 2;
    cfg.activation = SPD_ACT_SOFTMAX;
  });
#undef ADD
  assert_int_equal(spd_model_build(m, 3), 0);
  return m;
}

enum { N = 128, B = 16 };

/* Class 1 images have a bright upper half, class 0 a bright lower half. */
static void images(float *x, int32_t *labels) {
  spd_rng_t rng;
  spd_rng_init(&rng, 8, 0);
  for (int s = 0; s < N; s++) {
    labels[s] = s % 2;
    for (int p = 0; p < 64; p++) {
      bool upper = p < 32;
      double base = (upper == (labels[s] == 1)) ? 0.7 : 0.2;
      x[s * 64 + p] = (float)fmin(1, fmax(0, base + 0.15 * spd_rng_normal(&rng)));
    }
  }
}

static void small_cnn_trains(void **state) {
  (void)state;
  float x[N * 64];
  int32_t labels[N];
  images(x, labels);
  const spd_layer_kind_t tails[] = {SPD_LAYER_AVGPOOL2D, SPD_LAYER_GLOBALAVGPOOL2D};
  for (int t = 0; t < 2; t++) {
    spd_model_t *m = cnn(tails[t]);
    spd_numeric_plan_t *plan;
    assert_int_equal(spd_numeric_plan_new(NULL, m, &plan), 0);
    spd_fx_net_t *net;
    assert_int_equal(spd__fx_net_new(NULL, m, plan, SPD_FX_LOSS_SPARSE_CE, false, B, 1, &net), 0);
    spd_numeric_plan_free(plan);
    spd_fx_batch_t first = {x, labels, NULL, B};
    assert_int_equal(spd__fx_net_calibrate(net, &first, 2), 0);
    spd_fx_hyper_t h = {.kind = SPD_FX_OPT_SGD, .lr = 0.1, .momentum = 0.9};
    spd_fx_result_t res = {0};
    for (int e = 0; e < 8; e++) {
      res = (spd_fx_result_t){0};
      for (int s = 0; s < N; s += B) {
        spd_fx_batch_t b = {x + s * 64, labels + s, NULL, B};
        assert_int_equal(spd__fx_net_train_batch(net, &b, &h, NULL, &res), 0);
        h.step++;
      }
    }
    assert_true(res.correct >= N * 9 / 10);
    assert_true(res.loss_sum / N < 0.4);
    spd__fx_net_free(net);
    spd_model_free(m);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(conv_tiles_equal_unsplit),
      cmocka_unit_test(pooling_routes_and_averages),
      cmocka_unit_test(small_cnn_trains),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
