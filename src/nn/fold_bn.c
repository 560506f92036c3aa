/* --fold-bn: a BatchNormalization in inference is a per-channel affine map
 * with constant coefficients (the moving statistics), so it folds into the
 * linear layer before it:
 *   s_c = gamma_c / sqrt(moving_var_c + epsilon)
 *   W'[..., c] = s_c W[..., c],   b'_c = s_c (b_c - moving_mean_c) + beta_c
 * The copy has one layer fewer per fold and the same values up to float
 * rounding (computed in double, rounded once to float). Only inference may
 * use it: training needs the batch statistics (docs/bn-on-machine.md). */
#include <math.h>
#include <string.h>

#include "nn/ref_exec.h"
#include "spindle/compile.h"
#include "spindle/model.h"

static const spd_param_t *param_of(const spd_layer_t *l, const char *name) {
  for (int p = 0; p < l->n_params; p++)
    if (strcmp(l->params[p].name, name) == 0)
      return &l->params[p];
  return NULL;
}

static spd_param_t *param_of_mut(spd_layer_t *l, const char *name) {
  return (spd_param_t *)param_of(l, name);
}

/* Layer @p b is a BatchNormalization that folds into its one inbound layer:
 * a Dense or convolution with a linear activation whose output nothing else
 * reads and which is not the model's output. */
static bool folds(const spd_model_t *m, int b) {
  const spd_layer_t *bn = &m->layers[b];
  if (bn->config.kind != SPD_LAYER_BATCHNORM || bn->n_inbound != 1)
    return false;
  int p = bn->inbound[0];
  const spd_layer_t *lin = &m->layers[p];
  spd_layer_kind_t k = lin->config.kind;
  if (k != SPD_LAYER_DENSE && k != SPD_LAYER_CONV1D && k != SPD_LAYER_CONV2D)
    return false;
  if (lin->config.activation != SPD_ACT_LINEAR || p == m->output)
    return false;
  for (int i = 0; i < m->n_layers; i++)
    for (int j = 0; j < m->layers[i].n_inbound; j++)
      if (i != b && m->layers[i].inbound[j] == p)
        return false;
  return true;
}

/* The folded kernel and bias of @p lin (built in the copy, with a bias)
 * from the source layer @p src and its BatchNormalization @p bn. */
static void fold_params(spd_layer_t *lin, const spd_layer_t *src, const spd_layer_t *bn) {
  int C = src->output_shape.dims[src->output_shape.rank - 1];
  const float *g = spd__ref_param(bn, "gamma"), *be = spd__ref_param(bn, "beta");
  const float *mm = spd__ref_param(bn, "moving_mean");
  const float *mv = spd__ref_param(bn, "moving_variance");
  const float *b = spd__ref_param(src, "bias");
  const spd_param_t *w = param_of(src, "kernel");
  spd_param_t *w2 = param_of_mut(lin, "kernel"), *b2 = param_of_mut(lin, "bias");
  double eps = bn->config.epsilon;
  size_t nw = spd_shape_size(&w->value.shape);
  for (int c = 0; c < C; c++) {
    double var = mv ? mv[c] : 1.0, mean = mm ? mm[c] : 0.0;
    double s = (g ? g[c] : 1.0) / sqrt(var + eps);
    double bias = b ? b[c] : 0.0;
    b2->value.data[c] = (float)(s * (bias - mean) + (be ? be[c] : 0.0));
    /* the output channel is the kernel's last axis (Dense (in, units),
     * Conv (k..., in, filters)) */
    for (size_t i = (size_t)c; i < nw; i += (size_t)C)
      w2->value.data[i] = (float)(s * w->value.data[i]);
  }
}

static void copy_params(spd_layer_t *dst, const spd_layer_t *src) {
  for (int p = 0; p < src->n_params; p++) {
    spd_param_t *d = param_of_mut(dst, src->params[p].name);
    if (d)
      memcpy(d->value.data, src->params[p].value.data,
             spd_shape_size(&src->params[p].value.shape) * sizeof(float));
  }
}

int spd_model_fold_bn(const spd_model_t *m, spd_model_t **out, int *n_folded) {
  *out = NULL;
  if (!m->built)
    return spd_ctx_fail(m->ctx, SPD_ESTATE, "model '%s': fold BatchNormalization of a built "
                        "model", m->name);
  int n = m->n_layers, folded = 0;
  int *map = spd_calloc(m->ctx, (size_t)n, sizeof *map);
  int *bn_of = spd_calloc(m->ctx, (size_t)n, sizeof *bn_of);
  spd_model_t *f = NULL;
  int rc = !map || !bn_of ? spd_ctx_fail(m->ctx, SPD_ENOMEM, "model '%s': out of memory",
                                        m->name)
                          : spd_model_new(m->ctx, m->name, &f);
  for (int i = 0; i < n && !rc; i++)
    bn_of[i] = -1;
  for (int i = 0; i < n && !rc; i++)
    if (folds(m, i))
      bn_of[m->layers[i].inbound[0]] = i;
  for (int i = 0; i < n && !rc; i++) {
    const spd_layer_t *l = &m->layers[i];
    if (l->n_inbound == 1 && bn_of[l->inbound[0]] == i) { /* a BN that folds */
      map[i] = map[l->inbound[0]];
      folded++;
      continue;
    }
    spd_layer_config_t cfg = l->config;
    if (bn_of[i] >= 0)
      cfg.use_bias = true;
    int in[SPD_MAX_INBOUND];
    for (int j = 0; j < l->n_inbound; j++)
      in[j] = map[l->inbound[j]];
    rc = spd_model_add(f, &cfg, in, l->n_inbound, &map[i]);
  }
  if (!rc) {
    f->output = map[m->output];
    f->channels_first = m->channels_first;
    f->output_channels_last = m->output_channels_last;
    rc = spd_model_set_compile(f, m->compile);
  }
  if (!rc)
    rc = spd_model_build(f, 0);
  for (int i = 0; i < n && !rc; i++) {
    const spd_layer_t *l = &m->layers[i];
    if (l->n_inbound == 1 && bn_of[l->inbound[0]] == i)
      continue;
    if (bn_of[i] >= 0)
      fold_params(&f->layers[map[i]], l, &m->layers[bn_of[i]]);
    else
      copy_params(&f->layers[map[i]], l);
  }
  spd_free(m->ctx, map);
  spd_free(m->ctx, bn_of);
  if (rc) {
    spd_model_free(f);
    return rc;
  }
  if (n_folded)
    *n_folded = folded;
  *out = f;
  return 0;
}
