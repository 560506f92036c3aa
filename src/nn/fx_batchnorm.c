/* BatchNormalization (last axis) in fixed point over the batch: per
 * channel, the exact sums over the N = batch x positions rows, then the
 * per-channel arithmetic of base/fx_bn.c (shared with a machine vertex,
 * docs/bn-on-machine.md). Inference and the moving statistics use int64 at
 * frac 32. For the layer, kernel holds gamma and bias holds beta (both
 * optional, Keras's scale and center). */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "base/fx_bn.h"
#include "nn/fx_net_internal.h"

#define STAT_FRAC SPD_FX_BN_STAT_FRAC
#define XHAT_FRAC SPD_FX_BN_XHAT_FRAC
#define MAX_ROWS SPD_FX_BN_MAX_ROWS

static int find_param(const spd_layer_t *l, const char *name) {
  for (int p = 0; p < l->n_params; p++)
    if (strcmp(l->params[p].name, name) == 0)
      return p;
  return -1;
}

static int64_t from_float_stat(float v) { return (int64_t)llround(ldexp((double)v, STAT_FRAC)); }

int spd__fx_bn_setup(spd_fx_net_t *net, fx_layer_t *fl, const spd_layer_t *l, int i) {
  fx_batchnorm_t *bn = &fl->bn;
  bn->channels = l->output_shape.dims[l->output_shape.rank - 1];
  bn->positions = (int)(fl->out_size / (size_t)bn->channels);
  size_t c = (size_t)bn->channels;
  bn->mean = spd_calloc(net->ctx, c, sizeof *bn->mean);
  bn->inv_std = spd_calloc(net->ctx, c, sizeof *bn->inv_std);
  bn->moving_mean = spd_calloc(net->ctx, c, sizeof *bn->moving_mean);
  bn->moving_var = spd_calloc(net->ctx, c, sizeof *bn->moving_var);
  bn->dx = spd_calloc(net->ctx, fl->out_size * (size_t)net->max_batch, sizeof *bn->dx);
  if (!bn->mean || !bn->inv_std || !bn->moving_mean || !bn->moving_var || !bn->dx)
    return spd_ctx_fail(net->ctx, SPD_ENOMEM, "layer '%s': out of memory", l->config.name);
  int pm = find_param(l, "moving_mean"), pv = find_param(l, "moving_variance");
  for (size_t k = 0; k < c; k++) {
    bn->moving_mean[k] = pm >= 0 ? from_float_stat(l->params[pm].value.data[k]) : 0;
    bn->moving_var[k] = pv >= 0 ? from_float_stat(l->params[pv].value.data[k])
                                : (int64_t)1 << STAT_FRAC;
  }
  bn->momentum = spd_fx_const_from_double(l->config.momentum);
  bn->one_minus_momentum = spd_fx_const_from_double(1.0 - l->config.momentum);
  bn->epsilon = spd_fx_const_from_double(l->config.epsilon);
  bn->gamma_index = find_param(l, "gamma");
  bn->beta_index = find_param(l, "beta");
  int rc = 0;
  if (bn->gamma_index >= 0)
    rc = spd__fx_param_new(net, &fl->kernel, &l->params[bn->gamma_index], false,
                           (uint32_t)i * 16u);
  if (!rc && bn->beta_index >= 0)
    rc = spd__fx_param_new(net, &fl->bias, &l->params[bn->beta_index], false,
                           (uint32_t)i * 16u + 1u);
  return rc;
}

/* Batch statistics (training, calibration) are exact while a batch's rows
 * stay within MAX_ROWS; inference uses the moving statistics and takes any
 * batch. */
int spd__fx_bn_batch_limit(const spd_fx_net_t *net, int *layer) {
  int limit = INT_MAX;
  for (int i = 0; i < net->n_layers; i++) {
    const fx_layer_t *fl = &net->layers[i];
    if (fl->kind == SPD_LAYER_BATCHNORM && MAX_ROWS / fl->bn.positions < limit) {
      limit = MAX_ROWS / fl->bn.positions;
      *layer = i;
    }
  }
  return limit;
}

int spd__fx_bn_check_batch(spd_fx_net_t *net, int batch) {
  int layer = 0, limit = spd__fx_bn_batch_limit(net, &layer);
  if (batch <= limit)
    return 0;
  const fx_batchnorm_t *bn = &net->layers[layer].bn;
  return spd_ctx_fail(net->ctx, SPD_EUNSUPPORTED,
                      "layer '%s' (BatchNormalization): %d positions x batch %d = %lld rows; "
                      "the fixed-point batch statistics of training are exact up to %d rows "
                      "(a batch of at most %d)",
                      net->model->layers[layer].config.name, bn->positions, batch,
                      (long long)bn->positions * batch, MAX_ROWS, limit);
}

void spd__fx_bn_free(spd_fx_net_t *net, fx_layer_t *fl) {
  spd_free(net->ctx, fl->bn.mean);
  spd_free(net->ctx, fl->bn.inv_std);
  spd_free(net->ctx, fl->bn.moving_mean);
  spd_free(net->ctx, fl->bn.moving_var);
  spd_free(net->ctx, fl->bn.dx);
}

/* Batch statistics of channel c: mean at frac x_frac + 16, the multiplier
 * inv_std, and (training) the moving averages updated. */
static void batch_stats(spd_fx_net_t *net, fx_layer_t *fl, const int16_t *x, size_t rows, int c,
                        int x_frac) {
  fx_batchnorm_t *bn = &fl->bn;
  int64_t s1 = 0, s2 = 0;
  for (size_t r = 0; r < rows; r++) {
    int64_t v = x[r * (size_t)bn->channels + (size_t)c];
    s1 += v;
    s2 += v * v;
  }
  int64_t var32;
  spd_fx_bn_batch_stats(s1, s2, (int64_t)rows, x_frac, bn->epsilon, &bn->mean[c],
                        &bn->inv_std[c], net->training ? &var32 : NULL, &net->sat);
  if (!net->training)
    return;
  int64_t mean32 = spd_fx_bn_mean32(bn->mean[c], x_frac);
  bn->moving_mean[c] = spd_fx_bn_moving_update(bn->moving_mean[c], mean32, bn->momentum,
                                               bn->one_minus_momentum, &net->sat);
  bn->moving_var[c] = spd_fx_bn_moving_update(bn->moving_var[c], var32, bn->momentum,
                                              bn->one_minus_momentum, &net->sat);
}

/* Inference: the moving statistics. */
static void moving_stats(spd_fx_net_t *net, fx_layer_t *fl, int c, int x_frac) {
  fx_batchnorm_t *bn = &fl->bn;
  spd_fx_bn_moving_stats(bn->moving_mean[c], bn->moving_var[c], x_frac, bn->epsilon,
                         &bn->mean[c], &bn->inv_std[c], &net->sat);
}

static int32_t gamma_of(const fx_layer_t *fl, int c) {
  return fl->kernel.master ? fl->kernel.master[c] : (int32_t)1 << SPD_FX_MASTER_FRAC;
}

void spd__fx_bn_forward(spd_fx_net_t *net, int i, int batch) {
  fx_layer_t *fl = &net->layers[i];
  fx_batchnorm_t *bn = &fl->bn;
  int in = spd__fx_owner(net, spd__fx_inbound(net, i, 0));
  const int16_t *x = net->layers[in].all.y;
  int x_frac = net->plan->layers[in].act_frac;
  size_t rows = (size_t)batch * (size_t)bn->positions, C = (size_t)bn->channels;
  bool batch_stats_mode = net->training || net->calibrating;
  for (int c = 0; c < bn->channels; c++) {
    if (batch_stats_mode)
      batch_stats(net, fl, x, rows, c, x_frac);
    else
      moving_stats(net, fl, c, x_frac);
    int32_t g = gamma_of(fl, c), b = fl->bias.master ? fl->bias.master[c] : 0;
    for (size_t r = 0; r < rows; r++) {
      size_t at = r * C + (size_t)c;
      fl->all.z[at] = spd_fx_bn_xhat(x[at], bn->mean[c], bn->inv_std[c], x_frac, &net->sat);
      int64_t out = spd_fx_bn_scale(fl->all.z[at], g, b); /* frac 24 + 16, below 2^56 */
      if (net->calibrating)
        fl->max_z = fmax(fl->max_z, fabs(ldexp((double)out, -40)));
      fl->all.y[at] = spd_fx_to16(out, SPD_FX_MASTER_FRAC + XHAT_FRAC, fl->act.out_frac,
                                  &net->sat);
    }
  }
}

/* One channel's dX at SPD_FX_GRAD_SUM_FRAC into dx (rows x C). */
static void channel_dx(spd_fx_net_t *net, fx_layer_t *fl, int c, size_t rows, int g_frac,
                       int64_t sum_dy, int64_t sum_dy_xhat, int64_t *dx) {
  fx_batchnorm_t *bn = &fl->bn;
  size_t C = (size_t)bn->channels;
  spd_fx_bn_back_t b = spd_fx_bn_back_init((int64_t)rows, sum_dy, sum_dy_xhat, gamma_of(fl, c),
                                           bn->inv_std[c], g_frac, SPD_FX_GRAD_SUM_FRAC);
  for (size_t r = 0; r < rows; r++) {
    size_t at = r * C + (size_t)c;
    dx[at] = spd_fx_bn_dx(&b, fl->all.dz[at], fl->all.z[at], &net->sat);
  }
}

void spd__fx_bn_backward(spd_fx_net_t *net, int i, int batch, int64_t *dx) {
  fx_layer_t *fl = &net->layers[i];
  fx_batchnorm_t *bn = &fl->bn;
  size_t rows = (size_t)batch * (size_t)bn->positions, C = (size_t)bn->channels;
  int g_frac = net->plan->layers[i].grad_frac;
  for (int c = 0; c < bn->channels; c++) {
    int64_t sum_dy = 0, sum_dy_xhat = 0; /* exact: below 2^56 */
    for (size_t r = 0; r < rows; r++) {
      size_t at = r * C + (size_t)c;
      sum_dy += fl->all.dz[at];
      sum_dy_xhat += (int64_t)fl->all.dz[at] * fl->all.z[at];
    }
    if (fl->kernel.grad)
      fl->kernel.grad[c] += sum_dy_xhat;
    if (fl->bias.grad)
      fl->bias.grad[c] += sum_dy;
    if (dx)
      channel_dx(net, fl, c, rows, g_frac, sum_dy, sum_dy_xhat, dx);
  }
}

void spd__fx_bn_export(const spd_fx_net_t *net, int i, spd_model_t *m) {
  const fx_layer_t *fl = &net->layers[i];
  const fx_batchnorm_t *bn = &fl->bn;
  spd_layer_t *l = &m->layers[i];
  int pm = find_param(l, "moving_mean"), pv = find_param(l, "moving_variance");
  for (int c = 0; c < bn->channels; c++) {
    if (bn->gamma_index >= 0)
      l->params[bn->gamma_index].value.data[c] =
          spd_fx_to_float(fl->kernel.master[c], SPD_FX_MASTER_FRAC);
    if (bn->beta_index >= 0)
      l->params[bn->beta_index].value.data[c] =
          spd_fx_to_float(fl->bias.master[c], SPD_FX_MASTER_FRAC);
    if (pm >= 0)
      l->params[pm].value.data[c] = (float)ldexp((double)bn->moving_mean[c], -STAT_FRAC);
    if (pv >= 0)
      l->params[pv].value.data[c] = (float)ldexp((double)bn->moving_var[c], -STAT_FRAC);
  }
}
