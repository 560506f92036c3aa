/* nn/numerics (the plan) and nn/fx_net (the reference executor's fixed-point
 * mode): plan defaults and calibration, forward agreement with a float
 * computation, training that tracks float training, determinism, saturation
 * counting, unsupported layers named, allocation failures. */
#include "test_models.h"
#include "test_support.h"

#include <math.h>
#include <stdlib.h>
#include <stdlib.h>
#include <string.h>

#include "nn/fx_net_internal.h"
#include "spindle/reference.h"
#include "spindle/numerics.h"
#include "spindle/rng.h"

enum { IN = 4, HIDDEN = 16, CLASSES = 3, SAMPLES = 240, BATCH = 16 };

/* A Dense layer's config for the stacks of this file. */
static spd_model_t *mlp(spd_ctx_t *ctx, spd_activation_t hidden_act, spd_activation_t out_act,
                        bool flatten) {
  spd_layer_config_t layers[3];
  int n = 0;
  if (flatten)
    spd_layer_config_defaults(&layers[n++], SPD_LAYER_FLATTEN, "flat");
  layers[n++] = spd_test_dense("hidden", HIDDEN, hidden_act);
  layers[n++] = spd_test_dense("out", CLASSES, out_act);
  return spd_test_stack(ctx, "mlp", (spd_shape_t){1, {IN}}, layers, n, 42);
}

/* Three Gaussian blobs in 4-D with values in [0, 1]. */
static void blobs(float *x, int32_t *labels, int n, uint64_t seed) {
  spd_rng_t rng;
  spd_rng_init(&rng, seed, 0);
  for (int s = 0; s < n; s++) {
    int c = s % CLASSES;
    labels[s] = c;
    for (int j = 0; j < IN; j++) {
      double centre = 0.2 + 0.3 * ((c + j) % CLASSES);
      x[s * IN + j] = (float)fmin(1.0, fmax(0.0, centre + 0.08 * spd_rng_normal(&rng)));
    }
  }
}

static void plan_defaults_by_role(void **state) {
  (void)state;
  spd_model_t *m = mlp(NULL, SPD_ACT_RELU, SPD_ACT_SOFTMAX, true);
  spd_numeric_plan_t *plan;
  assert_int_equal(spd_numeric_plan_new(NULL, m, &plan), 0);
  assert_int_equal(plan->layers[0].act_frac, 14);  /* input x/255 */
  assert_int_equal(plan->layers[1].act_frac, 14);  /* Flatten inherits */
  assert_int_equal(plan->layers[2].act_frac, 11);  /* relu s4.11 */
  assert_int_equal(plan->layers[2].weight_frac, 14);
  assert_int_equal(plan->layers[3].act_frac, 14);  /* softmax */
  assert_int_equal(plan->layers[3].grad_frac, 14); /* p - y */
  assert_int_equal(spd_numeric_input_frac(plan, m, 2), 14);
  spd_fx_act_params_t p = spd_numeric_act_params(plan, m, 2);
  assert_int_equal(p.kind, SPD_FX_ACT_RELU);
  assert_int_equal(p.out_frac, 11);
  assert_int_equal(spd_numeric_frac_for(1.0, 1.0, 2, 14), 14);
  assert_int_equal(spd_numeric_frac_for(3.0, 4.0, 2, 14), 11);
  assert_int_equal(spd_numeric_frac_for(0.0, 4.0, 2, 14), 14);
  assert_int_equal(spd_numeric_frac_for(1e9, 4.0, 2, 14), 2);
  assert_int_equal(spd_numeric_parse("fixed"), SPD_NUMERIC_FIXED);
  assert_int_equal(spd_numeric_parse("double"), -1);
  assert_string_equal(spd_numeric_name(SPD_NUMERIC_FLOAT), "float");
  spd_numeric_plan_free(plan);
  spd_model_free(m);
}

static spd_fx_net_t *make_net(spd_model_t *m, uint64_t seed) {
  spd_numeric_plan_t *plan;
  assert_int_equal(spd_numeric_plan_new(NULL, m, &plan), 0);
  spd_fx_net_t *net;
  assert_int_equal(spd__fx_net_new(NULL, m, plan, SPD_FX_LOSS_SPARSE_CE, false, BATCH, seed, &net), 0);
  spd_numeric_plan_free(plan);
  return net;
}

/* The model's float forward pass in double, for comparison. */
static void float_forward(const spd_model_t *m, const float *x, double *out) {
  const spd_layer_t *h = &m->layers[m->n_layers - 2], *o = &m->layers[m->n_layers - 1];
  double hid[HIDDEN], z[CLASSES], zmax = -1e300, sum = 0;
  for (int c = 0; c < HIDDEN; c++) {
    double a = h->params[1].value.data[c];
    for (int r = 0; r < IN; r++)
      a += x[r] * (double)h->params[0].value.data[r * HIDDEN + c];
    hid[c] = a > 0 ? a : 0;
  }
  for (int c = 0; c < CLASSES; c++) {
    z[c] = o->params[1].value.data[c];
    for (int r = 0; r < HIDDEN; r++)
      z[c] += hid[r] * (double)o->params[0].value.data[r * CLASSES + c];
    zmax = fmax(zmax, z[c]);
  }
  for (int c = 0; c < CLASSES; c++)
    sum += out[c] = exp(z[c] - zmax);
  for (int c = 0; c < CLASSES; c++)
    out[c] /= sum;
}

static void forward_agrees_with_float(void **state) {
  (void)state;
  spd_model_t *m = mlp(NULL, SPD_ACT_RELU, SPD_ACT_SOFTMAX, false);
  float x[SAMPLES * IN];
  int32_t labels[SAMPLES];
  blobs(x, labels, SAMPLES, 1);
  spd_fx_net_t *net = make_net(m, 1);
  float out[BATCH * CLASSES];
  spd_fx_batch_t b = {x, labels, NULL, BATCH};
  spd_fx_result_t res = {0};
  assert_int_equal(spd__fx_net_evaluate(net, &b, out, &res), 0);
  double worst = 0, loss = 0;
  for (int s = 0; s < BATCH; s++) {
    double p[CLASSES];
    float_forward(m, x + s * IN, p);
    loss -= log(p[labels[s]]);
    for (int c = 0; c < CLASSES; c++)
      worst = fmax(worst, fabs(p[c] - out[s * CLASSES + c]));
  }
  /* Weights at s1.14, hidden activations at s4.11: a few 1e-3 at most. */
  assert_true(worst < 3e-3);
  assert_true(fabs(res.loss_sum - loss) / BATCH < 5e-3);
  assert_int_equal(spd__fx_net_saturations(net), 0);
  spd__fx_net_free(net);
  spd_model_free(m);
}

/* Mini-batch SGD with momentum in double on the same model: the float rule
 * the fixed mode approximates. */
static double float_train(spd_model_t *m, const float *x, const int32_t *labels, int epochs) {
  spd_layer_t *h = &m->layers[m->n_layers - 2], *o = &m->layers[m->n_layers - 1];
  static double vel[2][2][IN * HIDDEN + HIDDEN * CLASSES];
  memset(vel, 0, sizeof vel);
  for (int e = 0; e < epochs; e++)
    for (int start = 0; start < SAMPLES; start += BATCH) {
      double gw1[IN * HIDDEN] = {0}, gb1[HIDDEN] = {0}, gw2[HIDDEN * CLASSES] = {0},
             gb2[CLASSES] = {0};
      for (int s = start; s < start + BATCH; s++) {
        const float *xs = x + s * IN;
        double hid[HIDDEN], p[CLASSES], dh[HIDDEN] = {0};
        for (int c = 0; c < HIDDEN; c++) {
          double a = h->params[1].value.data[c];
          for (int r = 0; r < IN; r++)
            a += xs[r] * (double)h->params[0].value.data[r * HIDDEN + c];
          hid[c] = a > 0 ? a : 0;
        }
        float_forward(m, xs, p);
        for (int c = 0; c < CLASSES; c++) {
          double dz = p[c] - (labels[s] == c);
          gb2[c] += dz;
          for (int r = 0; r < HIDDEN; r++) {
            gw2[r * CLASSES + c] += hid[r] * dz;
            dh[r] += o->params[0].value.data[r * CLASSES + c] * dz;
          }
        }
        for (int c = 0; c < HIDDEN; c++) {
          double dz = hid[c] > 0 ? dh[c] : 0;
          gb1[c] += dz;
          for (int r = 0; r < IN; r++)
            gw1[r * HIDDEN + c] += xs[r] * dz;
        }
      }
      double *grads[4] = {gw1, gb1, gw2, gb2};
      float *params[4] = {h->params[0].value.data, h->params[1].value.data,
                          o->params[0].value.data, o->params[1].value.data};
      int sizes[4] = {IN * HIDDEN, HIDDEN, HIDDEN * CLASSES, CLASSES};
      for (int t = 0; t < 4; t++)
        for (int i = 0; i < sizes[t]; i++) {
          double *v = &vel[t / 2][t % 2][i];
          *v = 0.9 * *v - 0.05 * grads[t][i] / BATCH;
          params[t][i] += (float)*v;
        }
    }
  int correct = 0;
  for (int s = 0; s < SAMPLES; s++) {
    double p[CLASSES];
    float_forward(m, x + s * IN, p);
    int best = 0;
    for (int c = 1; c < CLASSES; c++)
      if (p[c] > p[best])
        best = c;
    correct += best == labels[s];
  }
  return (double)correct / SAMPLES;
}

static double fixed_train(spd_fx_net_t *net, const float *x, const int32_t *labels, int epochs) {
  spd_fx_hyper_t h = {.kind = SPD_FX_OPT_SGD, .lr = 0.05, .momentum = 0.9};
  for (int e = 0; e < epochs; e++)
    for (int start = 0; start < SAMPLES; start += BATCH) {
      spd_fx_batch_t b = {x + start * IN, labels + start, NULL, BATCH};
      spd_fx_result_t res = {0};
      assert_int_equal(spd__fx_net_train_batch(net, &b, &h, NULL, &res), 0);
      h.step++;
    }
  spd_fx_result_t res = {0};
  for (int start = 0; start < SAMPLES; start += BATCH) {
    spd_fx_batch_t b = {x + start * IN, labels + start, NULL, BATCH};
    assert_int_equal(spd__fx_net_evaluate(net, &b, NULL, &res), 0);
  }
  return (double)res.correct / SAMPLES;
}

static void training_tracks_float(void **state) {
  (void)state;
  float x[SAMPLES * IN];
  int32_t labels[SAMPLES];
  blobs(x, labels, SAMPLES, 2);
  spd_model_t *mf = mlp(NULL, SPD_ACT_RELU, SPD_ACT_SOFTMAX, false);
  spd_model_t *mx = mlp(NULL, SPD_ACT_RELU, SPD_ACT_SOFTMAX, false);
  spd_fx_net_t *net = make_net(mx, 3);
  double acc_fixed = fixed_train(net, x, labels, 8);
  double acc_float = float_train(mf, x, labels, 8);
  /* Weights after training agree to a few LSB of s1.14 times the steps. */
  spd__fx_net_export(net, mx);
  double worst = 0;
  for (int i = 1; i < mx->n_layers; i++)
    for (size_t e = 0; e < spd_shape_size(&mx->layers[i].params[0].value.shape); e++)
      worst = fmax(worst, fabs(mx->layers[i].params[0].value.data[e] -
                               mf->layers[i].params[0].value.data[e]));
  assert_true(acc_float > 0.9);
  assert_true(fabs(acc_fixed - acc_float) <= 0.02);
  assert_true(worst < 0.02);
  spd__fx_net_free(net);
  spd_model_free(mf);
  spd_model_free(mx);
}

static void training_is_deterministic(void **state) {
  (void)state;
  float x[SAMPLES * IN];
  int32_t labels[SAMPLES];
  blobs(x, labels, SAMPLES, 4);
  spd_model_t *a = mlp(NULL, SPD_ACT_TANH, SPD_ACT_SOFTMAX, true);
  spd_model_t *b = mlp(NULL, SPD_ACT_TANH, SPD_ACT_SOFTMAX, true);
  spd_model_t *c = mlp(NULL, SPD_ACT_TANH, SPD_ACT_SOFTMAX, true);
  spd_fx_net_t *na = make_net(a, 7), *nb = make_net(b, 7), *nc = make_net(c, 8);
  fixed_train(na, x, labels, 2);
  fixed_train(nb, x, labels, 2);
  fixed_train(nc, x, labels, 2);
  spd__fx_net_export(na, a);
  spd__fx_net_export(nb, b);
  spd__fx_net_export(nc, c);
  size_t n = spd_shape_size(&a->layers[2].params[0].value.shape) * sizeof(float);
  assert_memory_equal(a->layers[2].params[0].value.data, b->layers[2].params[0].value.data, n);
  /* Another rounding seed gives other bits. */
  assert_memory_not_equal(a->layers[2].params[0].value.data, c->layers[2].params[0].value.data, n);
  spd__fx_net_free(na);
  spd__fx_net_free(nb);
  spd__fx_net_free(nc);
  spd_model_free(a);
  spd_model_free(b);
  spd_model_free(c);
}

static void every_activation_and_loss_trains(void **state) {
  (void)state;
  float x[SAMPLES * IN], targets[SAMPLES * CLASSES];
  int32_t labels[SAMPLES];
  blobs(x, labels, SAMPLES, 5);
  for (int s = 0; s < SAMPLES; s++)
    for (int c = 0; c < CLASSES; c++)
      targets[s * CLASSES + c] = labels[s] == c;
  const spd_activation_t hidden[] = {SPD_ACT_LINEAR, SPD_ACT_RELU, SPD_ACT_SIGMOID, SPD_ACT_TANH,
                                     SPD_ACT_LEAKY_RELU, SPD_ACT_ELU, SPD_ACT_SOFTMAX};
  const struct {
    spd_fx_loss_t loss;
    spd_activation_t out;
    bool logits;
  } losses[] = {{SPD_FX_LOSS_CE, SPD_ACT_SOFTMAX, false},
                {SPD_FX_LOSS_SPARSE_CE, SPD_ACT_LINEAR, true},
                {SPD_FX_LOSS_BCE, SPD_ACT_SIGMOID, false},
                {SPD_FX_LOSS_MSE, SPD_ACT_SOFTMAX, false},
                {SPD_FX_LOSS_MSE, SPD_ACT_LINEAR, false}};
  for (size_t hI = 0; hI < sizeof hidden / sizeof hidden[0]; hI++)
    for (size_t l = 0; l < sizeof losses / sizeof losses[0]; l++) {
      spd_model_t *m = mlp(NULL, hidden[hI], losses[l].out, false);
      spd_numeric_plan_t *plan;
      assert_int_equal(spd_numeric_plan_new(NULL, m, &plan), 0);
      spd_fx_net_t *net;
      assert_int_equal(spd__fx_net_new(NULL, m, plan, losses[l].loss, losses[l].logits, BATCH, 1, &net), 0);
      spd_numeric_plan_free(plan);
      spd_fx_batch_t calib = {x, labels, targets, BATCH};
      assert_int_equal(spd__fx_net_calibrate(net, &calib, 2), 0);
      spd_fx_hyper_t h = {.kind = SPD_FX_OPT_ADAM, .lr = 0.01, .beta1 = 0.9, .beta2 = 0.999,
                          .epsilon = 1e-7};
      double first = 0, last = 0;
      for (int e = 0; e < 6; e++) {
        spd_fx_result_t res = {0};
        for (int start = 0; start < SAMPLES; start += BATCH) {
          spd_fx_batch_t b = {x + start * IN, labels + start, targets + start * CLASSES, BATCH};
          if (losses[l].loss != SPD_FX_LOSS_SPARSE_CE)
            b.labels = NULL;
          assert_int_equal(spd__fx_net_train_batch(net, &b, &h, NULL, &res), 0);
          h.step++;
        }
        if (e == 0)
          first = res.loss_sum;
        last = res.loss_sum;
        if (e == 5)
          assert_true(res.correct >= SAMPLES * 8 / 10);
      }
      assert_true(last < first);
      spd__fx_net_free(net);
      spd_model_free(m);
    }
}

static void calibration_follows_magnitudes(void **state) {
  (void)state;
  float x[SAMPLES * IN];
  int32_t labels[SAMPLES];
  blobs(x, labels, SAMPLES, 6);
  for (int i = 0; i < SAMPLES * IN; i++)
    x[i] *= 20.0f; /* inputs up to 20: s4.11 saturates at 16 */
  spd_model_t *m = mlp(NULL, SPD_ACT_RELU, SPD_ACT_SOFTMAX, false);
  spd_fx_net_t *net = make_net(m, 1);
  spd_fx_batch_t b = {x, labels, NULL, BATCH};
  spd_fx_result_t res = {0};
  assert_int_equal(spd__fx_net_evaluate(net, &b, NULL, &res), 0);
  assert_true(spd__fx_net_saturations(net) > 0); /* x at s1.14 saturates, counted */
  uint64_t fwd, bwd;
  spd__fx_net_layer_saturations(net, 0, &fwd, &bwd);
  assert_true(fwd == spd__fx_net_saturations(net) && bwd == 0); /* all at the input */
  assert_int_equal(spd__fx_net_calibrate(net, &b, 2), 0);
  const spd_numeric_plan_t *plan = spd__fx_net_plan(net);
  assert_int_equal(plan->layers[0].act_frac, 10); /* 20 fits s5.10 */
  assert_true(plan->layers[1].act_frac < 11);
  assert_int_equal(spd__fx_net_saturations(net), 0);
  assert_int_equal(spd__fx_net_evaluate(net, &b, NULL, &res), 0);
  assert_int_equal(spd__fx_net_saturations(net), 0);
  /* Tiny inputs: the input gets the finest format, the hidden layer keeps
   * s4.11 at most (calibration never narrows an activation's range). */
  for (int i = 0; i < SAMPLES * IN; i++)
    x[i] *= 0.0005f;
  assert_int_equal(spd__fx_net_calibrate(net, &b, 2), 0);
  assert_int_equal(plan->layers[0].act_frac, 14);
  assert_int_equal(plan->layers[1].act_frac, 11);
  spd__fx_net_free(net);
  spd_model_free(m);
}

/* Batch statistics are exact up to 65535 rows: training refuses a bigger
 * batch by the layer's name, while inference (the moving statistics) takes
 * it and the calibration probe uses the batch's first samples that fit. */
static void batchnorm_batch_limit_is_training_only(void **state) {
  (void)state;
  enum { NB = 2000, POS = 64, FIT = 65535 / POS };
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_layer_config_t layers[3];
  spd_layer_config_defaults(&layers[0], SPD_LAYER_BATCHNORM, "bn");
  spd_layer_config_defaults(&layers[1], SPD_LAYER_FLATTEN, "flat");
  layers[2] = spd_test_dense("out", CLASSES, SPD_ACT_LINEAR);
  spd_model_t *m = spd_test_stack(&ctx, "cnn", (spd_shape_t){3, {8, 8, 1}}, layers, 3, 1);
  spd_numeric_plan_t *plan;
  assert_int_equal(spd_numeric_plan_new(&ctx, m, &plan), 0);
  spd_fx_net_t *net = NULL;
  assert_int_equal(spd__fx_net_new(&ctx, m, plan, SPD_FX_LOSS_MSE, false, NB, 1, &net), 0);
  float *x = malloc(NB * POS * sizeof *x), *t = malloc(NB * CLASSES * sizeof *t);
  float *out = malloc(NB * CLASSES * sizeof *out);
  assert_non_null(x);
  assert_non_null(t);
  assert_non_null(out);
  for (int i = 0; i < NB * POS; i++)
    x[i] = (float)ldexp((double)(i % 97), -6);
  for (int i = 0; i < NB * CLASSES; i++)
    t[i] = 0.0f;
  spd_fx_batch_t b = {x, NULL, t, NB};
  assert_int_equal(spd__fx_net_calibrate(net, &b, 2), 0);
  assert_int_equal(spd__fx_net_evaluate(net, &b, out, NULL), 0);
  spd_fx_hyper_t h = {.kind = SPD_FX_OPT_SGD, .lr = 0.0};
  spd_fx_result_t res = {0};
  /* 8x8 positions x batch 2000 rows: beyond the exact statistics. */
  assert_int_equal(spd__fx_net_train_batch(net, &b, &h, NULL, &res), SPD_EUNSUPPORTED);
  assert_non_null(strstr(spd_ctx_message(&ctx), "'bn'"));
  assert_non_null(strstr(spd_ctx_message(&ctx), "at most 1023"));
  b.batch = FIT;
  assert_int_equal(spd__fx_net_train_batch(net, &b, &h, NULL, &res), 0);
  free(x);
  free(t);
  free(out);
  spd__fx_net_free(net);
  spd_numeric_plan_free(plan);
  spd_model_free(m);
}

static void allocation_failures_leak_nothing(void **state) {
  (void)state;
  spd_model_t *m = mlp(NULL, SPD_ACT_RELU, SPD_ACT_SOFTMAX, true);
  spd_numeric_plan_t *plan;
  assert_int_equal(spd_numeric_plan_new(NULL, m, &plan), 0);
  for (uint64_t n = 1;; n++) {
    spd_ctx_t ctx;
    spd_ctx_init(&ctx);
    spd_test_alloc_t ta;
    spd_test_alloc_install(&ctx, &ta, n);
    spd_fx_net_t *net = NULL;
    int rc = spd__fx_net_new(&ctx, m, plan, SPD_FX_LOSS_SPARSE_CE, false, 4, 1, &net);
    if (rc == 0) {
      spd__fx_net_free(net);
      assert_int_equal(ta.live, 0);
      break;
    }
    assert_int_equal(rc, SPD_ENOMEM);
    assert_null(net);
    assert_int_equal(ta.live, 0);
  }
  spd_numeric_plan_free(plan);
  spd_model_free(m);
}

/* Dropout in fixed point draws the float reference's masks, sample by
 * sample, and scales the kept values by 1/(1-rate) with one rounding. */
static void dropout_masks_match_float_reference(void **state) {
  (void)state;
  enum { N_IN = 64, BATCH_D = 8 };
  spd_layer_config_t layers[2];
  spd_layer_config_defaults(&layers[0], SPD_LAYER_DROPOUT, "drop");
  layers[0].rate = 0.3f;
  layers[1] = spd_test_dense("out", CLASSES, SPD_ACT_SOFTMAX);
  spd_model_t *m = spd_test_stack(NULL, "drop", (spd_shape_t){1, {N_IN}}, layers, 2, 1);
  float x[BATCH_D * N_IN];
  for (int i = 0; i < BATCH_D * N_IN; i++)
    x[i] = 0.25f + (float)(i % 7) * 0.05f;
  spd_ref_options_t opts;
  spd_ref_options_default(&opts);
  opts.seed = 77;
  spd_ref_t *ref;
  assert_int_equal(spd_ref_new(m, BATCH_D, &opts, &ref), 0);
  assert_int_equal(spd_ref_forward(ref, x, BATCH_D, true), 0);
  const float *dropped = spd_ref_output(ref, 1);
  spd_fx_net_t *net = make_net(m, 77);
  net->training = true;
  int kept = 0;
  spd__fx_net_forward(net, x, BATCH_D);
  for (int s = 0; s < BATCH_D; s++) {
    spd__fx_net_select(net, s);
    const fx_layer_t *d = &net->layers[1];
    for (int i = 0; i < N_IN; i++) {
      float want = dropped[s * N_IN + i];
      assert_int_equal(d->keep[i], want != 0.0f);
      kept += d->keep[i];
      assert_true(fabs(ldexp(d->y[i], -14) - want) <= ldexp(1, -14));
    }
  }
  assert_true(kept > BATCH_D * N_IN / 2 && kept < BATCH_D * N_IN * 9 / 10);
  net->training = false; /* inference: the identity */
  spd__fx_net_forward(net, x, 1);
  spd__fx_net_select(net, 0);
  for (int i = 0; i < N_IN; i++)
    assert_int_equal(net->layers[1].y[i], net->layers[0].y[i]);
  spd__fx_net_free(net);
  spd_ref_free(ref);
  spd_model_free(m);
}

/* BatchNormalization's moving statistics follow Keras's update in fixed
 * point, and inference normalises with them. */
static void batchnorm_moving_statistics(void **state) {
  (void)state;
  enum { F = 5, NB = 16 };
  spd_layer_config_t layers[2];
  spd_layer_config_defaults(&layers[0], SPD_LAYER_BATCHNORM, "bn");
  layers[0].momentum = 0.9f;
  layers[1] = spd_test_dense("out", CLASSES, SPD_ACT_SOFTMAX);
  spd_model_t *m = spd_test_stack(NULL, "bn", (spd_shape_t){1, {F}}, layers, 2, 1);
  float x[NB * F];
  int32_t labels[NB];
  double mean[F] = {0}, var[F] = {0};
  for (int s = 0; s < NB; s++) {
    labels[s] = s % CLASSES;
    for (int j = 0; j < F; j++) {
      /* multiples of 2^-14: exact in s1.14 */
      x[s * F + j] = (float)ldexp((double)((s * 7 + j * 3) % 11 + j), -4);
      mean[j] += x[s * F + j] / NB;
    }
  }
  for (int s = 0; s < NB; s++)
    for (int j = 0; j < F; j++)
      var[j] += (x[s * F + j] - mean[j]) * (x[s * F + j] - mean[j]) / NB;
  spd_fx_net_t *net = make_net(m, 1);
  spd_fx_batch_t b = {x, labels, NULL, NB};
  assert_int_equal(spd__fx_net_calibrate(net, &b, 2), 0);
  spd_fx_hyper_t h = {.kind = SPD_FX_OPT_SGD, .lr = 0.0};
  spd_fx_result_t res = {0};
  assert_int_equal(spd__fx_net_train_batch(net, &b, &h, NULL, &res), 0);
  spd__fx_net_export(net, m);
  const spd_layer_t *bn = &m->layers[1];
  for (int j = 0; j < F; j++) { /* moving = 0.9 moving + 0.1 batch; starts 0 and 1 */
    assert_true(fabs(bn->params[2].value.data[j] - 0.1 * mean[j]) < 1e-6);
    assert_true(fabs(bn->params[3].value.data[j] - (0.9 + 0.1 * var[j])) < 1e-6);
  }
  /* Inference normalises with the moving statistics: gamma 1, beta 0. */
  float out[NB * CLASSES];
  assert_int_equal(spd__fx_net_evaluate(net, &b, out, NULL), 0);
  spd__fx_net_select(net, 0);
  for (int j = 0; j < F; j++) {
    double mm = bn->params[2].value.data[j], mv = bn->params[3].value.data[j];
    double want = (x[j] - mm) / sqrt(mv + 1e-3);
    assert_true(fabs(ldexp(net->layers[1].y[j], -net->plan->layers[1].act_frac) - want) < 2e-3);
  }
  spd__fx_net_free(net);
  spd_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(plan_defaults_by_role),
      cmocka_unit_test(forward_agrees_with_float),
      cmocka_unit_test(training_tracks_float),
      cmocka_unit_test(training_is_deterministic),
      cmocka_unit_test(every_activation_and_loss_trains),
      cmocka_unit_test(calibration_follows_magnitudes),
      cmocka_unit_test(batchnorm_batch_limit_is_training_only),
      cmocka_unit_test(allocation_failures_leak_nothing),
      cmocka_unit_test(dropout_masks_match_float_reference),
      cmocka_unit_test(batchnorm_moving_statistics),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
