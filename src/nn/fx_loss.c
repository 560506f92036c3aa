/* The fixed-point loss core: per-sample loss value, accuracy and the
 * gradient at the output, unscaled by 1/B (the optimizer folds 1/B into its
 * constants). Cross-entropies are fused with their softmax or sigmoid, so
 * the output gradient is the exact difference p - t rounded once. */
#include <math.h>

#include "nn/fx_net_internal.h"

#define PROB_FRAC SPD_FX_LOGITS_PROB_FRAC /* probabilities the loss computes itself */

int spd__fx_loss_check(spd_fx_net_t *net) {
  const spd_model_t *m = net->model;
  const spd_layer_t *out = &m->layers[m->n_layers - 1];
  spd_layer_kind_t k = out->config.kind;
  if (k != SPD_LAYER_DENSE && k != SPD_LAYER_ACTIVATION)
    return spd_ctx_fail(net->ctx, SPD_EUNSUPPORTED,
                        "layer '%s' (%s): the fixed-point loss needs a Dense or Activation "
                        "output layer",
                        out->config.name, spd_layer_kind_name(k));
  spd_activation_t a = out->config.activation;
  bool logits = net->from_logits && a == SPD_ACT_LINEAR;
  bool ok = true;
  if (net->loss == SPD_FX_LOSS_SPARSE_CE || net->loss == SPD_FX_LOSS_CE)
    ok = a == SPD_ACT_SOFTMAX || logits;
  else if (net->loss == SPD_FX_LOSS_BCE)
    ok = a == SPD_ACT_SIGMOID || logits;
  if (!ok)
    return spd_ctx_fail(net->ctx, SPD_EUNSUPPORTED,
                        "layer '%s': the fixed-point cross-entropy needs a %s output (or "
                        "from_logits with a linear one), not %s",
                        out->config.name, net->loss == SPD_FX_LOSS_BCE ? "sigmoid" : "softmax",
                        spd_activation_name(a));
  double n = (double)spd_shape_size(&out->output_shape);
  net->inv_n = spd_fx_const_from_double(1.0 / n);
  net->two_over_n = spd_fx_const_from_double(2.0 / n);
  net->loss_fused = net->loss != SPD_FX_LOSS_MSE;
  return 0;
}

static double loss_real(int64_t v) { return ldexp((double)v, -SPD_FX_LOSS_FRAC); }

/* Target c of sample s at frac @p frac: integer labels are one-hot, or the
 * 0/1 value itself for a single binary unit. */
static int16_t target(const spd_fx_batch_t *b, int s, size_t n, size_t c, int frac,
                      uint32_t *sat) {
  if (b->labels && n == 1)
    return b->labels[s] ? (int16_t)(1 << frac) : 0;
  if (b->labels)
    return (size_t)b->labels[s] == c ? (int16_t)(1 << frac) : 0;
  return spd_fx_from_float16(b->targets[(size_t)s * n + c], frac, sat);
}

static int target_class(const spd_fx_batch_t *b, int s, size_t n) {
  if (b->labels)
    return b->labels[s];
  const float *t = b->targets + (size_t)s * n;
  int best = 0;
  for (size_t c = 1; c < n; c++)
    if (t[c] > t[best])
      best = (int)c;
  return best;
}

/* Probabilities of the output: its own y when it applies the softmax or
 * sigmoid, else computed from the logits at PROB_FRAC. */
static const int16_t *probabilities(spd_fx_net_t *net, fx_layer_t *out, int *frac) {
  int n = (int)out->out_size;
  if (!net->from_logits || out->softmax || out->act.kind != SPD_FX_ACT_LINEAR) {
    *frac = out->act.out_frac;
    return out->y;
  }
  *frac = PROB_FRAC;
  if (net->loss == SPD_FX_LOSS_BCE) {
    for (int c = 0; c < n; c++)
      net->loss_scratch[c] = spd_fx_to16(spd_fx_sigmoid_q30(out->z[c]), 30, PROB_FRAC, &net->sat);
  } else {
    spd_fx_softmax(net->loss_scratch, out->z, n, PROB_FRAC, &net->sat);
  }
  return net->loss_scratch;
}

static void note_grad(spd_fx_net_t *net, fx_layer_t *out, int64_t v, int frac) {
  double g = fabs(ldexp((double)v, -frac));
  if (net->calibrating && g > out->max_g)
    out->max_g = g;
}

static double cross_entropy(spd_fx_net_t *net, const spd_fx_batch_t *b, int s, fx_layer_t *out,
                            int grad_frac) {
  size_t n = out->out_size;
  int pf;
  const int16_t *p = probabilities(net, out, &pf);
  double loss = 0;
  for (size_t c = 0; c < n; c++) {
    int16_t t = target(b, s, n, c, pf, &net->sat);
    int64_t diff = (int64_t)p[c] - t;
    note_grad(net, out, diff, pf);
    out->dz[c] = spd_fx_to16(diff, pf, grad_frac, &net->sat);
    if (net->loss == SPD_FX_LOSS_BCE) {
      loss += loss_real(spd_fx_sigmoid_bce(out->z[c], t, pf));
    } else if (t != 0) {
      loss += ldexp((double)t, -pf) * loss_real(spd_fx_softmax_xent(out->z, (int)n, (int)c));
    }
  }
  if (net->loss == SPD_FX_LOSS_BCE) { /* Keras averages BCE over the last axis */
    for (size_t c = 0; c < n; c++)
      out->dz[c] = spd_fx_sat16(spd_fx_mul_const(out->dz[c], net->inv_n, 0, 0,
                                                 SPD_FX_ROUND_NEAREST, &net->sat),
                                &net->sat);
    loss /= (double)n;
  }
  return loss;
}

static double mean_squared_error(spd_fx_net_t *net, const spd_fx_batch_t *b, int s,
                                 fx_layer_t *out, int y_frac, int grad_frac) {
  size_t n = out->out_size;
  double sum = 0;
  for (size_t c = 0; c < n; c++) {
    int64_t diff = (int64_t)out->y[c] - target(b, s, n, c, y_frac, &net->sat);
    sum += ldexp((double)(diff * diff), -2 * y_frac);
    int64_t g = spd_fx_mul_const(diff, net->two_over_n, y_frac, grad_frac,
                                 SPD_FX_ROUND_NEAREST, &net->sat);
    note_grad(net, out, g, grad_frac);
    out->dy[c] = spd_fx_sat16(g, &net->sat);
  }
  return sum / (double)n;
}

static bool correct(spd_fx_net_t *net, const spd_fx_batch_t *b, int s, const fx_layer_t *out,
                    int y_frac) {
  size_t n = out->out_size;
  if (net->loss == SPD_FX_LOSS_BCE && n == 1) {
    bool positive = net->from_logits ? out->z[0] > 0 : out->y[0] >= (1 << (y_frac - 1));
    return positive == (b->labels ? b->labels[s] != 0 : b->targets[s] >= 0.5f);
  }
  return spd_fx_argmax16(out->y, (int)n) == target_class(b, s, n);
}

void spd__fx_loss_sample(spd_fx_net_t *net, const spd_fx_batch_t *b, int s,
                         spd_fx_result_t *res) {
  int last = net->n_layers - 1;
  fx_layer_t *out = &net->layers[last];
  int y_frac = net->plan->layers[last].act_frac;
  int grad_frac = net->plan->layers[last].grad_frac;
  uint32_t before = net->sat;
  double loss = net->loss == SPD_FX_LOSS_MSE
                    ? mean_squared_error(net, b, s, out, y_frac, grad_frac)
                    : cross_entropy(net, b, s, out, grad_frac);
  out->sat_backward += net->sat - before; /* the loss gradient's own rounding */
  res->loss_sum += loss;
  res->correct += correct(net, b, s, out, y_frac);
}
