/* Numeric gradient check of every backward pass of the reference executor:
 * the analytic gradient of a scalar loss w.r.t. every parameter and input
 * element against central differences (L(v+h) - L(v-h)) / 2h.
 *
 * Tolerances: the executor computes in float32 and the loss is summed in
 * double. With h = 1e-3 and tiny layers (losses of order 1, at most ~30
 * terms per dot product), float32 rounding of the outputs (~1e-7 relative)
 * moves each loss by ~1e-6, so the difference quotient carries up to ~5e-4
 * of rounding noise; the truncation error h^2/6 * L''' is ~1e-7. We accept
 * |analytic - numeric| <= 2e-3 + 2e-2 * |numeric|: every case below also
 * passes at a tenth of that (measured), while a wrong or missing term is off
 * by the order of the gradient itself. Inputs are drawn away from kinks:
 * values are distinct multiples of 0.02 plus 0.01, never within h of a
 * ReLU's zero or of a rival in a max window, and the models' seeds were
 * chosen so no pre-activation lies within h of zero (the check would flag
 * it). */
#include "test_support.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "spindle/reference.h"
#include "spindle/rng.h"

#define STEP 1e-3f
#define ATOL 2e-3
#define RTOL 2e-2

typedef struct net {
  spd_model_t *m;
  int last;
} net_t;

static spd_layer_config_t cfg_of(spd_layer_kind_t kind) {
  spd_layer_config_t c;
  spd_layer_config_defaults(&c, kind, "");
  return c;
}

static void net_input(net_t *n, int rank, int32_t d0, int32_t d1, int32_t d2) {
  assert_int_equal(spd_model_new(NULL, "gradcheck", &n->m), 0);
  spd_layer_config_t c = cfg_of(SPD_LAYER_INPUT);
  c.input_shape = (spd_shape_t){rank, {d0, d1, d2}};
  assert_int_equal(spd_model_add(n->m, &c, NULL, 0, &n->last), 0);
}

static int net_add(net_t *n, spd_layer_config_t c) {
  int from = n->last;
  assert_int_equal(spd_model_add(n->m, &c, &from, 1, &n->last), 0);
  return n->last;
}

static spd_layer_config_t dense(int units, spd_activation_t act) {
  spd_layer_config_t c = cfg_of(SPD_LAYER_DENSE);
  c.units = units;
  c.activation = act;
  return c;
}

static spd_layer_config_t window(spd_layer_kind_t kind, int k, int s, int d, spd_padding_t pad) {
  spd_layer_config_t c = cfg_of(kind);
  c.kernel_size[0] = c.kernel_size[1] = k;
  c.pool_size[0] = c.pool_size[1] = k;
  c.strides[0] = c.strides[1] = s;
  c.dilation_rate[0] = c.dilation_rate[1] = d;
  c.padding = pad;
  c.filters = 3;
  return c;
}

/* Distinct values k*0.02 + 0.01 in a random order, centred on zero. */
static void spaced_values(float *x, size_t n, uint64_t seed) {
  spd_rng_t rng;
  spd_rng_init(&rng, seed, 99);
  uint32_t *order = test_malloc(n * sizeof *order);
  for (size_t i = 0; i < n; i++)
    order[i] = (uint32_t)i;
  spd_rng_shuffle_u32(&rng, order, (uint32_t)n);
  for (size_t i = 0; i < n; i++)
    x[i] = ((float)order[i] - (float)n / 2) * 0.02f + 0.01f;
  test_free(order);
}

/* Labels of the loss's kind for an output of @p rows x @p cols. */
static void make_labels(float *y, spd_loss_kind_t kind, size_t rows, size_t cols, uint64_t seed) {
  spd_rng_t rng;
  spd_rng_init(&rng, seed, 7);
  for (size_t r = 0; r < rows; r++) {
    uint32_t cls = spd_rng_below(&rng, (uint32_t)cols);
    if (kind == SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY) {
      y[r] = (float)cls;
      continue;
    }
    for (size_t j = 0; j < cols; j++) {
      float u = spd_rng_uniform(&rng);
      if (kind == SPD_LOSS_CATEGORICAL_CROSSENTROPY)
        y[r * cols + j] = j == cls ? 1.0f : 0.0f;
      else
        y[r * cols + j] = kind == SPD_LOSS_MSE ? 2.0f * u - 1.0f : u;
    }
  }
}

typedef struct check {
  spd_loss_kind_t loss;
  bool from_logits;
  bool training;
  int batch;
} check_t;

static double loss_at(spd_ref_t *ref, const float *x, const check_t *c, const float *labels) {
  double loss;
  assert_int_equal(spd_ref_forward(ref, x, c->batch, c->training), 0);
  assert_int_equal(spd_ref_loss(ref, c->loss, c->from_logits, labels, &loss), 0);
  return loss;
}

static int compare(const char *what, int layer, size_t i, double analytic, double numeric,
                   int *reported) {
  if (fabs(analytic - numeric) <= ATOL + RTOL * fabs(numeric))
    return 0;
  if ((*reported)++ < 5)
    print_message("mismatch %s layer %d element %zu: analytic %.6g numeric %.6g\n", what, layer,
                  i, analytic, numeric);
  return 1;
}

/* Check every trainable parameter of @p layer and return the mismatches. */
static int check_params(spd_ref_t *ref, spd_model_t *m, int layer, float *x, const check_t *c,
                        const float *labels, int *reported, int *checked) {
  int bad = 0;
  for (int p = 0; p < m->layers[layer].n_params; p++) {
    spd_tensor_t g = spd_ref_grad(ref, layer, p);
    if (!g.data)
      continue;
    size_t n = spd_shape_size(&g.shape);
    float *analytic = test_malloc(n * sizeof *analytic);
    memcpy(analytic, g.data, n * sizeof *analytic);
    float *v = m->layers[layer].params[p].value.data;
    for (size_t i = 0; i < n; i++) {
      float saved = v[i];
      v[i] = saved + STEP;
      double plus = loss_at(ref, x, c, labels);
      v[i] = saved - STEP;
      double minus = loss_at(ref, x, c, labels);
      v[i] = saved;
      bad += compare(m->layers[layer].params[p].name, layer, i, analytic[i],
                     (plus - minus) / (2.0 * STEP), reported);
      (*checked)++;
    }
    test_free(analytic);
  }
  return bad;
}

/* Forward + backward once, then compare every parameter and input gradient
 * with central differences. */
static void gradcheck(net_t *n, const check_t *c, uint64_t seed) {
  spd_model_t *m = n->m;
  if (!m->built)
    assert_int_equal(spd_model_build(m, seed), 0);
  spd_ref_options_t opts;
  spd_ref_options_default(&opts);
  opts.input_gradient = true;
  spd_ref_t *ref;
  assert_int_equal(spd_ref_new(m, c->batch, &opts, &ref), 0);
  size_t in_n = spd_shape_size(&m->layers[0].output_shape) * (size_t)c->batch;
  const spd_shape_t *os = &m->layers[m->output].output_shape;
  size_t cols = (size_t)os->dims[os->rank - 1];
  size_t rows = spd_shape_size(os) / cols * (size_t)c->batch;
  float *x = test_malloc(in_n * sizeof *x);
  float *labels = test_malloc(rows * cols * sizeof *labels);
  spaced_values(x, in_n, seed);
  make_labels(labels, c->loss, rows, cols, seed);

  assert_int_equal(spd_ref_forward(ref, x, c->batch, c->training), 0);
  double loss;
  assert_int_equal(spd_ref_backward(ref, c->loss, c->from_logits, labels, &loss), 0);
  assert_true(isfinite(loss));
  float *dx = test_malloc(in_n * sizeof *dx);
  memcpy(dx, spd_ref_output_grad(ref, 0), in_n * sizeof *dx);

  int bad = 0, reported = 0, checked = 0;
  for (int l = 1; l < m->n_layers; l++)
    bad += check_params(ref, m, l, x, c, labels, &reported, &checked);
  for (size_t i = 0; i < in_n; i++) {
    float saved = x[i];
    x[i] = saved + STEP;
    double plus = loss_at(ref, x, c, labels);
    x[i] = saved - STEP;
    double minus = loss_at(ref, x, c, labels);
    x[i] = saved;
    bad += compare("input", 0, i, dx[i], (plus - minus) / (2.0 * STEP), &reported);
    checked++;
  }
  assert_true(checked > 0);
  assert_int_equal(bad, 0);
  test_free(dx);
  test_free(labels);
  test_free(x);
  spd_ref_free(ref);
  spd_model_free(m);
}

static const check_t MSE_TRAIN = {SPD_LOSS_MSE, false, true, 3};

static void dense_activations(void **state) {
  (void)state;
  static const spd_activation_t acts[] = {SPD_ACT_LINEAR, SPD_ACT_RELU, SPD_ACT_SIGMOID,
                                          SPD_ACT_TANH, SPD_ACT_LEAKY_RELU, SPD_ACT_ELU,
                                          SPD_ACT_SOFTMAX};
  for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
    net_t n;
    net_input(&n, 1, 5, 0, 0);
    net_add(&n, dense(4, acts[a]));
    net_add(&n, dense(3, SPD_ACT_LINEAR));
    gradcheck(&n, &MSE_TRAIN, 10 + a);
  }
}

static void dense_without_bias_on_rank2(void **state) {
  (void)state;
  net_t n;
  net_input(&n, 1, 12, 0, 0);
  spd_layer_config_t r = cfg_of(SPD_LAYER_RESHAPE);
  r.target_shape = (spd_shape_t){2, {3, -1}};
  net_add(&n, r);
  spd_layer_config_t d = dense(2, SPD_ACT_TANH);
  d.use_bias = false;
  net_add(&n, d); /* Dense on the last axis of (3, 4) */
  net_add(&n, cfg_of(SPD_LAYER_FLATTEN));
  net_add(&n, dense(2, SPD_ACT_LINEAR));
  gradcheck(&n, &MSE_TRAIN, 3);
}

static void losses_with_their_outputs(void **state) {
  (void)state;
  static const struct {
    spd_loss_kind_t loss;
    bool from_logits;
    spd_activation_t out;
  } cases[] = {
      {SPD_LOSS_CATEGORICAL_CROSSENTROPY, false, SPD_ACT_SOFTMAX},        /* fused */
      {SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, false, SPD_ACT_SOFTMAX}, /* fused */
      {SPD_LOSS_BINARY_CROSSENTROPY, false, SPD_ACT_SIGMOID},             /* fused */
      {SPD_LOSS_CATEGORICAL_CROSSENTROPY, true, SPD_ACT_LINEAR},
      {SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, true, SPD_ACT_LINEAR},
      {SPD_LOSS_BINARY_CROSSENTROPY, true, SPD_ACT_LINEAR},
      {SPD_LOSS_CATEGORICAL_CROSSENTROPY, false, SPD_ACT_SIGMOID}, /* renormalised probs */
      {SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, false, SPD_ACT_SIGMOID},
      {SPD_LOSS_BINARY_CROSSENTROPY, false, SPD_ACT_SOFTMAX}, /* clipped probs */
      {SPD_LOSS_MSE, false, SPD_ACT_SOFTMAX},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    net_t n;
    net_input(&n, 1, 4, 0, 0);
    net_add(&n, dense(5, SPD_ACT_TANH));
    net_add(&n, dense(3, cases[k].out));
    check_t c = {cases[k].loss, cases[k].from_logits, true, 4};
    gradcheck(&n, &c, 20 + k);
  }
}

static void activation_layers(void **state) {
  (void)state;
  /* A softmax Activation inside the network (its own backward), then a
   * softmax Activation as output fused with the crossentropy. */
  net_t n;
  net_input(&n, 1, 4, 0, 0);
  net_add(&n, dense(4, SPD_ACT_LINEAR));
  spd_layer_config_t a = cfg_of(SPD_LAYER_ACTIVATION);
  a.activation = SPD_ACT_SOFTMAX;
  net_add(&n, a);
  net_add(&n, dense(3, SPD_ACT_LINEAR));
  a.activation = SPD_ACT_ELU;
  net_add(&n, a);
  net_add(&n, dense(3, SPD_ACT_LINEAR));
  a.activation = SPD_ACT_SOFTMAX;
  net_add(&n, a);
  check_t c = {SPD_LOSS_CATEGORICAL_CROSSENTROPY, false, true, 3};
  gradcheck(&n, &c, 5);
}

/* selu, swish, gelu and Keras's ReLU with a cap, a slope and a threshold,
 * fused into a Dense and as Activation layers (whose backward reads the
 * input for swish, gelu and relu_args). */
static void more_activations(void **state) {
  (void)state;
  const spd_activation_t acts[] = {SPD_ACT_SELU, SPD_ACT_SWISH, SPD_ACT_GELU,
                                   SPD_ACT_RELU_ARGS};
  for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++) {
    for (int layer = 0; layer < 2; layer++) {
      net_t n;
      net_input(&n, 1, 4, 0, 0);
      spd_layer_config_t d = dense(5, layer ? SPD_ACT_LINEAR : acts[k]);
      spd_layer_config_t a = cfg_of(SPD_LAYER_ACTIVATION);
      a.activation = acts[k];
      for (spd_layer_config_t *c = &d; c; c = c == &d ? &a : NULL) {
        c->negative_slope = 0.25f;
        c->relu_threshold = 0.05f;
        c->relu_max_value = 0.4f;
      }
      net_add(&n, d);
      if (layer)
        net_add(&n, a);
      net_add(&n, dense(3, SPD_ACT_LINEAR));
      check_t c = {SPD_LOSS_MSE, false, true, 3};
      print_message("activation %s%s, %s\n", spd_activation_name(acts[k]),
                    acts[k] == SPD_ACT_RELU_ARGS ? " (with arguments)" : "", layer ? "layer" : "fused");
      gradcheck(&n, &c, 70 + 2 * k + (size_t)layer);
    }
  }
}

/* ZeroPadding2D (uneven pads) and GlobalMaxPooling2D. */
static void zero_padding_and_global_max(void **state) {
  (void)state;
  net_t n;
  net_input(&n, 3, 4, 3, 2);
  spd_layer_config_t p = cfg_of(SPD_LAYER_ZEROPAD2D);
  p.pads[0] = 1;
  p.pads[1] = 2;
  p.pads[2] = 0;
  p.pads[3] = 1;
  net_add(&n, p);
  spd_layer_config_t c = window(SPD_LAYER_CONV2D, 2, 1, 1, SPD_PAD_VALID);
  c.activation = SPD_ACT_TANH;
  net_add(&n, c);
  net_add(&n, cfg_of(SPD_LAYER_GLOBALMAXPOOL2D));
  net_add(&n, dense(2, SPD_ACT_LINEAR));
  check_t k = {SPD_LOSS_MSE, false, true, 2};
  gradcheck(&n, &k, 41);
}

static void conv2d_strided_same(void **state) {
  (void)state;
  net_t n;
  net_input(&n, 3, 7, 6, 2);
  spd_layer_config_t c = window(SPD_LAYER_CONV2D, 3, 2, 1, SPD_PAD_SAME);
  c.activation = SPD_ACT_TANH;
  net_add(&n, c);
  net_add(&n, cfg_of(SPD_LAYER_FLATTEN));
  net_add(&n, dense(2, SPD_ACT_LINEAR));
  check_t k = {SPD_LOSS_MSE, false, true, 2};
  gradcheck(&n, &k, 31);
}

static void conv2d_even_kernel_same_and_dilation(void **state) {
  (void)state;
  net_t n;
  net_input(&n, 3, 6, 6, 2);
  spd_layer_config_t c = window(SPD_LAYER_CONV2D, 2, 1, 1, SPD_PAD_SAME);
  c.activation = SPD_ACT_SIGMOID;
  net_add(&n, c);
  c = window(SPD_LAYER_CONV2D, 3, 1, 2, SPD_PAD_VALID);
  c.use_bias = false;
  net_add(&n, c);
  c = window(SPD_LAYER_CONV2D, 2, 1, 2, SPD_PAD_SAME);
  net_add(&n, c);
  net_add(&n, cfg_of(SPD_LAYER_FLATTEN));
  net_add(&n, dense(2, SPD_ACT_LINEAR));
  check_t k = {SPD_LOSS_MSE, false, true, 2};
  gradcheck(&n, &k, 32);
}

static void conv1d_and_pool1d(void **state) {
  (void)state;
  net_t n;
  net_input(&n, 2, 11, 2, 0);
  spd_layer_config_t c = window(SPD_LAYER_CONV1D, 3, 2, 1, SPD_PAD_SAME);
  c.activation = SPD_ACT_TANH;
  net_add(&n, c);
  c = window(SPD_LAYER_CONV1D, 2, 1, 2, SPD_PAD_SAME);
  net_add(&n, c);
  net_add(&n, window(SPD_LAYER_MAXPOOL1D, 2, 1, 1, SPD_PAD_SAME));
  net_add(&n, window(SPD_LAYER_AVGPOOL1D, 3, 2, 1, SPD_PAD_SAME));
  net_add(&n, cfg_of(SPD_LAYER_FLATTEN));
  net_add(&n, dense(2, SPD_ACT_LINEAR));
  check_t k = {SPD_LOSS_MSE, false, true, 2};
  gradcheck(&n, &k, 33);
}

static void pooling2d(void **state) {
  (void)state;
  static const struct {
    spd_layer_kind_t kind;
    int k, s;
    spd_padding_t pad;
  } cases[] = {
      {SPD_LAYER_MAXPOOL2D, 2, 2, SPD_PAD_VALID}, {SPD_LAYER_MAXPOOL2D, 3, 2, SPD_PAD_SAME},
      {SPD_LAYER_AVGPOOL2D, 2, 2, SPD_PAD_VALID}, {SPD_LAYER_AVGPOOL2D, 3, 2, SPD_PAD_SAME},
      {SPD_LAYER_MAXPOOL2D, 3, 1, SPD_PAD_VALID}, {SPD_LAYER_AVGPOOL2D, 2, 1, SPD_PAD_SAME},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    net_t n;
    net_input(&n, 3, 5, 6, 2);
    net_add(&n, window(cases[i].kind, cases[i].k, cases[i].s, 1, cases[i].pad));
    net_add(&n, cfg_of(SPD_LAYER_FLATTEN));
    net_add(&n, dense(2, SPD_ACT_LINEAR));
    check_t k = {SPD_LOSS_MSE, false, true, 2};
    gradcheck(&n, &k, 40 + i);
  }
  net_t n;
  net_input(&n, 3, 3, 4, 3);
  net_add(&n, cfg_of(SPD_LAYER_GLOBALAVGPOOL2D));
  net_add(&n, dense(2, SPD_ACT_LINEAR));
  check_t k = {SPD_LOSS_MSE, false, true, 2};
  gradcheck(&n, &k, 49);
}

static void batchnorm_modes(void **state) {
  (void)state;
  for (int training = 0; training <= 1; training++) {
    net_t n;
    net_input(&n, 3, 3, 3, 2);
    spd_layer_config_t c = window(SPD_LAYER_CONV2D, 2, 1, 1, SPD_PAD_VALID);
    net_add(&n, c);
    int bn = net_add(&n, cfg_of(SPD_LAYER_BATCHNORM));
    net_add(&n, cfg_of(SPD_LAYER_FLATTEN));
    net_add(&n, dense(3, SPD_ACT_LINEAR));
    spd_layer_config_t b = cfg_of(SPD_LAYER_BATCHNORM);
    b.center = training; /* also without beta */
    net_add(&n, b);
    check_t k = {SPD_LOSS_MSE, false, training, 3};
    assert_int_equal(spd_model_build(n.m, 50), 0);
    /* Non-trivial gamma, beta and moving statistics. */
    for (int p = 0; p < n.m->layers[bn].n_params; p++)
      for (int j = 0; j < 3; j++)
        n.m->layers[bn].params[p].value.data[j] = 0.5f + 0.3f * (float)(j + p);
    gradcheck(&n, &k, 50);
  }
}

static void add_with_fan_out(void **state) {
  (void)state;
  net_t n;
  net_input(&n, 1, 4, 0, 0);
  int a = net_add(&n, dense(3, SPD_ACT_TANH));
  int b = net_add(&n, dense(3, SPD_ACT_TANH));
  n.last = a;
  int c = net_add(&n, dense(3, SPD_ACT_SIGMOID));
  spd_layer_config_t add = cfg_of(SPD_LAYER_ADD);
  int ins[3] = {a, b, c};
  assert_int_equal(spd_model_add(n.m, &add, ins, 3, &n.last), 0);
  net_add(&n, dense(2, SPD_ACT_LINEAR));
  gradcheck(&n, &MSE_TRAIN, 60);
}

/* ONNX's windows: a grouped and a depthwise convolution with explicit,
 * uneven pads, relu6, and pooling with explicit pads and ceil_mode. */
static void grouped_conv_explicit_pads_relu6(void **state) {
  (void)state;
  net_t n;
  net_input(&n, 3, 6, 5, 4);
  spd_layer_config_t c = window(SPD_LAYER_CONV2D, 3, 2, 1, SPD_PAD_EXPLICIT);
  c.groups = 2;
  c.filters = 6;
  c.pads[0] = 2, c.pads[1] = 0, c.pads[2] = 1, c.pads[3] = 1;
  c.activation = SPD_ACT_TANH;
  net_add(&n, c);
  c = window(SPD_LAYER_CONV2D, 3, 1, 1, SPD_PAD_EXPLICIT);
  c.groups = c.filters = 6; /* depthwise */
  c.pads[0] = c.pads[1] = c.pads[2] = c.pads[3] = 1;
  c.activation = SPD_ACT_RELU6;
  net_add(&n, c);
  spd_layer_config_t p = window(SPD_LAYER_MAXPOOL2D, 2, 2, 1, SPD_PAD_EXPLICIT);
  p.pads[0] = 1;
  p.ceil_mode = true;
  net_add(&n, p);
  net_add(&n, cfg_of(SPD_LAYER_FLATTEN));
  net_add(&n, dense(2, SPD_ACT_LINEAR));
  check_t k = {SPD_LOSS_MSE, false, true, 2};
  assert_int_equal(spd_model_build(n.m, 70), 0);
  assert_int_equal(n.m->layers[1].output_shape.dims[0], 4); /* (6 + 3 - 3) / 2 + 1 */
  assert_int_equal(n.m->layers[1].output_shape.dims[1], 2); /* (5 + 1 - 3) / 2 + 1 */
  assert_int_equal(n.m->layers[2].params[0].value.shape.dims[2], 1);
  assert_int_equal(n.m->layers[3].output_shape.dims[0], 3); /* ceil((4 + 1 - 2) / 2) + 1 */
  gradcheck(&n, &k, 70);
}

/* Concatenate splits its gradient back to each input's channels. */
static void concatenate_channels(void **state) {
  (void)state;
  net_t n;
  net_input(&n, 3, 4, 4, 2);
  int a = net_add(&n, window(SPD_LAYER_CONV2D, 1, 1, 1, SPD_PAD_VALID));
  n.last = 0;
  spd_layer_config_t c = window(SPD_LAYER_CONV2D, 3, 1, 1, SPD_PAD_SAME);
  c.filters = 2;
  c.activation = SPD_ACT_TANH;
  int b = net_add(&n, c);
  spd_layer_config_t cat = cfg_of(SPD_LAYER_CONCATENATE);
  int ins[3] = {a, b, a};
  assert_int_equal(spd_model_add(n.m, &cat, ins, 3, &n.last), 0);
  net_add(&n, cfg_of(SPD_LAYER_FLATTEN));
  net_add(&n, dense(2, SPD_ACT_LINEAR));
  check_t k = {SPD_LOSS_MSE, false, true, 2};
  assert_int_equal(spd_model_build(n.m, 71), 0);
  assert_int_equal(n.m->layers[3].output_shape.dims[2], 8);
  gradcheck(&n, &k, 71);
}

/* LRN across channels, an even and an odd window (ONNX's clipping). */
static void lrn_across_channels(void **state) {
  (void)state;
  for (int size = 2; size <= 3; size++) {
    net_t n;
    net_input(&n, 3, 3, 2, 5);
    spd_layer_config_t c = cfg_of(SPD_LAYER_LRN);
    c.lrn_size = size;
    c.lrn_alpha = 0.5f; /* large enough that the cross term matters */
    c.lrn_beta = 0.75f;
    c.lrn_bias = 1.5f;
    net_add(&n, c);
    net_add(&n, cfg_of(SPD_LAYER_FLATTEN));
    net_add(&n, dense(2, SPD_ACT_LINEAR));
    check_t k = {SPD_LOSS_MSE, false, true, 2};
    gradcheck(&n, &k, 80 + (uint64_t)size);
  }
}

/* Dropout's backward must apply the forward's mask. */
static void dropout_kernel(void **state) {
  (void)state;
  enum { N = 64, B = 2 };
  float x[B * N], y[B * N], mask[B * N], dy[B * N], dx[B * N];
  spaced_values(x, B * N, 1);
  spaced_values(dy, B * N, 2);
  memset(dx, 0, sizeof dx);
  spd_dropout_params_t p = {B, N, 0.25f, true, 77, 3, 10};
  spd_dropout_forward(y, mask, x, &p);
  spd_dropout_backward(dx, dy, mask, &p);
  int kept = 0;
  for (int i = 0; i < B * N; i++) {
    assert_true(mask[i] == 0.0f || fabsf(mask[i] - 1.0f / 0.75f) < 1e-6f);
    kept += mask[i] != 0.0f;
    assert_float_equal(y[i], x[i] * mask[i], 0);
    assert_float_equal(dx[i], dy[i] * mask[i], 0);
  }
  assert_in_range(kept, 80, 112); /* 96 expected */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(dense_activations),    cmocka_unit_test(dense_without_bias_on_rank2),
      cmocka_unit_test(losses_with_their_outputs), cmocka_unit_test(activation_layers),
      cmocka_unit_test(conv2d_strided_same),  cmocka_unit_test(conv2d_even_kernel_same_and_dilation),
      cmocka_unit_test(conv1d_and_pool1d),    cmocka_unit_test(pooling2d),
      cmocka_unit_test(batchnorm_modes),      cmocka_unit_test(add_with_fan_out),
      cmocka_unit_test(dropout_kernel),
      cmocka_unit_test(grouped_conv_explicit_pads_relu6),
      cmocka_unit_test(concatenate_channels),
      cmocka_unit_test(lrn_across_channels),
      cmocka_unit_test(more_activations),
      cmocka_unit_test(zero_padding_and_global_max),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
