/* Losses with Keras 3's formulas and reduction (mean over the batch). */
#include "spindle/loss.h"

#include <math.h>
#include <string.h>

static const char *const names[] = {
#define SPD_LOSS_NAME_(id, name) name,
    SPD_LOSSES(SPD_LOSS_NAME_)
#undef SPD_LOSS_NAME_
};

const char *spd_loss_name(spd_loss_kind_t kind) {
  return (unsigned)kind < SPD_LOSS_COUNT ? names[kind] : "unknown";
}

int spd_loss_parse(const char *name) {
  static const struct { const char *alias; spd_loss_kind_t kind; } aliases[] = {
      {"mse", SPD_LOSS_MSE}, {"MeanSquaredError", SPD_LOSS_MSE},
      {"BinaryCrossentropy", SPD_LOSS_BINARY_CROSSENTROPY},
      {"CategoricalCrossentropy", SPD_LOSS_CATEGORICAL_CROSSENTROPY},
      {"SparseCategoricalCrossentropy", SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY},
  };
  for (int k = 0; k < SPD_LOSS_COUNT; k++)
    if (!strcmp(name, names[k]))
      return k;
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (!strcmp(name, aliases[i].alias))
      return (int)aliases[i].kind;
  return -1;
}

static const spd_layer_t *output_layer(const spd_model_t *m) {
  return &m->layers[m->output];
}

static size_t output_units(const spd_model_t *m) {
  return spd_shape_size(&output_layer(m)->output_shape);
}

spd_loss_kind_t spd_loss_default(const spd_model_t *m, const spd_targets_t *y) {
  spd_activation_t act = output_layer(m)->config.activation;
  if (output_units(m) == 1 && act == SPD_ACT_SIGMOID)
    return SPD_LOSS_BINARY_CROSSENTROPY;
  if (y->width == 0)
    return output_units(m) == 1 ? SPD_LOSS_BINARY_CROSSENTROPY
                                : SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
  if (act == SPD_ACT_SOFTMAX)
    return SPD_LOSS_CATEGORICAL_CROSSENTROPY;
  return act == SPD_ACT_SIGMOID ? SPD_LOSS_BINARY_CROSSENTROPY : SPD_LOSS_MSE;
}

static int check_labels(spd_ctx_t *ctx, const spd_targets_t *y, size_t units) {
  size_t classes = units == 1 ? 2 : units;
  for (size_t i = 0; i < y->n; i++)
    if (y->labels[i] < 0 || (size_t)y->labels[i] >= classes)
      return spd_ctx_fail(ctx, SPD_ESHAPE,
                          "label %ld of sample %zu is outside the %zu classes of "
                          "the model's output", (long)y->labels[i], i, classes);
  return 0;
}

int spd_loss_check(spd_ctx_t *ctx, spd_loss_kind_t loss, const spd_model_t *m,
                   const spd_targets_t *y) {
  size_t units = output_units(m);
  char shape[64];
  spd_shape_format(&output_layer(m)->output_shape, shape, sizeof shape);
  if ((unsigned)loss >= SPD_LOSS_COUNT)
    return spd_ctx_fail(ctx, SPD_EINVAL, "unknown loss %d", (int)loss);
  if (y->width == 0) {
    bool fits = loss == SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY ||
                (loss == SPD_LOSS_BINARY_CROSSENTROPY && units == 1);
    if (!fits)
      return spd_ctx_fail(ctx, SPD_EINVAL,
                          "loss %s needs target rows of %zu values, but the data "
                          "has integer labels (use sparse_categorical_crossentropy)",
                          spd_loss_name(loss), units);
    return check_labels(ctx, y, units);
  }
  if (loss == SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY)
    return spd_ctx_fail(ctx, SPD_EINVAL,
                        "loss sparse_categorical_crossentropy needs integer labels, "
                        "but the targets are rows of %zu values", y->width);
  if (y->width != units)
    return spd_ctx_fail(ctx, SPD_ESHAPE,
                        "the model's output %s has %zu values per sample but the "
                        "targets have %zu", shape, units, y->width);
  return 0;
}

static float clip_prob(float p, bool *clipped) {
  *clipped = p < SPD_LOSS_EPSILON || p > 1.0f - SPD_LOSS_EPSILON;
  return fminf(fmaxf(p, SPD_LOSS_EPSILON), 1.0f - SPD_LOSS_EPSILON);
}

static float target_at(const spd_targets_t *y, size_t i, size_t j) {
  if (y->width == 0)
    return y->labels[i] == (int32_t)j ? 1.0f : 0.0f;
  return y->values[i * y->width + j];
}

/* -sum_j t_j log(clip(p_j / s)), s = sum_j p_j, and its gradient
 * dL/dp_k = -(t_k / q_k) [unclipped] / s + sum_j t_j [q_j unclipped] / s. */
static double categorical_row(const float *p, size_t units, const spd_targets_t *y,
                              size_t i, float scale, float *g) {
  float s = 0.0f;
  for (size_t j = 0; j < units; j++)
    s += p[j];
  double loss = 0.0;
  float common = 0.0f;
  for (size_t j = 0; j < units; j++) {
    float t = target_at(y, i, j);
    bool clipped;
    float q = clip_prob(p[j] / s, &clipped);
    loss -= (double)t * log((double)q);
    if (g) {
      g[j] = clipped ? 0.0f : -t / (q * s);
      common += clipped ? 0.0f : t / s;
    }
  }
  if (g)
    for (size_t j = 0; j < units; j++)
      g[j] = (g[j] + common) * scale;
  return loss;
}

/* mean_j -(t log q + (1 - t) log(1 - q)), q = clip(p). */
static double binary_row(const float *p, size_t units, const float *t, float scale,
                         float *g) {
  double loss = 0.0;
  for (size_t j = 0; j < units; j++) {
    bool clipped;
    float q = clip_prob(p[j], &clipped);
    loss -= t[j] * log((double)q) + (1.0 - t[j]) * log(1.0 - (double)q);
    if (g)
      g[j] = clipped ? 0.0f : (q - t[j]) / (q * (1.0f - q)) * scale / (float)units;
  }
  return loss / (double)units;
}

static double squared_row(const float *p, size_t units, const float *t, float scale,
                          float *g) {
  double loss = 0.0;
  for (size_t j = 0; j < units; j++) {
    float d = p[j] - t[j];
    loss += (double)d * d;
    if (g)
      g[j] = 2.0f * d * scale / (float)units;
  }
  return loss / (double)units;
}

/* -sum_j t_j log_softmax(x)_j; dL/dx_k = softmax(x)_k sum_j t_j - t_k. */
static double categorical_logits_row(const float *x, size_t units,
                                     const spd_targets_t *y, size_t i, float scale,
                                     float *g) {
  float top = x[0];
  for (size_t j = 1; j < units; j++)
    top = fmaxf(top, x[j]);
  double z = 0.0;
  for (size_t j = 0; j < units; j++)
    z += exp((double)(x[j] - top));
  double log_z = log(z), loss = 0.0, t_sum = 0.0;
  for (size_t j = 0; j < units; j++) {
    double t = target_at(y, i, j);
    loss -= t * ((double)(x[j] - top) - log_z);
    t_sum += t;
  }
  if (g)
    for (size_t j = 0; j < units; j++)
      g[j] = (float)((exp((double)(x[j] - top) - log_z) * t_sum - target_at(y, i, j)) *
                     scale);
  return loss;
}

/* mean_j relu(x) - x t + log1p(exp(-|x|)); dL/dx = sigmoid(x) - t. */
static double binary_logits_row(const float *x, size_t units, const float *t,
                                float scale, float *g) {
  double loss = 0.0;
  for (size_t j = 0; j < units; j++) {
    double v = x[j];
    loss += fmax(v, 0.0) - v * t[j] + log1p(exp(-fabs(v)));
    if (g)
      g[j] = (float)((1.0 / (1.0 + exp(-v)) - t[j]) * scale / (double)units);
  }
  return loss / (double)units;
}

static double row_loss(spd_loss_kind_t kind, bool logits, const float *p, size_t units,
                       const spd_targets_t *y, size_t i, const float *t, float scale,
                       float *g) {
  switch (kind) {
  case SPD_LOSS_CATEGORICAL_CROSSENTROPY:
  case SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY:
    return logits ? categorical_logits_row(p, units, y, i, scale, g)
                  : categorical_row(p, units, y, i, scale, g);
  case SPD_LOSS_BINARY_CROSSENTROPY:
    return logits ? binary_logits_row(p, units, t, scale, g)
                  : binary_row(p, units, t, scale, g);
  default:
    return squared_row(p, units, t, scale, g);
  }
}

double spd_loss_compute(spd_loss_kind_t kind, bool from_logits, const float *pred,
                        size_t units, const spd_targets_t *y, float *grad) {
  double total = 0.0;
  float scale = 1.0f / (float)y->n;
  for (size_t i = 0; i < y->n; i++) {
    float label_row[1];
    const float *t = y->width ? y->values + i * y->width : label_row;
    if (!y->width)
      label_row[0] = (float)y->labels[i];
    total += row_loss(kind, from_logits, pred + i * units, units, y, i, t, scale,
                      grad ? grad + i * units : NULL);
  }
  return y->n ? total / (double)y->n : 0.0;
}
