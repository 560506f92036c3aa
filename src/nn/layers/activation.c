/* Activation and the activation layers Keras writes as their own classes
 * (LeakyReLU, ELU, ReLU, Softmax): y = f(x) element by element (softmax
 * over the last axis). */
#include <math.h>

#include "nn/layers/layers.h"

static int infer(spd_ctx_t *ctx, const spd_layer_config_t *cfg, const spd_shape_t *const *in,
                 int n, spd_shape_t *out) {
  (void)n;
  *out = *in[0];
  return spd__check_activation(ctx, cfg);
}

/* Keras's ReLU layer: max_value (null: none), negative_slope and threshold,
 * each >= 0 as Keras requires. The plain forms are relu, leaky_relu (a
 * slope alone) and relu6 (a cap of 6 alone); the rest is relu_args. */
static int read_relu(spd__kjr_t *r, const cJSON *c, const char *n, spd_layer_config_t *o) {
  float slope = 0.0f, threshold = 0.0f, cap = INFINITY;
  int err = spd__kjr_float(r, c, n, "negative_slope", false, &slope);
  if (!err)
    err = spd__kjr_float(r, c, n, "threshold", false, &threshold);
  if (!err)
    err = spd__kjr_float(r, c, n, "max_value", false, &cap);
  if (err)
    return err;
  if (!(slope >= 0.0f) || !(threshold >= 0.0f) || !(cap >= 0.0f))
    return spd__kjr_bad_field(r, n, !(slope >= 0.0f)       ? "negative_slope"
                                    : !(threshold >= 0.0f) ? "threshold"
                                                           : "max_value",
                              "a number >= 0");
  o->negative_slope = slope;
  o->relu_threshold = threshold;
  o->relu_max_value = cap;
  bool capped = cap < INFINITY;
  if (threshold == 0.0f && !capped)
    o->activation = slope == 0.0f ? SPD_ACT_RELU : SPD_ACT_LEAKY_RELU;
  else if (threshold == 0.0f && slope == 0.0f && cap == 6.0f)
    o->activation = SPD_ACT_RELU6;
  else
    o->activation = SPD_ACT_RELU_ARGS;
  return 0;
}

static int keras_read(spd__kjr_t *r, const char *cls, const cJSON *c, const char *n,
                      spd_layer_config_t *o) {
  if (!strcmp(cls, "Activation"))
    return spd__kjr_activation(r, c, n, true, o);
  if (!strcmp(cls, "LeakyReLU")) {
    o->activation = SPD_ACT_LEAKY_RELU;
    o->negative_slope = 0.3f; /* the LeakyReLU layer's default in both Keras */
    int err = spd__kjr_float(r, c, n, "alpha", false, &o->negative_slope);
    return err ? err : spd__kjr_float(r, c, n, "negative_slope", false, &o->negative_slope);
  }
  if (!strcmp(cls, "ELU")) {
    o->activation = SPD_ACT_ELU;
    return spd__kjr_float(r, c, n, "alpha", false, &o->elu_alpha);
  }
  if (!strcmp(cls, "Softmax")) {
    o->activation = SPD_ACT_SOFTMAX;
    return 0;
  }
  return read_relu(r, c, n, o);
}

/* An Activation layer with a non-default leaky_relu slope becomes a
 * LeakyReLU layer so the slope is kept. */
static const char *keras_class(const spd_layer_config_t *c) {
  if (c->activation == SPD_ACT_LEAKY_RELU && c->negative_slope != 0.2f)
    return "LeakyReLU";
  if (c->activation == SPD_ACT_ELU && c->elu_alpha != 1.0f)
    return "ELU";
  if (c->activation == SPD_ACT_RELU_ARGS)
    return "ReLU";
  return "Activation";
}

static void keras_write(spd__kjw_t *w, const spd_layer_t *l) {
  const spd_layer_config_t *c = &l->config;
  const char *cls = keras_class(c);
  if (!strcmp(cls, "LeakyReLU")) {
    spd__kjw_float(w, spd__kjw_keras3(w) ? "negative_slope" : "alpha", c->negative_slope);
  } else if (!strcmp(cls, "ELU")) {
    spd__kjw_float(w, "alpha", c->elu_alpha);
  } else if (!strcmp(cls, "ReLU")) {
    if (c->relu_max_value < INFINITY)
      spd__kjw_float(w, "max_value", c->relu_max_value);
    else
      spd__kjw_raw(w, "max_value", "null");
    spd__kjw_float(w, "negative_slope", c->negative_slope);
    spd__kjw_float(w, "threshold", c->relu_threshold);
  } else {
    spd__kjw_str(w, "activation", spd_activation_name(c->activation));
  }
}

static void forward(spd_ref_t *ref, int i, bool training) {
  (void)training;
  const spd_layer_t *layer = &ref->model->layers[i];
  spd_act_params_t p = spd__ref_act_params(layer, ref->batch);
  const float *x = spd__ref_input_of(ref, layer, 0);
  spd_act_extra_t e = spd__ref_act_extra(layer, x);
  spd_activation_forward_extra(ref->layers[i].out, x, &p, &e);
}

static void backward(spd_ref_t *ref, int i, const float *dz_ready) {
  const spd_layer_t *layer = &ref->model->layers[i];
  ref_layer_state_t *st = &ref->layers[i];
  float *din = spd__ref_input_grad_of(ref, layer, 0);
  if (!din)
    return;
  /* A fused loss already gave the gradient w.r.t. this layer's input. */
  if (dz_ready) {
    spd_reshape_backward(din, dz_ready, st->out_size * (size_t)ref->batch);
  } else {
    spd_act_params_t p = spd__ref_act_params(layer, ref->batch);
    spd_act_extra_t e = spd__ref_act_extra(layer, spd__ref_input_of(ref, layer, 0));
    spd_activation_backward_extra(din, st->dout, st->out, &p, &e);
  }
}

static const char *const also[] = {"LeakyReLU", "ELU", "ReLU", "Softmax", NULL};

const spd_layer_op_t spd__op_ACTIVATION = {
    .keras = "Activation",
    .snake = "activation",
    .also = also,
    .traits = SPD_OP_ACTIVATION | SPD_OP_COMPUTES,
    .min_inputs = 1,
    .machine = SPD_OPM_FOLD_ACT,
    .infer = infer,
    .keras_read = keras_read,
    .keras_class = keras_class,
    .keras_write = keras_write,
    .ref_forward = forward,
    .ref_backward = backward,
    .fx_forward = spd__fx_forward_activation,
    .fx_backward = spd__fx_backward_pass_on,
};
