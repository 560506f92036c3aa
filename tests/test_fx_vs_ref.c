/* The fixed-point reference against the float reference executor
 * (reference.h) on one batch: outputs, loss and every kernel and bias
 * gradient of Dense, Conv2D and pooling layers with each activation and
 * loss, within bounds that follow from the formats of docs/numerics.md. */
#include "test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/fx_net_internal.h"
#include "spindle/reference.h"
#include "spindle/rng.h"

enum { B = 16 };

typedef struct spec {
  spd_layer_kind_t kind;
  int units;                     /* Dense units or Conv filters */
  spd_activation_t act;
} spec_t;

static spd_model_t *build(const spd_shape_t *in, const spec_t *layers, int n) {
  spd_model_t *m;
  assert_int_equal(spd_model_new(NULL, "m", &m), 0);
  spd_layer_config_t cfg;
  int idx = -1, prev;
  spd_layer_config_defaults(&cfg, SPD_LAYER_INPUT, "in");
  cfg.input_shape = *in;
  assert_int_equal(spd_model_add(m, &cfg, NULL, 0, &idx), 0);
  for (int i = 0; i < n; i++) {
    char name[16];
    snprintf(name, sizeof name, "l%d", i);
    prev = idx;
    spd_layer_config_defaults(&cfg, layers[i].kind, name);
    cfg.activation = layers[i].act;
    cfg.units = cfg.filters = layers[i].units;
    cfg.kernel_size[0] = cfg.kernel_size[1] = 3;
    cfg.pool_size[0] = cfg.pool_size[1] = 2;
    cfg.strides[0] = cfg.strides[1] = layers[i].kind == SPD_LAYER_CONV2D ? 1 : 2;
    cfg.padding = layers[i].kind == SPD_LAYER_AVGPOOL2D ? SPD_PAD_SAME : SPD_PAD_VALID;
    assert_int_equal(spd_model_add(m, &cfg, &prev, 1, &idx), 0);
  }
  assert_int_equal(spd_model_build(m, 11), 0);
  return m;
}

static spd_fx_loss_t fx_loss_of(spd_loss_kind_t k) {
  return k == SPD_LOSS_MSE ? SPD_FX_LOSS_MSE
         : k == SPD_LOSS_BINARY_CROSSENTROPY ? SPD_FX_LOSS_BCE
                                             : SPD_FX_LOSS_SPARSE_CE;
}

static double max_abs(const float *v, size_t n) {
  double m = 1e-12;
  for (size_t i = 0; i < n; i++)
    m = fmax(m, fabs((double)v[i]));
  return m;
}

/* Largest |a - b| relative to @p scale (the largest |b| when 0). */
static double rel_err(const float *a, const float *b, size_t n, double scale) {
  double diff = 0;
  for (size_t i = 0; i < n; i++)
    diff = fmax(diff, fabs((double)a[i] - b[i]));
  return diff / (scale > 0 ? scale : max_abs(b, n));
}

static void compare_model(spd_model_t *m, spd_loss_kind_t loss, double grad_bound) {
  const spd_shape_t *in = &m->layers[0].output_shape;
  int n = m->n_layers - 1;
  size_t in_size = spd_shape_size(in), out_units = spd_shape_size(&m->layers[m->output].output_shape);
  float x[B * 256], labels_f[B * 8], targets[B * 8];
  int32_t labels[B];
  spd_rng_t rng;
  spd_rng_init(&rng, 4, 0);
  for (size_t i = 0; i < B * in_size; i++)
    x[i] = spd_rng_uniform(&rng);
  for (int s = 0; s < B; s++) {
    labels[s] = (int32_t)spd_rng_below(&rng, (uint32_t)out_units);
    for (size_t c = 0; c < out_units; c++)
      targets[s * out_units + c] = loss == SPD_LOSS_MSE ? spd_rng_uniform(&rng)
                                                        : (float)((size_t)labels[s] == c);
  }
  bool sparse = loss == SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
  for (int s = 0; s < B; s++)
    labels_f[s] = (float)labels[s];
  spd_ref_options_t opts;
  spd_ref_options_default(&opts);
  spd_ref_t *ref;
  assert_int_equal(spd_ref_new(m, B, &opts, &ref), 0);
  assert_int_equal(spd_ref_forward(ref, x, B, true), 0);
  double ref_loss;
  assert_int_equal(spd_ref_backward(ref, loss, false, sparse ? labels_f : targets, &ref_loss), 0);

  spd_numeric_plan_t *plan;
  assert_int_equal(spd_numeric_plan_new(NULL, m, &plan), 0);
  spd_fx_net_t *net;
  assert_int_equal(spd__fx_net_new(NULL, m, plan, fx_loss_of(loss), false, B, 1, &net), 0);
  spd_numeric_plan_free(plan);
  spd_fx_batch_t b = {x, sparse ? labels : NULL, sparse ? NULL : targets, B};
  assert_int_equal(spd__fx_net_calibrate(net, &b, 2), 0);
  float out[B * 8];
  spd_fx_result_t res = {0};
  net->training = true;
  spd__fx_net_forward(net, x, B);
  for (int s = 0; s < B; s++) {
    spd__fx_net_select(net, s);
    for (size_t c = 0; c < out_units; c++)
      out[s * out_units + c] = spd_fx_to_float(net->layers[n].y[c], net->plan->layers[n].act_frac);
    spd__fx_loss_sample(net, &b, s, &res);
  }
  spd__fx_net_backward(net, B);
  /* Outputs within a few LSB of s4.11 / s1.14; the mean loss likewise. */
  assert_true(rel_err(out, spd_ref_output(ref, n), B * out_units, 0) < 0.02);
  assert_true(fabs(res.loss_sum / B - ref_loss) < 0.01 * fmax(1.0, ref_loss));
  for (int i = 1; i <= n; i++) {
    const fx_layer_t *fl = &net->layers[i];
    /* Errors relative to the layer's largest gradient: a bias feeding a
     * BatchNormalization has a gradient of zero in exact arithmetic. */
    double scale = 0;
    for (int p = 0; p < 2 && fl->kernel.grad; p++) {
      spd_tensor_t g = spd_ref_grad(ref, i, p);
      scale = fmax(scale, max_abs(g.data, spd_shape_size(&g.shape)));
    }
    for (int p = 0; p < 2 && fl->kernel.grad; p++) {
      const fx_param_t *param = p ? &fl->bias : &fl->kernel;
      int frac = net->plan->layers[i].grad_frac;
      if (p == 0) /* kernel: x dz; BatchNormalization's gamma: xhat dz */
        frac += fl->kind == SPD_LAYER_BATCHNORM ? 16 : spd_numeric_input_frac(net->plan, m, i);
      spd_tensor_t g = spd_ref_grad(ref, i, p);
      float fixed[4096];
      assert_true(param->n <= 4096);
      for (size_t e = 0; e < param->n; e++) /* the batch mean of the exact sums */
        fixed[e] = (float)(ldexp((double)param->grad[e], -frac) / B);
      double err = rel_err(fixed, g.data, param->n, scale);
      if (getenv("SPD_VERBOSE") || err > grad_bound)
        printf("layer %d param %d: relative gradient error %.4f (bound %.4f)\n", i, p, err, grad_bound);
      assert_true(err <= grad_bound);
    }
  }
  assert_int_equal(spd__fx_net_saturations(net), 0);
  spd__fx_net_free(net);
  spd_ref_free(ref);
  spd_model_free(m);
}

static void compare(const spd_shape_t *in, const spec_t *layers, int n, spd_loss_kind_t loss,
                    double grad_bound) {
  compare_model(build(in, layers, n), loss, grad_bound);
}

/* A residual block: a = relu(Dense(x)); b = tanh(Dense(a)); Add(a, b) ->
 * Dense softmax. a feeds two layers, so its gradient is the exact sum of
 * both, rounded once. */
static void residual_add(void **state) {
  (void)state;
  spd_model_t *m;
  assert_int_equal(spd_model_new(NULL, "res", &m), 0);
  spd_layer_config_t cfg;
  int in, a, b, add, out;
  spd_layer_config_defaults(&cfg, SPD_LAYER_INPUT, "in");
  cfg.input_shape = (spd_shape_t){1, {10}};
  assert_int_equal(spd_model_add(m, &cfg, NULL, 0, &in), 0);
  spd_layer_config_defaults(&cfg, SPD_LAYER_DENSE, "a");
  cfg.units = 12;
  cfg.activation = SPD_ACT_RELU;
  assert_int_equal(spd_model_add(m, &cfg, &in, 1, &a), 0);
  spd_layer_config_defaults(&cfg, SPD_LAYER_DENSE, "b");
  cfg.units = 12;
  cfg.activation = SPD_ACT_TANH;
  assert_int_equal(spd_model_add(m, &cfg, &a, 1, &b), 0);
  spd_layer_config_defaults(&cfg, SPD_LAYER_ADD, "add");
  int both[2] = {a, b};
  assert_int_equal(spd_model_add(m, &cfg, both, 2, &add), 0);
  spd_layer_config_defaults(&cfg, SPD_LAYER_DENSE, "out");
  cfg.units = 4;
  cfg.activation = SPD_ACT_SOFTMAX;
  assert_int_equal(spd_model_add(m, &cfg, &add, 1, &out), 0);
  assert_int_equal(spd_model_build(m, 2), 0);
  compare_model(m, SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, 0.005);
}

static void batch_normalization(void **state) {
  (void)state;
  spd_shape_t flat = {1, {10}};
  spec_t dense[] = {{SPD_LAYER_DENSE, 16, SPD_ACT_RELU},
                    {SPD_LAYER_BATCHNORM, 0, SPD_ACT_LINEAR},
                    {SPD_LAYER_DENSE, 4, SPD_ACT_SOFTMAX}};
  compare(&flat, dense, 3, SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, 0.01);
  spd_shape_t img = {3, {8, 8, 2}};
  spec_t conv[] = {{SPD_LAYER_CONV2D, 4, SPD_ACT_LINEAR},
                   {SPD_LAYER_BATCHNORM, 0, SPD_ACT_LINEAR},
                   {SPD_LAYER_ACTIVATION, 0, SPD_ACT_RELU},
                   {SPD_LAYER_GLOBALAVGPOOL2D, 0, SPD_ACT_LINEAR},
                   {SPD_LAYER_DENSE, 3, SPD_ACT_SOFTMAX}};
  /* The gradients reaching the convolution are ~1e-3 here, a few tens of
   * LSB of s1.14 (the plan's finest gradient format). */
  compare(&img, conv, 5, SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, 0.02);
}

static void dense_every_activation(void **state) {
  (void)state;
  const spd_activation_t acts[] = {SPD_ACT_LINEAR, SPD_ACT_RELU, SPD_ACT_SIGMOID, SPD_ACT_TANH,
                                   SPD_ACT_LEAKY_RELU, SPD_ACT_ELU, SPD_ACT_SOFTMAX};
  spd_shape_t in = {1, {12}};
  for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
    spec_t layers[] = {{SPD_LAYER_DENSE, 16, acts[a]}, {SPD_LAYER_DENSE, 4, SPD_ACT_SOFTMAX}};
    compare(&in, layers, 2, SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, 0.005);
  }
}

static void dense_losses(void **state) {
  (void)state;
  spd_shape_t in = {1, {10}};
  spec_t mse[] = {{SPD_LAYER_DENSE, 8, SPD_ACT_RELU}, {SPD_LAYER_DENSE, 3, SPD_ACT_LINEAR}};
  compare(&in, mse, 2, SPD_LOSS_MSE, 0.005);
  spec_t bce[] = {{SPD_LAYER_DENSE, 8, SPD_ACT_TANH}, {SPD_LAYER_DENSE, 3, SPD_ACT_SIGMOID}};
  compare(&in, bce, 2, SPD_LOSS_BINARY_CROSSENTROPY, 0.005);
}

static void conv_and_pooling(void **state) {
  (void)state;
  spd_shape_t in = {3, {10, 10, 2}};
  spec_t maxpool[] = {{SPD_LAYER_CONV2D, 4, SPD_ACT_RELU},
                      {SPD_LAYER_MAXPOOL2D, 0, SPD_ACT_LINEAR},
                      {SPD_LAYER_FLATTEN, 0, SPD_ACT_LINEAR},
                      {SPD_LAYER_DENSE, 3, SPD_ACT_SOFTMAX}};
  /* Max pooling routes each gradient to its window's maximum: where
   * quantisation makes two values equal (or swaps near-equal ones) the
   * fixed mode routes to another position than float does, so the kernel
   * gradient of the layer below differs by a few percent in places. */
  compare(&in, maxpool, 4, SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, 0.06);
  spec_t avgpool[] = {{SPD_LAYER_CONV2D, 4, SPD_ACT_TANH},
                      {SPD_LAYER_AVGPOOL2D, 0, SPD_ACT_LINEAR},
                      {SPD_LAYER_CONV2D, 3, SPD_ACT_ELU},
                      {SPD_LAYER_GLOBALAVGPOOL2D, 0, SPD_ACT_LINEAR},
                      {SPD_LAYER_DENSE, 3, SPD_ACT_SOFTMAX}};
  compare(&in, avgpool, 5, SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, 0.01);
}

/* Activation layers after linear Dense layers (folded into them in fixed
 * point, docs/layers.md), the softmax output one fused with the loss. */
static void folded_activation_layers(void **state) {
  (void)state;
  spd_shape_t in = {1, {12}};
  spec_t layers[] = {{SPD_LAYER_DENSE, 16, SPD_ACT_LINEAR},
                     {SPD_LAYER_ACTIVATION, 0, SPD_ACT_LEAKY_RELU},
                     {SPD_LAYER_DENSE, 12, SPD_ACT_LINEAR},
                     {SPD_LAYER_ACTIVATION, 0, SPD_ACT_ELU},
                     {SPD_LAYER_DENSE, 4, SPD_ACT_LINEAR},
                     {SPD_LAYER_ACTIVATION, 0, SPD_ACT_SOFTMAX}};
  compare(&in, layers, 6, SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, 0.005);
}

/* ZeroPadding2D and GlobalMaxPooling2D, the layers added as descriptors
 * only (src/nn/layers/): values and gradients pass exactly in both modes. */
static void padding_and_global_max(void **state) {
  (void)state;
  spd_model_t *m;
  assert_int_equal(spd_model_new(NULL, "pad", &m), 0);
  spd_layer_config_t cfg;
  int at;
  spd_layer_config_defaults(&cfg, SPD_LAYER_INPUT, "in");
  cfg.input_shape = (spd_shape_t){3, {6, 6, 2}};
  assert_int_equal(spd_model_add(m, &cfg, NULL, 0, &at), 0);
  spd_layer_config_defaults(&cfg, SPD_LAYER_ZEROPAD2D, "pad");
  cfg.pads[0] = 1;
  cfg.pads[1] = 2;
  cfg.pads[3] = 1;
  assert_int_equal(spd_model_add(m, &cfg, &at, 1, &at), 0);
  spd_layer_config_defaults(&cfg, SPD_LAYER_CONV2D, "conv");
  cfg.filters = 4;
  cfg.kernel_size[0] = cfg.kernel_size[1] = 3;
  cfg.activation = SPD_ACT_TANH;
  assert_int_equal(spd_model_add(m, &cfg, &at, 1, &at), 0);
  spd_layer_config_defaults(&cfg, SPD_LAYER_GLOBALMAXPOOL2D, "gmp");
  assert_int_equal(spd_model_add(m, &cfg, &at, 1, &at), 0);
  spd_layer_config_defaults(&cfg, SPD_LAYER_DENSE, "out");
  cfg.units = 3;
  cfg.activation = SPD_ACT_SOFTMAX;
  assert_int_equal(spd_model_add(m, &cfg, &at, 1, &at), 0);
  assert_int_equal(spd_model_build(m, 12), 0);
  assert_int_equal(m->layers[1].output_shape.dims[0], 7);
  assert_int_equal(m->layers[1].output_shape.dims[1], 9);
  assert_int_equal(m->layers[3].output_shape.rank, 1);
  compare_model(m, SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, 0.01);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(dense_every_activation),
      cmocka_unit_test(dense_losses),
      cmocka_unit_test(conv_and_pooling),
      cmocka_unit_test(residual_add),
      cmocka_unit_test(batch_normalization),
      cmocka_unit_test(folded_activation_layers),
      cmocka_unit_test(padding_and_global_max),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
