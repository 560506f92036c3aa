/* Reference executor forward values against hand-computed results, the
 * executor's loss fusion, its errors and its allocation failures. */
#include "test_support.h"

#include <math.h>
#include <string.h>

#include "nn/conv_gemm.h"
#include "spindle/reference.h"
#include "spindle/rng.h"

#define TOL 1e-5f

static void assert_floats(const float *got, const float *want, size_t n, float tol) {
  for (size_t i = 0; i < n; i++) {
    if (fabsf(got[i] - want[i]) > tol * (1.0f + fabsf(want[i])))
      print_message("element %zu: got %.7g want %.7g\n", i, (double)got[i], (double)want[i]);
    assert_true(fabsf(got[i] - want[i]) <= tol * (1.0f + fabsf(want[i])));
  }
}

static void dense_values(void **state) {
  (void)state;
  const float in[] = {1, 2}, w[] = {1, 2, 3, 4, 5, 6}, b[] = {0.5f, 0, -1};
  float out[3];
  spd_dense_params_t p = {1, 2, 3};
  spd_dense_forward(out, in, w, b, &p);
  assert_floats(out, (const float[]){9.5f, 12, 14}, 3, TOL);
  float din[2] = {0}, dw[6] = {0}, db[3] = {0};
  const float dout[] = {1, 0, -1};
  spd_dense_backward(din, dw, db, dout, in, w, &p);
  assert_floats(din, (const float[]){-2, -2}, 2, TOL);
  assert_floats(dw, (const float[]){1, 0, -1, 2, 0, -2}, 6, TOL);
  assert_floats(db, dout, 3, TOL);
}

/* 4x4 input 1..16 (one channel). */
static void grid16(float *x) {
  for (int i = 0; i < 16; i++)
    x[i] = (float)(i + 1);
}

/* TensorFlow's SAME padding on 4 positions, window 3, stride 2: total 1, all
 * of it after the input (PyTorch's symmetric padding would differ). */
static spd_window_params_t same_3x3_s2(int out_c) {
  spd_window_params_t p = {.batch = 1, .in_h = 4, .in_w = 4, .in_c = 1, .out_h = 2,
                           .out_w = 2, .out_c = out_c, .k_h = 3, .k_w = 3, .stride_h = 2,
                           .stride_w = 2, .dil_h = 1, .dil_w = 1, .pad_top = 0, .pad_left = 0};
  return p;
}

static void conv2d_same_strided_values(void **state) {
  (void)state;
  float x[16], w[9], out[4];
  grid16(x);
  for (int i = 0; i < 9; i++)
    w[i] = 1.0f;
  spd_window_params_t p = same_3x3_s2(1);
  spd_conv_forward(out, x, w, NULL, &p);
  assert_floats(out, (const float[]){54, 45, 72, 54}, 4, TOL);
}

static void conv1d_dilated_values(void **state) {
  (void)state;
  const float x[] = {1, 2, 3, 4, 5}, w[] = {1, 10}, b[] = {0.5f};
  float out[3];
  spd_window_params_t p = {.batch = 1, .in_h = 1, .in_w = 5, .in_c = 1, .out_h = 1,
                           .out_w = 3, .out_c = 1, .k_h = 1, .k_w = 2, .stride_h = 1,
                           .stride_w = 1, .dil_h = 1, .dil_w = 2};
  spd_conv_forward(out, x, w, b, &p);
  assert_floats(out, (const float[]){31.5f, 42.5f, 53.5f}, 3, TOL);
}

static void fill_random(float *x, size_t n, spd_rng_t *rng) {
  for (size_t i = 0; i < n; i++)
    x[i] = 2.0f * spd_rng_uniform(rng) - 1.0f;
}

/* The executor's lowered convolution equals the direct oracle exactly. */
static void conv_gemm_equals_direct(void **state) {
  (void)state;
  static const spd_window_params_t cases[] = {
      /* B, ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, dh, dw, pad_top, pad_left, groups */
      {2, 7, 6, 2, 4, 3, 3, 3, 3, 2, 2, 1, 1, 1, 0, 1},   /* SAME, stride 2 */
      {1, 9, 9, 3, 5, 5, 4, 3, 3, 1, 1, 2, 2, 0, 0, 1},   /* dilation 2, valid */
      {2, 6, 6, 2, 6, 6, 5, 2, 2, 1, 1, 1, 1, 0, 0, 1},   /* even kernel SAME */
      {3, 1, 11, 2, 1, 6, 3, 1, 3, 1, 2, 1, 1, 0, 1, 1},  /* Conv1D SAME, stride 2 */
      {2, 28, 28, 1, 28, 28, 6, 5, 5, 1, 1, 1, 1, 2, 2, 1}, /* LeNet conv1 */
  };
  spd_rng_t rng;
  spd_rng_init(&rng, 4, 0);
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    const spd_window_params_t *p = &cases[c];
    size_t in_n = (size_t)p->batch * p->in_h * p->in_w * p->in_c;
    size_t out_n = (size_t)p->batch * p->out_h * p->out_w * p->out_c;
    size_t w_n = (size_t)p->k_h * p->k_w * p->in_c * p->out_c;
    float *in = test_malloc(in_n * sizeof(float)), *w = test_malloc(w_n * sizeof(float));
    float *b = test_malloc((size_t)p->out_c * sizeof(float));
    float *d = test_malloc(out_n * sizeof(float)), *o1 = test_malloc(out_n * sizeof(float));
    float *o2 = test_malloc(out_n * sizeof(float));
    float *dx1 = test_calloc(in_n, sizeof(float)), *dx2 = test_calloc(in_n, sizeof(float));
    float *dw1 = test_calloc(w_n, sizeof(float)), *dw2 = test_calloc(w_n, sizeof(float));
    float *db1 = test_calloc((size_t)p->out_c, sizeof(float));
    float *db2 = test_calloc((size_t)p->out_c, sizeof(float));
    float *scratch = test_malloc(spd__conv_gemm_scratch(p) * sizeof(float));
    fill_random(in, in_n, &rng);
    fill_random(w, w_n, &rng);
    fill_random(b, (size_t)p->out_c, &rng);
    fill_random(d, out_n, &rng);
    spd_conv_forward(o1, in, w, c % 2 ? NULL : b, p);
    spd__conv_gemm_forward(o2, in, w, c % 2 ? NULL : b, p, scratch);
    spd_conv_backward(dx1, dw1, db1, d, in, w, p);
    spd__conv_gemm_backward(dx2, dw2, db2, d, in, w, p, scratch);
    for (size_t i = 0; i < out_n; i++)
      assert_true(o1[i] == o2[i]);
    for (size_t i = 0; i < in_n; i++)
      assert_true(dx1[i] == dx2[i]);
    for (size_t i = 0; i < w_n; i++)
      assert_true(dw1[i] == dw2[i]);
    for (int i = 0; i < p->out_c; i++)
      assert_true(db1[i] == db2[i]);
    float *all[] = {in, w, b, d, o1, o2, dx1, dx2, dw1, dw2, db1, db2, scratch};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
      test_free(all[i]);
  }
}

static void pooling_same_values(void **state) {
  (void)state;
  float x[16], out[4];
  grid16(x);
  spd_window_params_t p = same_3x3_s2(1);
  /* Averages divide by the valid elements only: 9, 6, 6 and 4. */
  spd_avgpool_forward(out, x, &p);
  assert_floats(out, (const float[]){6, 7.5f, 12, 13.5f}, 4, TOL);
  spd_maxpool_forward(out, x, &p);
  assert_floats(out, (const float[]){11, 12, 15, 16}, 4, TOL);
  float din[16] = {0};
  spd_maxpool_backward(din, (const float[]){1, 2, 3, 4}, x, &p);
  assert_float_equal(din[10], 1, 0);
  assert_float_equal(din[11], 2, 0);
  assert_float_equal(din[14], 3, 0);
  assert_float_equal(din[15], 4, 0);
  memset(din, 0, sizeof din);
  spd_avgpool_backward(din, (const float[]){6, 6, 6, 4}, &p);
  assert_float_equal(din[0], 6.0f / 9, 1e-6);
  assert_float_equal(din[3], 1, 1e-6);        /* only in window (0,1) */
  assert_float_equal(din[10], 6.0f / 9 + 1 + 1 + 1, 1e-5); /* in all four */
  const float gap_in[] = {1, 10, 2, 20, 3, 30, 6, 60};
  float gap_out[2];
  spd_gap_params_t g = {1, 4, 2};
  spd_gap_forward(gap_out, gap_in, &g);
  assert_floats(gap_out, (const float[]){3, 30}, 2, TOL);
}

static void activation_values(void **state) {
  (void)state;
  const float x[] = {-1, 0, 2};
  float y[3];
  struct {
    spd_activation_t kind;
    float want[3];
  } cases[] = {
      {SPD_ACT_LINEAR, {-1, 0, 2}},
      {SPD_ACT_RELU, {0, 0, 2}},
      {SPD_ACT_SIGMOID, {0.26894142f, 0.5f, 0.88079708f}},
      {SPD_ACT_TANH, {-0.76159416f, 0, 0.96402758f}},
      {SPD_ACT_LEAKY_RELU, {-0.2f, 0, 2}},
      {SPD_ACT_ELU, {-0.63212056f, 0, 2}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    spd_act_params_t p = {cases[i].kind, 1, 3, 0.2f, 1.0f};
    spd_activation_forward(y, x, &p);
    assert_floats(y, cases[i].want, 3, TOL);
  }
  const float z[] = {0, logf(2), logf(3), 5, 5, 5};
  float s[6];
  spd_act_params_t p = {SPD_ACT_SOFTMAX, 2, 3, 0.2f, 1.0f};
  spd_activation_forward(s, z, &p);
  assert_floats(s, (const float[]){1.0f / 6, 2.0f / 6, 3.0f / 6, 1.0f / 3, 1.0f / 3, 1.0f / 3},
                6, TOL);
}

static void batchnorm_values(void **state) {
  (void)state;
  const float x[] = {1, 10, 5, 30}; /* two rows, channels (a, b) */
  float y[4], mean[2], inv_std[2];
  float gamma[] = {1, 2}, beta[] = {0, 1}, mm[] = {0, 1}, mv[] = {1, 2};
  spd_batchnorm_params_t p = {2, 2, 0.001f, 0.99f, true, false};
  spd_batchnorm_forward(y, mean, inv_std, x, gamma, beta, mm, mv, &p);
  /* Channel a: mean 3, biased variance 4; channel b: mean 20, variance 100. */
  float a = 2.0f / sqrtf(4.001f), b = 10.0f / sqrtf(100.001f);
  assert_floats(y, (const float[]){-a, 1 - 2 * b, a, 1 + 2 * b}, 4, TOL);
  assert_floats(mm, (const float[]){0.03f, 0.99f + 0.2f}, 2, TOL);
  assert_floats(mv, (const float[]){0.99f + 0.04f, 1.98f + 1.0f}, 2, TOL);
  /* Inference uses the moving statistics. */
  p.training = false;
  spd_batchnorm_forward(y, mean, inv_std, x, gamma, beta, mm, mv, &p);
  assert_float_equal(y[0], (1 - 0.03f) / sqrtf(1.03f + 0.001f), 1e-5);
  /* tf.keras 2's fused variant: Bessel-corrected variance into the average. */
  float mm2[] = {0, 0}, mv2[] = {1, 1};
  p.training = true;
  p.unbiased_moving_variance = true;
  spd_batchnorm_forward(y, mean, inv_std, x, NULL, NULL, mm2, mv2, &p);
  assert_float_equal(mv2[0], 0.99f + 0.08f, 1e-5);
}

static void loss_values(void **state) {
  (void)state;
  const float probs[] = {0.25f, 0.25f, 0.5f, 0.7f, 0.2f, 0.1f};
  const float onehot[] = {0, 0, 1, 1, 0, 0}, sparse[] = {2, 0};
  spd_loss_params_t p = {SPD_LOSS_CATEGORICAL_CROSSENTROPY, false, 2, 3};
  double want = (-log(0.5) - log(0.7)) / 2;
  assert_float_equal(spd_loss_forward(probs, onehot, &p), want, 1e-6);
  p.kind = SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
  assert_float_equal(spd_loss_forward(probs, sparse, &p), want, 1e-6);
  const float logits[] = {0, 0, logf(2), 1, 1, 1};
  p.from_logits = true;
  assert_float_equal(spd_loss_forward(logits, sparse, &p), (log(2) + log(3)) / 2, 1e-6);
  float d[6];
  spd_loss_backward(d, logits, sparse, &p);
  assert_floats(d, (const float[]){0.125f, 0.125f, -0.25f, 1.0f / 6 - 0.5f, 1.0f / 6, 1.0f / 6},
                6, TOL);
  /* Binary crossentropy clips at 1e-7 and takes the mean over the last axis. */
  const float bp[] = {0.8f, 0.0f}, by[] = {1, 1};
  spd_loss_params_t b = {SPD_LOSS_BINARY_CROSSENTROPY, false, 1, 2};
  assert_float_equal(spd_loss_forward(bp, by, &b), (-log(0.8) - log(1e-7)) / 2, 1e-4);
  spd_loss_backward(d, bp, by, &b);
  assert_float_equal(d[0], -1.0 / 0.8 / 2, 1e-6);
  assert_float_equal(d[1], 0, 0); /* clipped: no gradient */
  spd_loss_params_t m = {SPD_LOSS_MSE, false, 2, 2};
  const float mp[] = {1, 2, 3, 4}, my[] = {0, 0, 3, 2};
  assert_float_equal(spd_loss_forward(mp, my, &m), (2.5 + 2.0) / 2, 1e-9);
  assert_int_equal(spd_loss_parse("mse"), SPD_LOSS_MSE);
  assert_int_equal(spd_loss_parse("CategoricalCrossentropy"), SPD_LOSS_CATEGORICAL_CROSSENTROPY);
  assert_string_equal(spd_loss_name(SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY),
                      "sparse_categorical_crossentropy");
  assert_int_equal(spd_loss_parse("hinge"), -1);
}

static void add_reshape_values(void **state) {
  (void)state;
  const float a[] = {1, 2}, b[] = {10, 20}, c[] = {100, 200};
  const float *ins[] = {a, b, c};
  float out[2], da[2] = {0}, db[2] = {1, 1};
  spd_add_forward(out, ins, 3, 2);
  assert_floats(out, (const float[]){111, 222}, 2, TOL);
  float *dins[] = {da, db, NULL};
  spd_add_backward(dins, (const float[]){3, 4}, 3, 2);
  assert_floats(da, (const float[]){3, 4}, 2, TOL);
  assert_floats(db, (const float[]){4, 5}, 2, TOL);
}

/* Input(2) -> Dense(3, softmax) with known weights. */
static spd_model_t *softmax_model(spd_ctx_t *ctx) {
  spd_model_t *m;
  if (spd_model_new(ctx, "soft", &m))
    return NULL;
  spd_layer_config_t c;
  spd_layer_config_defaults(&c, SPD_LAYER_INPUT, "");
  c.input_shape = (spd_shape_t){1, {2}};
  int from = 0;
  spd_layer_config_t d;
  spd_layer_config_defaults(&d, SPD_LAYER_DENSE, "");
  d.units = 3;
  d.activation = SPD_ACT_SOFTMAX;
  if (spd_model_add(m, &c, NULL, 0, NULL) || spd_model_add(m, &d, &from, 1, NULL) ||
      spd_model_build(m, 1)) {
    spd_model_free(m);
    return NULL;
  }
  return m;
}

static void executor_fuses_softmax_crossentropy(void **state) {
  (void)state;
  spd_model_t *m = softmax_model(NULL);
  assert_non_null(m);
  const float w[] = {1, 0, -1, 0.5f, 2, 0}, b[] = {0, 0.1f, 0.2f};
  memcpy(m->layers[1].params[0].value.data, w, sizeof w);
  memcpy(m->layers[1].params[1].value.data, b, sizeof b);
  spd_ref_t *ref;
  assert_int_equal(spd_ref_new(m, 4, NULL, &ref), 0);
  const float x[] = {1, 2, -1, 0.5f};
  const float labels[] = {0, 1, 0, 0, 0, 1};
  assert_int_equal(spd_ref_forward(ref, x, 2, false), 0);
  const float *probs = spd_ref_output(ref, 1);
  float z[6];
  spd_dense_params_t dp = {2, 2, 3};
  spd_dense_forward(z, x, w, b, &dp);
  float want[6];
  spd_act_params_t sp = {SPD_ACT_SOFTMAX, 2, 3, 0, 1};
  spd_activation_forward(want, z, &sp);
  assert_floats(probs, want, 6, TOL);
  double fused, plain;
  assert_int_equal(spd_ref_loss(ref, SPD_LOSS_CATEGORICAL_CROSSENTROPY, false, labels, &fused), 0);
  spd_loss_params_t lp = {SPD_LOSS_CATEGORICAL_CROSSENTROPY, false, 2, 3};
  plain = spd_loss_forward(probs, labels, &lp);
  assert_float_equal(fused, plain, 1e-6);
  /* The bias gradient of a softmax + crossentropy output is mean(p - y). */
  assert_int_equal(spd_ref_backward(ref, SPD_LOSS_CATEGORICAL_CROSSENTROPY, false, labels, NULL),
                   0);
  spd_tensor_t db = spd_ref_grad(ref, 1, 1);
  assert_non_null(db.data);
  for (int j = 0; j < 3; j++)
    assert_float_equal(db.data[j], (probs[j] - labels[j] + probs[3 + j] - labels[3 + j]) / 2,
                       1e-6);
  assert_null(spd_ref_grad(ref, 1, 2).data);
  /* Errors: batch beyond capacity, labels that are not classes. */
  assert_int_equal(spd_ref_forward(ref, x, 5, false), SPD_ERANGE);
  const float bad[] = {0, 3};
  double loss;
  assert_int_equal(spd_ref_loss(ref, SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, false, bad, &loss),
                   SPD_EINVAL);
  assert_non_null(strstr(spd_ctx_message(NULL), "label 3 of row 1"));
  spd_ref_free(ref);
  spd_model_free(m);
}

/* The per-layer entries run one layer on buffers the test fills. */
static void executor_single_layer_entries(void **state) {
  (void)state;
  spd_model_t *m = softmax_model(NULL);
  assert_non_null(m);
  const float w[] = {1, 0, -1, 0.5f, 2, 0}, b[] = {0, 0.1f, 0.2f};
  memcpy(m->layers[1].params[0].value.data, w, sizeof w);
  memcpy(m->layers[1].params[1].value.data, b, sizeof b);
  spd_ref_options_t opts;
  spd_ref_options_default(&opts);
  opts.input_gradient = true;
  spd_ref_t *ref;
  assert_int_equal(spd_ref_new(m, 2, &opts, &ref), 0);
  assert_int_equal(spd_ref_set_batch(ref, 3), SPD_ERANGE);
  assert_int_equal(spd_ref_set_batch(ref, 1), 0);
  const float x[] = {1, 2};
  memcpy(spd_ref_output(ref, 0), x, sizeof x);
  assert_int_equal(spd_ref_layer_forward(ref, 1, false), 0);
  float z[3], y[3];
  spd_dense_params_t dp = {1, 2, 3};
  spd_dense_forward(z, x, w, b, &dp);
  spd_act_params_t sp = {SPD_ACT_SOFTMAX, 1, 3, 0, 1};
  spd_activation_forward(y, z, &sp);
  assert_floats(spd_ref_output(ref, 1), y, 3, TOL);
  /* Backward from a given output gradient goes through the softmax. */
  spd_ref_zero_grads(ref);
  const float dy[] = {1, 0, 0};
  memcpy(spd_ref_output_grad(ref, 1), dy, sizeof dy);
  assert_int_equal(spd_ref_layer_backward(ref, 1), 0);
  float dz[3] = {0}, dx[2] = {0}, dw[6] = {0}, db[3] = {0};
  spd_activation_backward(dz, dy, y, &sp);
  spd_dense_backward(dx, dw, db, dz, x, w, &dp);
  assert_floats(spd_ref_output_grad(ref, 0), dx, 2, TOL);
  assert_floats(spd_ref_grad(ref, 1, 0).data, dw, 6, TOL);
  assert_floats(spd_ref_grad(ref, 1, 1).data, db, 3, TOL);
  assert_int_equal(spd_ref_layer_forward(ref, 7, false), SPD_EINVAL);
  spd_ref_free(ref);
  spd_model_free(m);
}

static void executor_dropout_masks(void **state) {
  (void)state;
  spd_model_t *m;
  assert_int_equal(spd_model_new(NULL, "drop", &m), 0);
  spd_layer_config_t c;
  spd_layer_config_defaults(&c, SPD_LAYER_INPUT, "");
  c.input_shape = (spd_shape_t){1, {256}};
  int last;
  assert_int_equal(spd_model_add(m, &c, NULL, 0, &last), 0);
  spd_layer_config_defaults(&c, SPD_LAYER_DROPOUT, "");
  c.rate = 0.5f;
  assert_int_equal(spd_model_add(m, &c, &last, 1, &last), 0);
  assert_int_equal(spd_model_build(m, 1), 0);
  spd_ref_t *ref;
  assert_int_equal(spd_ref_new(m, 1, NULL, &ref), 0);
  float x[256], first[256];
  for (int i = 0; i < 256; i++)
    x[i] = 1.0f;
  assert_int_equal(spd_ref_forward(ref, x, 1, false), 0);
  assert_floats(spd_ref_output(ref, 1), x, 256, 0);
  assert_int_equal(spd_ref_forward(ref, x, 1, true), 0);
  memcpy(first, spd_ref_output(ref, 1), sizeof first);
  int kept = 0;
  for (int i = 0; i < 256; i++) {
    assert_true(first[i] == 0.0f || first[i] == 2.0f);
    kept += first[i] != 0.0f;
  }
  assert_in_range(kept, 100, 156);
  /* The next sample gets a new mask; a fresh executor repeats the first. */
  assert_int_equal(spd_ref_forward(ref, x, 1, true), 0);
  assert_memory_not_equal(spd_ref_output(ref, 1), first, sizeof first);
  spd_ref_free(ref);
  assert_int_equal(spd_ref_new(m, 1, NULL, &ref), 0);
  assert_int_equal(spd_ref_forward(ref, x, 1, true), 0);
  assert_memory_equal(spd_ref_output(ref, 1), first, sizeof first);
  spd_ref_free(ref);
  spd_model_free(m);
}

static void executor_rejects_unbuilt_model(void **state) {
  (void)state;
  spd_model_t *m;
  spd_ref_t *ref;
  assert_int_equal(spd_model_new(NULL, "unbuilt", &m), 0);
  assert_int_equal(spd_ref_new(m, 1, NULL, &ref), SPD_ESTATE);
  assert_non_null(strstr(spd_ctx_message(NULL), "'unbuilt'"));
  spd_model_free(m);
}

/* LeNet-5 on 28x28x1 and its executor, under a failing allocator. */
static int lenet_and_executor(spd_ctx_t *ctx, spd_model_t **mo, spd_ref_t **ro) {
  static const struct {
    spd_layer_kind_t kind;
    int n, k;
    spd_padding_t pad;
    spd_activation_t act;
  } spec[] = {
      {SPD_LAYER_CONV2D, 6, 5, SPD_PAD_SAME, SPD_ACT_RELU},
      {SPD_LAYER_MAXPOOL2D, 0, 2, SPD_PAD_VALID, SPD_ACT_LINEAR},
      {SPD_LAYER_CONV2D, 16, 5, SPD_PAD_VALID, SPD_ACT_RELU},
      {SPD_LAYER_MAXPOOL2D, 0, 2, SPD_PAD_VALID, SPD_ACT_LINEAR},
      {SPD_LAYER_FLATTEN, 0, 0, SPD_PAD_VALID, SPD_ACT_LINEAR},
      {SPD_LAYER_DENSE, 120, 0, SPD_PAD_VALID, SPD_ACT_RELU},
      {SPD_LAYER_DENSE, 84, 0, SPD_PAD_VALID, SPD_ACT_RELU},
      {SPD_LAYER_DENSE, 10, 0, SPD_PAD_VALID, SPD_ACT_SOFTMAX},
  };
  spd_model_t *m;
  int rc = spd_model_new(ctx, "lenet5", &m);
  if (rc)
    return rc;
  spd_layer_config_t c;
  spd_layer_config_defaults(&c, SPD_LAYER_INPUT, "");
  c.input_shape = (spd_shape_t){3, {28, 28, 1}};
  int last = 0;
  rc = spd_model_add(m, &c, NULL, 0, &last);
  for (size_t i = 0; rc == 0 && i < sizeof spec / sizeof spec[0]; i++) {
    spd_layer_config_defaults(&c, spec[i].kind, "");
    c.filters = c.units = spec[i].n;
    if (spec[i].kind == SPD_LAYER_CONV2D)
      c.kernel_size[0] = c.kernel_size[1] = spec[i].k;
    c.padding = spec[i].pad;
    c.activation = spec[i].act;
    rc = spd_model_add(m, &c, &last, 1, &last);
  }
  if (rc == 0)
    rc = spd_model_build(m, 5);
  if (rc == 0)
    rc = spd_ref_new(m, 8, NULL, ro);
  if (rc) {
    spd_model_free(m);
    return rc;
  }
  *mo = m;
  return 0;
}

static void allocation_failures_leak_nothing(void **state) {
  (void)state;
  bool done = false;
  for (uint64_t fail_at = 1; !done; fail_at++) {
    spd_ctx_t ctx;
    spd_ctx_init(&ctx);
    spd_test_alloc_t ta;
    spd_test_alloc_install(&ctx, &ta, fail_at);
    spd_model_t *m = NULL;
    spd_ref_t *ref = NULL;
    int rc = lenet_and_executor(&ctx, &m, &ref);
    if (rc == 0) {
      done = ta.failed == 0;
      spd_ref_free(ref);
      spd_model_free(m);
    } else {
      assert_int_equal(rc, SPD_ENOMEM);
      assert_int_equal(ta.failed, 1);
    }
    assert_int_equal(ta.live, 0);
    assert_true(fail_at < 200);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(dense_values),
      cmocka_unit_test(conv2d_same_strided_values),
      cmocka_unit_test(conv1d_dilated_values),
      cmocka_unit_test(conv_gemm_equals_direct),
      cmocka_unit_test(pooling_same_values),
      cmocka_unit_test(activation_values),
      cmocka_unit_test(batchnorm_values),
      cmocka_unit_test(loss_values),
      cmocka_unit_test(add_reshape_values),
      cmocka_unit_test(executor_fuses_softmax_crossentropy),
      cmocka_unit_test(executor_single_layer_entries),
      cmocka_unit_test(executor_dropout_masks),
      cmocka_unit_test(executor_rejects_unbuilt_model),
      cmocka_unit_test(allocation_failures_leak_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
