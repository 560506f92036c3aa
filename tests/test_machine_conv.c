/* Convolutional networks run forward on the emulated machine
 * (docs/conv-on-machine.md): Conv2D/Conv1D tiles with strides, valid and
 * same padding, dilation, with and without bias, fused and separate max
 * and average pooling (also on the input), the Flatten into Dense. Fixed point bit-identical to
 * the reference's fixed mode, float within 1e-4 of the float reference, a
 * convolution split over many tiles and chips equal to the unsplit
 * reference, and no packet dropped anywhere. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spindle/fit_fixed.h"
#include "spindle/machine_run.h"
#include "spindle/partition.h"
#include "support/test_machine_data.h"
#include "support/test_models.h"
#include "support/test_support.h"

#define CLASSES 5

/* The layer helpers of support/test_models.h, by short names. */
#define conv spd_test_conv2d
#define pool spd_test_pool2d

/* @p layers, then Flatten and a softmax Dense of CLASSES units; biases
 * drawn small and non-zero so that they count, the Dense kernel scaled
 * down so that no probability saturates at 0 or 1 (every logit shows in
 * the outputs). */
static spd_model_t *cnn(spd_ctx_t *ctx, spd_shape_t in, const spd_layer_config_t *layers, int n) {
  spd_layer_config_t all[8];
  assert_true(n + 2 <= 8);
  memcpy(all, layers, (size_t)n * sizeof *all);
  spd_layer_config_defaults(&all[n], SPD_LAYER_FLATTEN, "flatten");
  spd_layer_config_defaults(&all[n + 1], SPD_LAYER_DENSE, "dense");
  all[n + 1].units = CLASSES;
  all[n + 1].activation = SPD_ACT_SOFTMAX;
  spd_model_t *m = spd_test_stack(ctx, "cnn", in, all, n + 2, 11);
  for (int i = 1; i < m->n_layers; i++)
    for (int p = 1; p < m->layers[i].n_params; p++) {
      spd_tensor_t *b = &m->layers[i].params[p].value;
      for (size_t e = 0; e < spd_shape_size(&b->shape); e++)
        b->data[e] = 0.05f * (float)((int)((e * 37 + (size_t)i) % 9) - 4);
    }
  spd_tensor_t *k = &m->layers[m->n_layers - 1].params[0].value;
  for (size_t e = 0; e < spd_shape_size(&k->shape); e++)
    k->data[e] *= 0.1f;
  return m;
}

static void expect_clean(const spd_machine_stats_t *st, uint64_t samples) {
  assert_int_equal(st->packets_dropped, 0);
  assert_true(st->packets_sent > 0);
  assert_int_equal(st->samples, samples);
  assert_true(st->simulated_seconds > 0);
}

/* Fixed point: outputs bit-identical to the reference, loss and accuracy
 * equal to spd_evaluate_fixed's. */
static void fixed_case(spd_shape_t in, const spd_layer_config_t *layers, int n_layers,
                       const char *machine_name, uint32_t slack, size_t n,
                       spd_machine_stats_t *st_out) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = cnn(&ctx, in, layers, n_layers);
  spd_machine_t *mc = spd_test_machine(&ctx, machine_name, NULL);
  spd_test_samples_t s;
  spd_test_samples_make(&s, n, in, CLASSES, true);
  float *want = calloc(n * CLASSES, sizeof *want), *got = calloc(n * CLASSES, sizeof *got);
  spd_test_reference_fixed(&ctx, m, &s, want);
  spd_machine_stats_t st;
  spd_machine_run_opts_t o = {.numeric = SPD_NUMERIC_FIXED, .slack_percent = slack};
  if (spd_machine_predict(&ctx, m, mc, &o, &s.d, got, &st))
    fail_msg("%s", spd_ctx_message(&ctx));
  expect_clean(&st, n);
  assert_memory_equal(got, want, n * CLASSES * sizeof *got);
  spd_test_expect_evaluates_as_reference(&ctx, m, mc, &o, &s, &st);
  expect_clean(&st, n);
  if (st_out)
    *st_out = st;
  free(want);
  free(got);
  spd_test_samples_free(&s);
  spd_machine_free(mc);
  spd_model_free(m);
}

/* 3x3 valid relu with bias, then a fused 2x2 max pooling. */
static void test_conv_valid_fused_maxpool(void **state) {
  (void)state;
  spd_layer_config_t l[] = {conv("c", 4, 3, 1, 1, SPD_PAD_VALID, SPD_ACT_RELU, true),
                            pool("p", SPD_LAYER_MAXPOOL2D, 2, 2, SPD_PAD_VALID)};
  fixed_case((spd_shape_t){3, {10, 9, 2}}, l, 2, "spinn3", 1, 6, NULL);
}

/* Stride 2 with same padding, no bias, tanh; an overlapping average
 * pooling (3x3 / 2, same) on tiles of its own. */
static void test_conv_strided_same_avgpool(void **state) {
  (void)state;
  spd_layer_config_t l[] = {conv("c", 3, 3, 2, 1, SPD_PAD_SAME, SPD_ACT_TANH, false),
                            pool("p", SPD_LAYER_AVGPOOL2D, 3, 2, SPD_PAD_SAME)};
  fixed_case((spd_shape_t){3, {21, 18, 2}}, l, 2, "spinn3", 1, 5, NULL);
}

/* Dilation 2 (valid), then a same 2x2 convolution with stride 1, then a
 * fused 3x3 / 3 same average pooling (padding above the first rows) and an
 * overlapping max pooling. */
static void test_conv_dilated_chain(void **state) {
  (void)state;
  spd_layer_config_t l[] = {conv("c0", 3, 3, 1, 2, SPD_PAD_VALID, SPD_ACT_RELU, true),
                            conv("c1", 4, 2, 1, 1, SPD_PAD_SAME, SPD_ACT_SIGMOID, true),
                            pool("p0", SPD_LAYER_AVGPOOL2D, 3, 3, SPD_PAD_SAME),
                            pool("p1", SPD_LAYER_MAXPOOL2D, 2, 1, SPD_PAD_VALID)};
  fixed_case((spd_shape_t){3, {23, 10, 1}}, l, 4, "spinn3", 1, 4, NULL);
}

/* Conv1D with stride and same padding, MaxPooling1D. */
static void test_conv1d_pool1d(void **state) {
  (void)state;
  spd_layer_config_t l[2];
  spd_test_conv1d_maxpool(l);
  fixed_case((spd_shape_t){2, {17, 3}}, l, 2, "spinn3", 1, 5, NULL);
}

/* How the partitioner cuts layer @p layer of @p m for inference on machine
 * @p machine with 1 % slack and 2 samples in flight (the fixed cases'
 * settings). */
static spd_conv_tiling_t inference_cut(spd_ctx_t *ctx, const spd_model_t *m, const char *machine,
                                       int layer) {
  spd_machine_t *mc = spd_test_machine(ctx, machine, NULL);
  spd_partition_opts_t po;
  spd_partition_opts_default(&po);
  po.training = false;
  po.slots = 2;
  po.slack_percent = 1;
  spd_machine_graph_t *g = NULL;
  assert_int_equal(spd_partition_model(ctx, m, mc, &po, &g), 0);
  const spd_conv_tiling_t *t = spd_machine_graph_conv_tiling(g, layer);
  assert_non_null(t);
  spd_conv_tiling_t cut = *t;
  spd_machine_graph_free(g);
  spd_machine_free(mc);
  return cut;
}

/* A pooling layer reading the input itself, cut into channel blocks: each
 * pool tile receives its own channels of the sources' rows (the sources
 * send every partition its feature-map positions), then a convolution. */
static void test_pool_on_input(void **state) {
  (void)state;
  spd_layer_config_t l[] = {pool("p", SPD_LAYER_AVGPOOL2D, 2, 2, SPD_PAD_VALID),
                            conv("c", 3, 2, 1, 1, SPD_PAD_SAME, SPD_ACT_RELU, true)};
  spd_shape_t in = {3, {12, 10, 3}};
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = cnn(&ctx, in, l, 2);
  assert_true(inference_cut(&ctx, m, "spinn3", 1).grid_cols > 1);
  spd_model_free(m);
  fixed_case(in, l, 2, "spinn3", 1, 4, NULL);
}

/* With 1 % slack the partitioner cuts the convolution into many tiles
 * spread over several chips: the result still equals the unsplit
 * reference bit for bit. */
static void test_conv_split_over_chips(void **state) {
  (void)state;
  spd_layer_config_t l[] = {conv("c", 8, 3, 1, 1, SPD_PAD_SAME, SPD_ACT_RELU, true),
                            pool("p", SPD_LAYER_MAXPOOL2D, 2, 2, SPD_PAD_VALID),
                            conv("c1", 6, 3, 1, 1, SPD_PAD_VALID, SPD_ACT_RELU, true)};
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_shape_t in = {3, {16, 16, 2}};
  spd_model_t *m = cnn(&ctx, in, l, 3);
  spd_conv_tiling_t t = inference_cut(&ctx, m, "spinn5", 1);
  assert_true(t.grid_rows * t.grid_cols >= 8);
  spd_model_free(m);
  spd_machine_stats_t st;
  fixed_case(in, l, 3, "spinn5", 1, 3, &st);
  assert_true(st.chips_used > 1);
}

/* Float: within 1e-4 of the float reference. */
static void test_conv_float_close(void **state) {
  (void)state;
  spd_layer_config_t l[] = {conv("c", 4, 3, 2, 1, SPD_PAD_SAME, SPD_ACT_RELU, true),
                            pool("p", SPD_LAYER_MAXPOOL2D, 2, 2, SPD_PAD_VALID),
                            conv("c1", 3, 2, 1, 1, SPD_PAD_VALID, SPD_ACT_TANH, true),
                            pool("p1", SPD_LAYER_AVGPOOL2D, 2, 1, SPD_PAD_SAME)};
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_shape_t in = {3, {12, 11, 2}};
  spd_model_t *m = cnn(&ctx, in, l, 4);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn3", NULL);
  spd_test_samples_t s;
  size_t n = 5;
  spd_test_samples_make(&s, n, in, CLASSES, false);
  float want[5 * CLASSES], got[5 * CLASSES];
  assert_int_equal(spd_predict_float(m, 4, &s.d, NULL, want), 0);
  spd_machine_stats_t st;
  spd_machine_run_opts_t o = {.numeric = SPD_NUMERIC_FLOAT};
  if (spd_machine_predict(&ctx, m, mc, &o, &s.d, got, &st))
    fail_msg("%s", spd_ctx_message(&ctx));
  expect_clean(&st, n);
  for (size_t i = 0; i < n * CLASSES; i++)
    assert_true(fabsf(got[i] - want[i]) < 1e-4f);
  spd_test_samples_free(&s);
  spd_machine_free(mc);
  spd_model_free(m);
}

/* Fixed-point training on the machine with @p slots samples in flight:
 * after a few batches (a short last one) of two epochs every weight equals
 * spd_fit_fixed's bit for bit. */
static void train_case_slots(spd_shape_t in, const spd_layer_config_t *layers, int n_layers,
                             spd_optimizer_kind_t kind, float momentum, uint32_t slack,
                             spd_numeric_t numeric, uint32_t slots) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *on_machine = cnn(&ctx, in, layers, n_layers);
  spd_model_t *on_host = cnn(&ctx, in, layers, n_layers);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn5", NULL);
  spd_test_samples_t s;
  size_t n = 21;
  spd_test_samples_make(&s, n, in, CLASSES, true);
  spd_fit_config_t cfg;
  spd_test_fit_config(&cfg, kind, momentum);
  spd_machine_run_opts_t o = {.numeric = numeric, .slack_percent = slack, .slots = slots};
  spd_machine_stats_t st;
  spd_test_expect_trains_as_reference(&ctx, on_host, on_machine, mc, &o, &cfg, &s, &st);
  expect_clean(&st, (uint64_t)cfg.epochs * n);
  spd_test_samples_free(&s);
  spd_machine_free(mc);
  spd_model_free(on_machine);
  spd_model_free(on_host);
}

static void train_case_numeric(spd_shape_t in, const spd_layer_config_t *layers, int n_layers,
                               spd_optimizer_kind_t kind, float momentum, uint32_t slack,
                               spd_numeric_t numeric) {
  train_case_slots(in, layers, n_layers, kind, momentum, slack, numeric, 0);
}

static void train_case(spd_shape_t in, const spd_layer_config_t *layers, int n_layers,
                       spd_optimizer_kind_t kind, float momentum, uint32_t slack) {
  train_case_numeric(in, layers, n_layers, kind, momentum, slack, SPD_NUMERIC_FIXED);
}

/* SGD with momentum: a strided same convolution with a fused max pooling,
 * then a dilated convolution, cut into several row blocks (the halos' dX
 * sums and the weight-sharing reduction) and channel blocks. */
static void test_train_sgd_momentum_exact(void **state) {
  (void)state;
  spd_layer_config_t l[] = {conv("c", 4, 3, 1, 1, SPD_PAD_SAME, SPD_ACT_RELU, true),
                            pool("p", SPD_LAYER_MAXPOOL2D, 2, 2, SPD_PAD_VALID),
                            conv("c1", 3, 3, 1, 2, SPD_PAD_VALID, SPD_ACT_TANH, true)};
  train_case((spd_shape_t){3, {14, 10, 2}}, l, 3, SPD_OPT_SGD, 0.9f, 1);
}

/* Adam: a strided same convolution without bias, an overlapping same
 * average pooling on tiles of its own, a same 3x3 / 3 max pooling fused
 * into the next convolution. */
static void test_train_adam_pools_exact(void **state) {
  (void)state;
  spd_layer_config_t l[] = {conv("c", 3, 3, 2, 1, SPD_PAD_SAME, SPD_ACT_RELU, false),
                            pool("p", SPD_LAYER_AVGPOOL2D, 3, 2, SPD_PAD_SAME),
                            conv("c1", 4, 2, 1, 1, SPD_PAD_SAME, SPD_ACT_RELU, true),
                            pool("p1", SPD_LAYER_MAXPOOL2D, 3, 3, SPD_PAD_SAME)};
  train_case((spd_shape_t){3, {23, 12, 1}}, l, 4, SPD_OPT_ADAM, 0.0f, 1);
}

/* Eight samples in flight, more than a tile stages dX partitions for
 * (SPD_CONV_DX_STAGES): a backward waits for the staging two samples
 * before it to be sent, and the weights stay bit-identical (fixed) or
 * within 1e-4 (float). */
static void test_train_eight_in_flight(void **state) {
  (void)state;
  spd_layer_config_t l[] = {conv("c", 4, 3, 1, 1, SPD_PAD_SAME, SPD_ACT_RELU, true),
                            pool("p", SPD_LAYER_MAXPOOL2D, 2, 2, SPD_PAD_VALID),
                            conv("c1", 3, 3, 1, 2, SPD_PAD_VALID, SPD_ACT_TANH, true)};
  train_case_slots((spd_shape_t){3, {14, 10, 2}}, l, 3, SPD_OPT_SGD, 0.9f, 1, SPD_NUMERIC_FIXED,
                   8);
  spd_layer_config_t a[] = {conv("c", 3, 3, 2, 1, SPD_PAD_SAME, SPD_ACT_RELU, false),
                            pool("p", SPD_LAYER_AVGPOOL2D, 3, 2, SPD_PAD_SAME),
                            conv("c1", 4, 2, 1, 1, SPD_PAD_SAME, SPD_ACT_RELU, true)};
  train_case_slots((spd_shape_t){3, {23, 12, 1}}, a, 3, SPD_OPT_ADAM, 0.0f, 1, SPD_NUMERIC_FIXED,
                   8);
  train_case_slots((spd_shape_t){3, {14, 10, 2}}, l, 3, SPD_OPT_SGD, 0.9f, 1, SPD_NUMERIC_FLOAT,
                   8);
}

/* Conv1D (stride 2, same) and AveragePooling1D (3 / 2, same), SGD. */
static void test_train_conv1d_exact(void **state) {
  (void)state;
  spd_layer_config_t l[2];
  spd_layer_config_defaults(&l[0], SPD_LAYER_CONV1D, "c");
  l[0].filters = 4;
  l[0].kernel_size[0] = 3;
  l[0].strides[0] = 2;
  l[0].padding = SPD_PAD_SAME;
  l[0].activation = SPD_ACT_RELU;
  spd_layer_config_defaults(&l[1], SPD_LAYER_AVGPOOL1D, "p");
  l[1].pool_size[0] = 3;
  l[1].strides[0] = 2;
  l[1].padding = SPD_PAD_SAME;
  train_case((spd_shape_t){2, {29, 3}}, l, 2, SPD_OPT_SGD, 0.0f, 1);
}

/* A max pooling on the input, cut into channel blocks, then a
 * convolution, SGD with momentum. */
static void test_train_pool_on_input_exact(void **state) {
  (void)state;
  spd_layer_config_t l[] = {pool("p", SPD_LAYER_MAXPOOL2D, 2, 2, SPD_PAD_VALID),
                            conv("c", 3, 2, 1, 1, SPD_PAD_SAME, SPD_ACT_RELU, true)};
  train_case((spd_shape_t){3, {12, 10, 3}}, l, 2, SPD_OPT_SGD, 0.9f, 1);
}

/* Float training (SGD with momentum, then Adam): every weight within 1e-4
 * of spd_fit_float's, on the fused and separate poolings of both fixed cases. */
static void test_train_float_close(void **state) {
  (void)state;
  spd_layer_config_t a[] = {conv("c", 4, 3, 1, 1, SPD_PAD_SAME, SPD_ACT_RELU, true),
                            pool("p", SPD_LAYER_MAXPOOL2D, 2, 2, SPD_PAD_VALID),
                            conv("c1", 3, 3, 1, 2, SPD_PAD_VALID, SPD_ACT_TANH, true)};
  train_case_numeric((spd_shape_t){3, {14, 10, 2}}, a, 3, SPD_OPT_SGD, 0.9f, 1,
                     SPD_NUMERIC_FLOAT);
  spd_layer_config_t b[] = {conv("c", 3, 3, 2, 1, SPD_PAD_SAME, SPD_ACT_RELU, false),
                            pool("p", SPD_LAYER_AVGPOOL2D, 3, 2, SPD_PAD_SAME),
                            conv("c1", 4, 2, 1, 1, SPD_PAD_SAME, SPD_ACT_RELU, true),
                            pool("p1", SPD_LAYER_MAXPOOL2D, 3, 3, SPD_PAD_SAME)};
  train_case_numeric((spd_shape_t){3, {23, 12, 1}}, b, 4, SPD_OPT_ADAM, 0.0f, 1,
                     SPD_NUMERIC_FLOAT);
}

/* Float training of a convolution feeding a hidden Dense layer (its dX
 * gathered into the feature map's channel blocks, a full tile below the
 * output forming its own dZ) and the output layer, plain SGD and Adam:
 * every weight within 1e-4 of spd_fit_float's, nothing dropped (the float tiles
 * keep a float gradient per weight, docs/dense-on-machine.md, "Memory per
 * tile"). */
static void test_train_float_dense_tail_close(void **state) {
  (void)state;
  spd_layer_config_t l[4] = {conv("c", 4, 3, 1, 1, SPD_PAD_SAME, SPD_ACT_RELU, true),
                             pool("p", SPD_LAYER_MAXPOOL2D, 2, 2, SPD_PAD_VALID)};
  spd_layer_config_defaults(&l[2], SPD_LAYER_FLATTEN, "f");
  spd_layer_config_defaults(&l[3], SPD_LAYER_DENSE, "h");
  l[3].units = 24;
  l[3].activation = SPD_ACT_RELU;
  train_case_numeric((spd_shape_t){3, {10, 8, 2}}, l, 4, SPD_OPT_SGD, 0.0f, 1,
                     SPD_NUMERIC_FLOAT);
  train_case_numeric((spd_shape_t){3, {10, 8, 2}}, l, 4, SPD_OPT_ADAM, 0.0f, 1,
                     SPD_NUMERIC_FLOAT);
}

/* Dropout among convolutions (docs/conv-on-machine.md, "Dropout"): the
 * tiles sending the values a Dropout reads apply its mask, so training
 * stays bit-identical to spd_fit_fixed (float within 1e-4 of spd_fit_float). */
/* Masks on a conv tile's fused pooling output and on a dilated
 * convolution's output read through the Flatten by the Dense tiles; both
 * layers cut into row and channel blocks. */
static int dropout_fused(spd_layer_config_t *l) {
  l[0] = conv("c", 4, 3, 1, 1, SPD_PAD_SAME, SPD_ACT_RELU, true);
  l[1] = pool("p", SPD_LAYER_MAXPOOL2D, 2, 2, SPD_PAD_VALID);
  l[2] = spd_test_dropout("d", 0.3, 0);
  l[3] = conv("c1", 3, 3, 1, 2, SPD_PAD_VALID, SPD_ACT_TANH, true);
  l[4] = spd_test_dropout("d1", 0.25, 5);
  return 5;
}

/* Masks on a convolution's own output (the overlapping average pooling
 * after it has tiles of its own) and on a pooling tile's output. */
static int dropout_separate(spd_layer_config_t *l) {
  l[0] = conv("c", 3, 3, 2, 1, SPD_PAD_SAME, SPD_ACT_RELU, false);
  l[1] = spd_test_dropout("d", 0.4, 0);
  l[2] = pool("p", SPD_LAYER_AVGPOOL2D, 3, 2, SPD_PAD_SAME);
  l[3] = spd_test_dropout("d1", 0.2, 0);
  l[4] = conv("c1", 4, 2, 1, 1, SPD_PAD_SAME, SPD_ACT_RELU, true);
  return 5;
}

static void test_train_dropout_exact(void **state) {
  (void)state;
  spd_layer_config_t l[6];
  int n = dropout_fused(l);
  train_case((spd_shape_t){3, {14, 10, 2}}, l, n, SPD_OPT_SGD, 0.9f, 1);
  n = dropout_separate(l);
  train_case((spd_shape_t){3, {23, 12, 1}}, l, n, SPD_OPT_ADAM, 0.0f, 1);
}

static void test_train_dropout_float_close(void **state) {
  (void)state;
  spd_layer_config_t l[6];
  int n = dropout_fused(l);
  train_case_numeric((spd_shape_t){3, {14, 10, 2}}, l, n, SPD_OPT_SGD, 0.9f, 1,
                     SPD_NUMERIC_FLOAT);
  n = dropout_separate(l);
  train_case_numeric((spd_shape_t){3, {23, 12, 1}}, l, n, SPD_OPT_ADAM, 0.0f, 1,
                     SPD_NUMERIC_FLOAT);
}

/* A Dropout between a convolution and the pooling fused into its tiles:
 * no core sends the convolution's output, so training refuses it by name
 * (inference passes it through). */
static void test_train_dropout_inside_fused_pool_refused(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_layer_config_t l[] = {conv("c", 4, 3, 1, 1, SPD_PAD_SAME, SPD_ACT_RELU, true),
                            spd_test_dropout("inner", 0.3, 0),
                            pool("p", SPD_LAYER_MAXPOOL2D, 2, 2, SPD_PAD_VALID)};
  spd_shape_t in = {3, {10, 8, 2}};
  spd_model_t *m = cnn(&ctx, in, l, 3);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn5", NULL);
  spd_test_samples_t s;
  spd_test_samples_make(&s, 6, in, CLASSES, true);
  spd_fit_config_t cfg;
  spd_fit_config_defaults(&cfg);
  cfg.batch_size = 4;
  spd_machine_run_opts_t o = {.numeric = SPD_NUMERIC_FIXED};
  spd_history_t h = {0};
  spd_machine_stats_t st;
  assert_int_equal(spd_machine_fit(&ctx, m, mc, &o, &cfg, &s.d, &h, &st), SPD_EUNSUPPORTED);
  assert_non_null(strstr(spd_ctx_message(&ctx), "'inner'"));
  assert_non_null(strstr(spd_ctx_message(&ctx), "--backend reference"));
  spd_test_expect_evaluates_as_reference(&ctx, m, mc, &o, &s, NULL);
  spd_test_samples_free(&s);
  spd_machine_free(mc);
  spd_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conv_valid_fused_maxpool),
      cmocka_unit_test(test_conv_strided_same_avgpool),
      cmocka_unit_test(test_conv_dilated_chain),
      cmocka_unit_test(test_conv1d_pool1d),
      cmocka_unit_test(test_pool_on_input),
      cmocka_unit_test(test_conv_split_over_chips),
      cmocka_unit_test(test_conv_float_close),
      cmocka_unit_test(test_train_sgd_momentum_exact),
      cmocka_unit_test(test_train_adam_pools_exact),
      cmocka_unit_test(test_train_conv1d_exact),
      cmocka_unit_test(test_train_pool_on_input_exact),
      cmocka_unit_test(test_train_eight_in_flight),
      cmocka_unit_test(test_train_float_close),
      cmocka_unit_test(test_train_float_dense_tail_close),
      cmocka_unit_test(test_train_dropout_exact),
      cmocka_unit_test(test_train_dropout_float_close),
      cmocka_unit_test(test_train_dropout_inside_fused_pool_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
