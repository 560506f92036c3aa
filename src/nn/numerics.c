#include "spindle/numerics.h"

#include <math.h>
#include <string.h>

#include "nn/layer_op.h"

#define DEFAULT_FRAC 11  /* s4.11: unbounded activations and gradients */
#define HEADROOM_ACT 4.0
#define HEADROOM_GRAD 4.0
#define HEADROOM_WEIGHT 4.0

const char *spd_numeric_name(spd_numeric_t n) { return n == SPD_NUMERIC_FIXED ? "fixed" : "float"; }

int spd_numeric_parse(const char *name) {
  if (strcmp(name, "float") == 0)
    return SPD_NUMERIC_FLOAT;
  if (strcmp(name, "fixed") == 0)
    return SPD_NUMERIC_FIXED;
  return -1;
}

int spd_numeric_frac_for(double max_abs, double headroom, int lo, int hi) {
  if (!(max_abs > 0.0))
    return hi;
  int frac = (int)floor(log2((double)INT16_MAX / (max_abs * headroom)));
  return frac < lo ? lo : frac > hi ? hi : frac;
}

/* The layer whose config holds the activation layer @p i applies: an
 * activation layer folded into it (nn/layer_op.h), or itself. */
static const spd_layer_t *act_source(const spd_model_t *m, int i) {
  int f = spd__layer_folded_into(m, i);
  return &m->layers[f >= 0 ? f : i];
}

/* The activation layer @p i applies, or linear. */
static spd_activation_t layer_activation(const spd_model_t *m, int i) {
  return spd__op_activation(act_source(m, i));
}

/* The layer whose gradient the loss gives: the output, or the layer the
 * output activation is folded into. */
static bool is_output(const spd_model_t *m, int i) {
  return i == m->output || spd__layer_fold_target(m, m->output) == i;
}

static bool bounded_activation(spd_activation_t a) {
  return a == SPD_ACT_SIGMOID || a == SPD_ACT_SOFTMAX || a == SPD_ACT_TANH;
}

/* Layers that compute new values (and so own their output's format). Data
 * movers (Flatten, Reshape, Dropout, max pooling) pass values unchanged and
 * average pooling stays within its input's range, so they inherit the fracs
 * of what feeds them. */
static bool computes_values(const spd_model_t *m, int i) {
  return spd__op_has(&m->layers[i], SPD_OP_COMPUTES) && spd__layer_fold_target(m, i) < 0;
}

static bool has_kernel(const spd_layer_t *l) { return spd__op_has(l, SPD_OP_WEIGHTS); }

/* Data movers (and folded activations, whose values their producer
 * computes) copy the fracs of their first input, in topological order. */
static void inherit_data_movers(spd_numeric_plan_t *plan, const spd_model_t *m) {
  for (int i = 1; i < m->n_layers; i++) {
    const spd_layer_t *l = &m->layers[i];
    if (computes_values(m, i) || l->n_inbound < 1)
      continue;
    const spd_layer_numerics_t *in = &plan->layers[l->inbound[0]];
    plan->layers[i].act_frac = in->act_frac;
    plan->layers[i].grad_frac = in->grad_frac;
  }
}

static void default_layer(spd_layer_numerics_t *ln, const spd_model_t *m, int i) {
  const spd_layer_t *l = &m->layers[i];
  bool bounded = bounded_activation(layer_activation(m, i));
  ln->act_frac = (l->config.kind == SPD_LAYER_INPUT || bounded) ? SPD_NUM_MAX_FRAC : DEFAULT_FRAC;
  /* The output layer's gradient is p - y (softmax or sigmoid with a
   * cross-entropy) or the activation's slope times a bounded error. */
  ln->grad_frac = (is_output(m, i) && bounded) ? SPD_NUM_MAX_FRAC : DEFAULT_FRAC;
  ln->weight_frac = has_kernel(l) ? SPD_NUM_MAX_FRAC : 0;
}

int spd_numeric_plan_new(spd_ctx_t *ctx, const spd_model_t *m, spd_numeric_plan_t **out) {
  if (!m->built || m->n_layers < 1)
    return spd_ctx_fail(ctx, SPD_EINVAL, "numeric plan: model '%s' is not built", m->name);
  spd_numeric_plan_t *plan = spd_calloc(ctx, 1, sizeof *plan);
  if (!plan)
    return spd_ctx_fail(ctx, SPD_ENOMEM, "numeric plan: out of memory");
  plan->layers = spd_calloc(ctx, (size_t)m->n_layers, sizeof *plan->layers);
  if (!plan->layers) {
    spd_free(ctx, plan);
    return spd_ctx_fail(ctx, SPD_ENOMEM, "numeric plan: out of memory for %d layers",
                        m->n_layers);
  }
  plan->ctx = ctx;
  plan->numeric = SPD_NUMERIC_FIXED;
  plan->n_layers = m->n_layers;
  for (int i = 0; i < m->n_layers; i++)
    default_layer(&plan->layers[i], m, i);
  inherit_data_movers(plan, m);
  *out = plan;
  return 0;
}

void spd_numeric_plan_free(spd_numeric_plan_t *plan) {
  if (!plan)
    return;
  spd_free(plan->ctx, plan->layers);
  spd_free(plan->ctx, plan);
}

void spd_numeric_plan_calibrate(spd_numeric_plan_t *plan, const spd_model_t *m,
                                const spd_layer_stats_t *stats) {
  for (int i = 0; i < m->n_layers; i++) {
    const spd_layer_t *l = &m->layers[i];
    spd_layer_numerics_t *ln = &plan->layers[i];
    bool bounded = bounded_activation(layer_activation(m, i));
    /* Inputs do not grow during training; activations do. */
    double headroom = l->config.kind == SPD_LAYER_INPUT ? 1.0 : HEADROOM_ACT;
    /* Hidden activations grow far beyond their first-batch size as the
     * weights train (LeNet's conv outputs by 4x and more), so calibration may
     * widen their range below s4.11 but never narrow it. */
    int act_max = l->config.kind == SPD_LAYER_INPUT ? SPD_NUM_MAX_FRAC : DEFAULT_FRAC;
    if (computes_values(m, i) && !bounded)
      ln->act_frac = spd_numeric_frac_for(stats[i].max_act, headroom, SPD_NUM_MIN_FRAC, act_max);
    if (!(is_output(m, i) && bounded))
      ln->grad_frac = spd_numeric_frac_for(stats[i].max_grad, HEADROOM_GRAD,
                                           SPD_NUM_MIN_FRAC, SPD_NUM_MAX_FRAC);
    if (has_kernel(l))
      ln->weight_frac = spd_numeric_frac_for(stats[i].max_weight, HEADROOM_WEIGHT,
                                             SPD_NUM_MIN_FRAC, SPD_NUM_MAX_FRAC);
  }
  inherit_data_movers(plan, m);
}

static spd_fx_act_t fx_activation(spd_activation_t a) {
  switch (a) {
  case SPD_ACT_RELU:
    return SPD_FX_ACT_RELU;
  case SPD_ACT_SIGMOID:
    return SPD_FX_ACT_SIGMOID;
  case SPD_ACT_TANH:
    return SPD_FX_ACT_TANH;
  case SPD_ACT_LEAKY_RELU:
    return SPD_FX_ACT_LEAKY_RELU;
  case SPD_ACT_ELU:
    return SPD_FX_ACT_ELU;
  default:
    return SPD_FX_ACT_LINEAR;
  }
}

spd_fx_act_params_t spd_numeric_act_params(const spd_numeric_plan_t *plan,
                                           const spd_model_t *m, int layer) {
  const spd_layer_t *l = act_source(m, layer);
  spd_activation_t a = spd__op_activation(l);
  spd_fx_act_params_t p = {fx_activation(a), plan->layers[layer].act_frac, 0};
  double alpha = a == SPD_ACT_ELU ? l->config.elu_alpha : l->config.negative_slope;
  /* Slopes of 2 or more do not fit Q1.30 and are clamped just below 2. */
  if (a == SPD_ACT_ELU || a == SPD_ACT_LEAKY_RELU)
    p.alpha_q30 = (int32_t)lrint(ldexp(fmin(fmax(alpha, 0.0), 1.999999999), 30));
  return p;
}

int spd_numeric_input_frac(const spd_numeric_plan_t *plan, const spd_model_t *m, int layer) {
  const spd_layer_t *l = &m->layers[layer];
  return plan->layers[l->n_inbound > 0 ? l->inbound[0] : layer].act_frac;
}
