/* nn/ model: Keras defaults, shape inference, initializers, parameter counts,
 * the Keras summary text and allocation failures. */
#include "test_support.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "spindle/model.h"
#include "spindle/spindle.h"

static spd_layer_config_t layer(spd_layer_kind_t kind, const char *name) {
  spd_layer_config_t cfg;
  spd_layer_config_defaults(&cfg, kind, name);
  return cfg;
}

static int add_seq(spd_model_t *m, spd_layer_config_t cfg) {
  int prev = m->n_layers - 1;
  return spd_model_add(m, &cfg, &prev, m->n_layers ? 1 : 0, NULL);
}

static spd_layer_config_t input(int rank, int32_t d0, int32_t d1, int32_t d2) {
  spd_layer_config_t cfg = layer(SPD_LAYER_INPUT, "");
  cfg.input_shape = (spd_shape_t){rank, {d0, d1, d2}};
  return cfg;
}

static spd_layer_config_t dense(int units, spd_activation_t act) {
  spd_layer_config_t cfg = layer(SPD_LAYER_DENSE, "");
  cfg.units = units;
  cfg.activation = act;
  return cfg;
}

static spd_layer_config_t conv2d(int filters, int k, spd_padding_t pad) {
  spd_layer_config_t cfg = layer(SPD_LAYER_CONV2D, "");
  cfg.filters = filters;
  cfg.kernel_size[0] = cfg.kernel_size[1] = k;
  cfg.padding = pad;
  cfg.activation = SPD_ACT_RELU;
  return cfg;
}

/* The two example models of issue 3, built as tf.keras would. */
static int build_mlp(spd_ctx_t *ctx, spd_model_t **out) {
  spd_model_t *m;
  int rc = spd_model_new(ctx, "sequential", &m);
  if (rc)
    return rc;
  if ((rc = add_seq(m, input(3, 28, 28, 1))) || (rc = add_seq(m, layer(SPD_LAYER_FLATTEN, ""))) ||
      (rc = add_seq(m, dense(256, SPD_ACT_RELU))) || (rc = add_seq(m, dense(128, SPD_ACT_RELU))) ||
      (rc = add_seq(m, dense(10, SPD_ACT_SOFTMAX))) || (rc = spd_model_build(m, 42))) {
    spd_model_free(m);
    return rc;
  }
  *out = m;
  return 0;
}

static int build_lenet(spd_ctx_t *ctx, spd_model_t **out) {
  spd_model_t *m;
  int rc = spd_model_new(ctx, "sequential", &m);
  if (rc)
    return rc;
  if ((rc = add_seq(m, input(3, 28, 28, 1))) || (rc = add_seq(m, conv2d(6, 5, SPD_PAD_SAME))) ||
      (rc = add_seq(m, layer(SPD_LAYER_MAXPOOL2D, ""))) ||
      (rc = add_seq(m, conv2d(16, 5, SPD_PAD_VALID))) ||
      (rc = add_seq(m, layer(SPD_LAYER_MAXPOOL2D, ""))) ||
      (rc = add_seq(m, layer(SPD_LAYER_FLATTEN, ""))) ||
      (rc = add_seq(m, dense(120, SPD_ACT_RELU))) || (rc = add_seq(m, dense(84, SPD_ACT_RELU))) ||
      (rc = add_seq(m, dense(10, SPD_ACT_SOFTMAX))) || (rc = spd_model_build(m, 7))) {
    spd_model_free(m);
    return rc;
  }
  *out = m;
  return 0;
}

static void defaults_are_keras(void **state) {
  (void)state;
  spd_layer_config_t d = layer(SPD_LAYER_DENSE, "d");
  assert_true(d.use_bias);
  assert_int_equal(d.activation, SPD_ACT_LINEAR);
  assert_int_equal(d.kernel_initializer, SPD_INIT_GLOROT_UNIFORM);
  assert_int_equal(d.bias_initializer, SPD_INIT_ZEROS);
  spd_layer_config_t p = layer(SPD_LAYER_MAXPOOL2D, "p");
  assert_int_equal(p.pool_size[0], 2);
  assert_int_equal(p.strides[1], 2);
  assert_int_equal(p.padding, SPD_PAD_VALID);
  spd_layer_config_t c = layer(SPD_LAYER_CONV2D, "c");
  assert_int_equal(c.strides[0], 1);
  assert_int_equal(c.dilation_rate[1], 1);
  spd_layer_config_t bn = layer(SPD_LAYER_BATCHNORM, "bn");
  assert_float_equal(bn.momentum, 0.99f, 0);
  assert_float_equal(bn.epsilon, 0.001f, 0);
  assert_true(bn.center && bn.scale);
  assert_float_equal(d.negative_slope, 0.2f, 0);
  assert_float_equal(d.elu_alpha, 1.0f, 0);
}

static void names_round_trip(void **state) {
  (void)state;
  assert_int_equal(spd_layer_kind_parse("GlobalAveragePooling2D"), SPD_LAYER_GLOBALAVGPOOL2D);
  assert_string_equal(spd_layer_kind_name(SPD_LAYER_BATCHNORM), "BatchNormalization");
  assert_int_equal(spd_layer_kind_parse("LSTM"), -1);
  assert_int_equal(spd_activation_parse("leaky_relu"), SPD_ACT_LEAKY_RELU);
  assert_string_equal(spd_activation_name(SPD_ACT_SOFTMAX), "softmax");
  assert_int_equal(spd_activation_parse("swish"), SPD_ACT_SWISH);
  assert_int_equal(spd_activation_parse("silu"), SPD_ACT_SWISH);
  assert_int_equal(spd_activation_parse("mish"), -1);
  assert_int_equal(spd_initializer_parse("HeNormal"), SPD_INIT_HE_NORMAL);
  assert_int_equal(spd_initializer_parse("he_uniform"), SPD_INIT_HE_UNIFORM);
  assert_string_equal(spd_initializer_name(SPD_INIT_GLOROT_NORMAL), "glorot_normal");
  assert_int_equal(spd_initializer_parse("orthogonal"), -1);
}

static void mlp_counts_and_summary(void **state) {
  (void)state;
  spd_model_t *m;
  assert_int_equal(build_mlp(NULL, &m), 0);
  uint64_t total, trainable, non_trainable;
  spd_model_count_params(m, &total, &trainable, &non_trainable);
  assert_int_equal(total, 235146);
  assert_int_equal(trainable, 235146);
  assert_int_equal(non_trainable, 0);
  char *text;
  assert_int_equal(spd_model_summary(m, &text), 0);
  const char *expected =
      "Model: \"sequential\"\n"
      "_________________________________________________________________\n"
      " Layer (type)                Output Shape              Param #   \n"
      "=================================================================\n"
      " flatten (Flatten)           (None, 784)               0         \n"
      "                                                                 \n"
      " dense (Dense)               (None, 256)               200960    \n"
      "                                                                 \n"
      " dense_1 (Dense)             (None, 128)               32896     \n"
      "                                                                 \n"
      " dense_2 (Dense)             (None, 10)                1290      \n"
      "                                                                 \n"
      "=================================================================\n"
      "Total params: 235,146\n"
      "Trainable params: 235,146\n"
      "Non-trainable params: 0\n"
      "_________________________________________________________________\n";
  assert_string_equal(text, expected);
  spd_free(NULL, text);
  spd_model_free(m);
}

static void lenet_shapes_and_counts(void **state) {
  (void)state;
  spd_model_t *m;
  assert_int_equal(build_lenet(NULL, &m), 0);
  uint64_t total;
  spd_model_count_params(m, &total, NULL, NULL);
  assert_int_equal(total, 61706);
  char buf[64];
  spd_shape_format(&m->layers[1].output_shape, buf, sizeof buf);
  assert_string_equal(buf, "(None, 28, 28, 6)");
  spd_shape_format(&m->layers[3].output_shape, buf, sizeof buf);
  assert_string_equal(buf, "(None, 10, 10, 16)");
  spd_shape_format(&m->layers[5].output_shape, buf, sizeof buf);
  assert_string_equal(buf, "(None, 400)");
  assert_string_equal(m->layers[1].config.name, "conv2d");
  assert_string_equal(m->layers[4].config.name, "max_pooling2d_1");
  assert_string_equal(m->layers[3].params[0].name, "kernel");
  assert_int_equal(m->layers[3].params[0].value.shape.dims[2], 6);
  spd_model_free(m);
}

/* Output size of one Conv2D/pooling layer on a (n, n, 1) input. */
static int32_t window_out(spd_layer_config_t cfg, int32_t n) {
  spd_model_t *m;
  assert_int_equal(spd_model_new(NULL, "w", &m), 0);
  assert_int_equal(add_seq(m, input(3, n, n, 1)), 0);
  assert_int_equal(add_seq(m, cfg), 0);
  int rc = spd_model_build(m, 1);
  int32_t out = rc ? -1 : m->layers[1].output_shape.dims[0];
  spd_model_free(m);
  return out;
}

static void window_sizes(void **state) {
  (void)state;
  spd_layer_config_t c = conv2d(2, 3, SPD_PAD_VALID);
  assert_int_equal(window_out(c, 7), 5);
  c.strides[0] = c.strides[1] = 2;
  assert_int_equal(window_out(c, 7), 3);  /* floor((7-2-1)/2)+1 */
  assert_int_equal(window_out(c, 8), 3);
  c.padding = SPD_PAD_SAME;
  assert_int_equal(window_out(c, 7), 4);  /* ceil(7/2) */
  c = conv2d(2, 3, SPD_PAD_VALID);
  c.dilation_rate[0] = c.dilation_rate[1] = 2;
  assert_int_equal(window_out(c, 7), 3);  /* 7 - 2*2 */
  assert_int_equal(window_out(c, 4), -1); /* dilated window 5 > 4 */
  c.strides[0] = 2;
  assert_int_equal(window_out(c, 9), -1); /* Keras rejects strides with dilation */
  spd_layer_config_t p = layer(SPD_LAYER_AVGPOOL2D, "");
  p.pool_size[0] = p.pool_size[1] = 3;
  p.strides[0] = p.strides[1] = 2;
  assert_int_equal(window_out(p, 8), 3);
  p.padding = SPD_PAD_SAME;
  assert_int_equal(window_out(p, 8), 4);
}

static void graph_shapes_and_errors(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m;
  assert_int_equal(spd_model_new(&ctx, "resnetish", &m), 0);
  assert_int_equal(add_seq(m, input(1, 12, 0, 0)), 0);
  assert_int_equal(add_seq(m, dense(6, SPD_ACT_RELU)), 0);
  int from1 = 1, a, b;
  spd_layer_config_t d2 = dense(6, SPD_ACT_LINEAR), d3 = dense(5, SPD_ACT_LINEAR);
  assert_int_equal(spd_model_add(m, &d2, &from1, 1, &a), 0);
  assert_int_equal(spd_model_add(m, &d3, &from1, 1, &b), 0);
  spd_layer_config_t add = layer(SPD_LAYER_ADD, "add");
  int ins[2] = {a, b};
  assert_int_equal(spd_model_add(m, &add, ins, 2, NULL), 0);
  assert_int_equal(spd_model_build(m, 1), SPD_ESHAPE);
  assert_non_null(strstr(spd_ctx_message(&ctx), "layer 'add' (Add)"));
  assert_non_null(strstr(spd_ctx_message(&ctx), "(None, 6)"));
  assert_non_null(strstr(spd_ctx_message(&ctx), "(None, 5)"));
  assert_false(m->built);
  spd_layer_config_t dup = dense(3, SPD_ACT_LINEAR);
  snprintf(dup.name, sizeof dup.name, "dense");
  assert_int_equal(spd_model_add(m, &dup, &from1, 1, NULL), SPD_EINVAL);
  spd_layer_config_t unnamed = dense(3, SPD_ACT_LINEAR);
  snprintf(dup.name, sizeof dup.name, "dense_4");
  assert_int_equal(spd_model_add(m, &dup, &from1, 1, NULL), 0);
  assert_int_equal(spd_model_add(m, &unnamed, &from1, 1, NULL), 0);
  assert_string_equal(m->layers[m->n_layers - 1].config.name, "dense_5");
  int bad = 99;
  assert_int_equal(spd_model_add(m, &d3, &bad, 1, NULL), SPD_EINVAL);
  spd_model_free(m);

  assert_int_equal(spd_model_new(&ctx, "r", &m), 0);
  assert_int_equal(add_seq(m, input(3, 4, 4, 3)), 0);
  spd_layer_config_t r = layer(SPD_LAYER_RESHAPE, "");
  r.target_shape = (spd_shape_t){2, {-1, 6}};
  assert_int_equal(add_seq(m, r), 0);
  assert_int_equal(add_seq(m, layer(SPD_LAYER_GLOBALAVGPOOL2D, "gap")), 0);
  assert_int_equal(spd_model_build(m, 1), SPD_ESHAPE);
  assert_non_null(strstr(spd_ctx_message(&ctx), "layer 'gap'"));
  assert_non_null(strstr(spd_ctx_message(&ctx), "(None, 8, 6)"));
  spd_model_free(m);
}

static void functional_summary_has_connections(void **state) {
  (void)state;
  spd_model_t *m;
  assert_int_equal(spd_model_new(NULL, "model", &m), 0);
  assert_int_equal(add_seq(m, input(1, 8, 0, 0)), 0);
  int from0 = 0, a, b;
  spd_layer_config_t d = dense(4, SPD_ACT_LINEAR);
  assert_int_equal(spd_model_add(m, &d, &from0, 1, &a), 0);
  assert_int_equal(spd_model_add(m, &d, &from0, 1, &b), 0);
  spd_layer_config_t add = layer(SPD_LAYER_ADD, "");
  int ins[2] = {a, b};
  assert_int_equal(spd_model_add(m, &add, ins, 2, NULL), 0);
  spd_layer_config_t bn = layer(SPD_LAYER_BATCHNORM, "");
  assert_int_equal(add_seq(m, bn), 0);
  assert_int_equal(spd_model_build(m, 3), 0);
  char *text;
  assert_int_equal(spd_model_summary(m, &text), 0);
  assert_non_null(strstr(text, "\n input_1 (InputLayer)           [(None, 8)]          0           []"));
  /* Keras wraps the connection list after "'," and a long name at the
   * column's width. */
  assert_non_null(strstr(text, "\n add (Add)                      (None, 4)            0           "
                               "['dense[0][0]',                  \n"
                               "                                                                  "
                               "'dense_1[0][0]']                \n"));
  assert_non_null(strstr(text, "\n batch_normalization (BatchNorm  (None, 4)           16"));
  assert_non_null(strstr(text, "\n alization)      "));
  assert_non_null(strstr(text, "Total params: 88\nTrainable params: 80\nNon-trainable params: 8\n"));
  spd_free(NULL, text);
  spd_model_free(m);
}

static double moment(const float *x, size_t n, int k) {
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += pow(x[i], k);
  return s / (double)n;
}

static void initializers_follow_keras(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m, *again;
  assert_int_equal(spd_model_new(&ctx, "init", &m), 0);
  assert_int_equal(add_seq(m, input(3, 8, 8, 50)), 0);
  spd_layer_config_t c = conv2d(70, 3, SPD_PAD_SAME);
  assert_int_equal(add_seq(m, c), 0); /* glorot_uniform */
  c.kernel_initializer = SPD_INIT_HE_NORMAL;
  c.bias_initializer = SPD_INIT_ONES;
  assert_int_equal(add_seq(m, c), 0);
  c.kernel_initializer = SPD_INIT_GLOROT_NORMAL;
  assert_int_equal(add_seq(m, c), 0);
  c.kernel_initializer = SPD_INIT_HE_UNIFORM;
  assert_int_equal(add_seq(m, c), 0);
  assert_int_equal(spd_model_build(m, 1234), 0);

  /* Layer 1 kernel (3,3,50,70): fan_in 450, fan_out 630. */
  const spd_tensor_t *k1 = &m->layers[1].params[0].value;
  size_t n1 = spd_shape_size(&k1->shape);
  double limit = sqrt(6.0 / (450 + 630)), max = 0;
  for (size_t i = 0; i < n1; i++)
    max = fmax(max, fabs(k1->data[i]));
  assert_true(max <= limit && max > 0.99 * limit);
  assert_true(fabs(moment(k1->data, n1, 2) - limit * limit / 3) < 0.05 * limit * limit / 3);
  /* he_normal on layer 2: fan_in 3*3*70 = 630, truncated at 2 stddev, and
   * the 1/0.8796 correction restores the variance 2/fan_in. */
  const spd_tensor_t *k2 = &m->layers[2].params[0].value;
  size_t n2 = spd_shape_size(&k2->shape);
  double stddev = sqrt(2.0 / 630) / 0.87962566103423978, var = moment(k2->data, n2, 2);
  max = 0;
  for (size_t i = 0; i < n2; i++)
    max = fmax(max, fabs(k2->data[i]));
  assert_true(max <= 2 * stddev + 1e-6);
  assert_true(fabs(var - 2.0 / 630) < 0.04 * 2.0 / 630);
  assert_float_equal(m->layers[2].params[1].value.data[69], 1.0f, 0);
  assert_float_equal(m->layers[1].params[1].value.data[0], 0.0f, 0);
  const spd_tensor_t *k3 = &m->layers[3].params[0].value;
  assert_true(fabs(moment(k3->data, n2, 2) - 2.0 / 1260) < 0.04 * 2.0 / 1260);
  const spd_tensor_t *k4 = &m->layers[4].params[0].value;
  max = 0;
  for (size_t i = 0; i < n2; i++)
    max = fmax(max, fabs(k4->data[i]));
  assert_true(max <= sqrt(6.0 / 630) && max > 0.99 * sqrt(6.0 / 630));

  /* Same seed, same values; a different seed, different values. */
  assert_int_equal(spd_model_new(&ctx, "init", &again), 0);
  for (int i = 0; i < m->n_layers; i++) {
    int prev = i - 1;
    assert_int_equal(spd_model_add(again, &m->layers[i].config, &prev, i ? 1 : 0, NULL), 0);
  }
  assert_int_equal(spd_model_build(again, 1234), 0);
  assert_memory_equal(again->layers[3].params[0].value.data, k3->data, n2 * sizeof(float));
  assert_int_equal(spd_model_build(again, 1235), 0);
  assert_memory_not_equal(again->layers[3].params[0].value.data, k3->data, n2 * sizeof(float));
  spd_model_free(again);
  spd_model_free(m);
}

/* --fold-bn: a copy with each BatchNormalization after a linear Dense or
 * convolution folded into it gives the same inference outputs; one after a
 * ReLU convolution stays. */
static float *param(spd_layer_t *l, const char *name) {
  for (int p = 0; p < l->n_params; p++)
    if (!strcmp(l->params[p].name, name))
      return l->params[p].value.data;
  return NULL;
}

static void fold_bn_keeps_inference(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m;
  assert_int_equal(spd_model_new(&ctx, "bn", &m), 0);
  spd_layer_config_t conv = conv2d(3, 3, SPD_PAD_VALID), relu_conv = conv2d(2, 1, SPD_PAD_VALID);
  conv.activation = SPD_ACT_LINEAR;
  conv.use_bias = false;
  spd_layer_config_t act = layer(SPD_LAYER_ACTIVATION, "");
  act.activation = SPD_ACT_RELU;
  assert_int_equal(add_seq(m, input(3, 6, 6, 2)), 0);
  assert_int_equal(add_seq(m, conv), 0);
  assert_int_equal(add_seq(m, layer(SPD_LAYER_BATCHNORM, "bn_conv")), 0);
  assert_int_equal(add_seq(m, act), 0);
  assert_int_equal(add_seq(m, relu_conv), 0);
  assert_int_equal(add_seq(m, layer(SPD_LAYER_BATCHNORM, "bn_kept")), 0);
  assert_int_equal(add_seq(m, layer(SPD_LAYER_FLATTEN, "")), 0);
  assert_int_equal(add_seq(m, dense(4, SPD_ACT_LINEAR)), 0);
  assert_int_equal(add_seq(m, layer(SPD_LAYER_BATCHNORM, "bn_dense")), 0);
  assert_int_equal(add_seq(m, dense(3, SPD_ACT_SOFTMAX)), 0);
  assert_int_equal(spd_model_build(m, 3), 0);
  spd_rng_t rng;
  spd_rng_init(&rng, 9, 0);
  for (int i = 0; i < m->n_layers; i++) {
    spd_layer_t *l = &m->layers[i];
    if (l->config.kind != SPD_LAYER_BATCHNORM)
      continue;
    int c = l->output_shape.dims[l->output_shape.rank - 1];
    for (int k = 0; k < c; k++) {
      param(l, "gamma")[k] = 0.5f + spd_rng_uniform(&rng);
      param(l, "beta")[k] = spd_rng_uniform(&rng) - 0.5f;
      param(l, "moving_mean")[k] = 2.0f * spd_rng_uniform(&rng) - 1.0f;
      param(l, "moving_variance")[k] = 0.1f + 3.0f * spd_rng_uniform(&rng);
    }
  }
  spd_model_t *f;
  int n = 0;
  assert_int_equal(spd_model_fold_bn(m, &f, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(f->n_layers, m->n_layers - 2);
  assert_int_equal(f->layers[1].config.kind, SPD_LAYER_CONV2D);
  assert_true(f->layers[1].config.use_bias);
  assert_int_equal(f->layers[2].config.kind, SPD_LAYER_ACTIVATION);
  assert_int_equal(f->layers[4].config.kind, SPD_LAYER_BATCHNORM); /* after a ReLU conv */
  assert_int_equal(f->output, f->n_layers - 1);
  float x[2 * 72];
  for (int i = 0; i < 2 * 72; i++)
    x[i] = spd_rng_uniform(&rng);
  spd_ref_t *a, *b;
  assert_int_equal(spd_ref_new(m, 2, NULL, &a), 0);
  assert_int_equal(spd_ref_new(f, 2, NULL, &b), 0);
  assert_int_equal(spd_ref_forward(a, x, 2, false), 0);
  assert_int_equal(spd_ref_forward(b, x, 2, false), 0);
  const float *ya = spd_ref_output(a, m->output), *yb = spd_ref_output(b, f->output);
  for (int i = 0; i < 6; i++)
    assert_float_equal(ya[i], yb[i], 1e-5);
  /* a folded conv's pre-activation equals the unfolded BatchNormalization's */
  const float *za = spd_ref_output(a, 2), *zb = spd_ref_output(b, 1);
  for (int i = 0; i < 2 * 4 * 4 * 3; i++)
    assert_float_equal(za[i], zb[i], 1e-5);
  spd_ref_free(a);
  spd_ref_free(b);
  spd_model_free(f);
  /* a model that is not built is refused */
  spd_model_t *empty;
  assert_int_equal(spd_model_new(&ctx, "e", &empty), 0);
  assert_int_equal(spd_model_fold_bn(empty, &f, NULL), SPD_ESTATE);
  assert_null(f);
  spd_model_free(empty);
  spd_model_free(m);
}

static void allocation_failures_leak_nothing(void **state) {
  (void)state;
  int succeeded = 0;
  for (uint64_t fail_at = 1; !succeeded; fail_at++) {
    spd_ctx_t ctx;
    spd_ctx_init(&ctx);
    spd_test_alloc_t ta;
    spd_test_alloc_install(&ctx, &ta, fail_at);
    spd_model_t *m = NULL;
    int rc = build_lenet(&ctx, &m);
    char *text = NULL;
    if (rc == 0)
      rc = spd_model_summary(m, &text);
    if (rc == 0) {
      succeeded = ta.failed == 0;
      spd_free(&ctx, text);
      spd_model_free(m);
    } else {
      assert_int_equal(rc, SPD_ENOMEM);
      if (m)
        spd_model_free(m);
    }
    assert_int_equal(ta.live, 0);
    assert_true(fail_at < 500);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(defaults_are_keras),
      cmocka_unit_test(names_round_trip),
      cmocka_unit_test(mlp_counts_and_summary),
      cmocka_unit_test(lenet_shapes_and_counts),
      cmocka_unit_test(window_sizes),
      cmocka_unit_test(graph_shapes_and_errors),
      cmocka_unit_test(functional_summary_has_connections),
      cmocka_unit_test(initializers_follow_keras),
      cmocka_unit_test(fold_bn_keeps_inference),
      cmocka_unit_test(allocation_failures_leak_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
