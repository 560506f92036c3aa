/* Keras's losses and their gradients (keras/src/losses/losses.py and the
 * backend crossentropies): the last axis is reduced per row, then the mean
 * is taken over rows. Values are accumulated in double. */
#include <math.h>
#include <string.h>

#include "spindle/reference.h"

static const char *const loss_fn_names[] = {
#define LOSS_FN_(id, fn, cls) fn,
    SPD_LOSSES(LOSS_FN_)
#undef LOSS_FN_
};

static const char *const loss_class_names[] = {
#define LOSS_CLS_(id, fn, cls) cls,
    SPD_LOSSES(LOSS_CLS_)
#undef LOSS_CLS_
};

const char *spd_loss_name(spd_loss_kind_t kind) {
  if ((int)kind < 0 || kind >= SPD_LOSS_COUNT)
    return "?";
  return loss_fn_names[kind];
}

int spd_loss_parse(const char *name) {
  if (!strcmp(name, "mse"))
    return SPD_LOSS_MSE;
  for (int i = 0; i < SPD_LOSS_COUNT; i++)
    if (!strcmp(name, loss_fn_names[i]) || !strcmp(name, loss_class_names[i]))
      return i;
  return -1;
}

static double clip_prob(double p) {
  const double eps = SPD_LOSS_EPSILON;
  return p < eps ? eps : (p > 1.0 - eps ? 1.0 - eps : p);
}

static bool unclipped(double p) {
  return p > SPD_LOSS_EPSILON && p < 1.0 - SPD_LOSS_EPSILON;
}

/* Label j of a row: one-hot from the class index for sparse losses. */
static double label_at(const float *labels, size_t r, size_t j, const spd_loss_params_t *p) {
  if (p->kind == SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY)
    return (size_t)labels[r] == j ? 1.0 : 0.0;
  return labels[r * p->cols + j];
}

static double log_sum_exp(const float *z, size_t n) {
  double max = z[0], sum = 0.0;
  for (size_t j = 1; j < n; j++)
    max = z[j] > max ? z[j] : max;
  for (size_t j = 0; j < n; j++)
    sum += exp(z[j] - max);
  return max + log(sum);
}

static double row_sum(const float *x, size_t n) {
  double s = 0.0;
  for (size_t j = 0; j < n; j++)
    s += x[j];
  return s;
}

static double categorical_row(const float *pred, const float *labels, size_t r,
                              const spd_loss_params_t *p) {
  const float *x = pred + r * p->cols;
  double loss = 0.0;
  if (p->from_logits) {
    double lse = log_sum_exp(x, p->cols);
    for (size_t j = 0; j < p->cols; j++)
      loss += label_at(labels, r, j, p) * (lse - x[j]);
    return loss;
  }
  /* Keras renormalises the probabilities, then clips. */
  double total = row_sum(x, p->cols);
  for (size_t j = 0; j < p->cols; j++)
    loss -= label_at(labels, r, j, p) * log(clip_prob(x[j] / total));
  return loss;
}

static double elementwise_row(const float *pred, const float *labels, size_t r,
                              const spd_loss_params_t *p) {
  double loss = 0.0;
  for (size_t j = 0; j < p->cols; j++) {
    double x = pred[r * p->cols + j], y = labels[r * p->cols + j];
    if (p->kind == SPD_LOSS_MSE) {
      loss += (x - y) * (x - y);
    } else if (p->from_logits) {
      /* sigmoid_cross_entropy_with_logits, the stable form. */
      loss += fmax(x, 0.0) - x * y + log1p(exp(-fabs(x)));
    } else {
      double q = clip_prob(x);
      loss -= y * log(q) + (1.0 - y) * log(1.0 - q);
    }
  }
  return loss / (double)p->cols;
}

double spd_loss_forward(const float *pred, const float *labels, const spd_loss_params_t *p) {
  double total = 0.0;
  for (size_t r = 0; r < p->rows; r++) {
    if (p->kind == SPD_LOSS_CATEGORICAL_CROSSENTROPY ||
        p->kind == SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY)
      total += categorical_row(pred, labels, r, p);
    else
      total += elementwise_row(pred, labels, r, p);
  }
  return total / (double)p->rows;
}

static void categorical_grad(float *d, const float *pred, const float *labels, size_t r,
                             const spd_loss_params_t *p) {
  const float *x = pred + r * p->cols;
  double scale = 1.0 / (double)p->rows;
  if (p->from_logits) {
    double lse = log_sum_exp(x, p->cols), label_sum = 0.0;
    for (size_t j = 0; j < p->cols; j++)
      label_sum += label_at(labels, r, j, p);
    for (size_t j = 0; j < p->cols; j++)
      d[j] = (float)((exp(x[j] - lse) * label_sum - label_at(labels, r, j, p)) * scale);
    return;
  }
  /* L = -sum_i y_i log q_i with q_i = clip(x_i / S): with g_i = dL/dq_i,
   * dL/dx_j = (g_j - sum_i g_i x_i / S) / S. */
  double total = row_sum(x, p->cols), weighted = 0.0;
  for (size_t i = 0; i < p->cols; i++) {
    double q = x[i] / total;
    double g = unclipped(q) ? -label_at(labels, r, i, p) / q : 0.0;
    d[i] = (float)g;
    weighted += g * x[i];
  }
  for (size_t j = 0; j < p->cols; j++)
    d[j] = (float)((d[j] - weighted / total) / total * scale);
}

static void elementwise_grad(float *d, const float *pred, const float *labels, size_t r,
                             const spd_loss_params_t *p) {
  double scale = 1.0 / ((double)p->rows * (double)p->cols);
  for (size_t j = 0; j < p->cols; j++) {
    size_t i = r * p->cols + j;
    double x = pred[i], y = labels[i], g;
    if (p->kind == SPD_LOSS_MSE)
      g = 2.0 * (x - y);
    else if (p->from_logits)
      g = 1.0 / (1.0 + exp(-x)) - y;
    else
      g = unclipped(x) ? -y / x + (1.0 - y) / (1.0 - x) : 0.0;
    d[j] = (float)(g * scale);
  }
}

void spd_loss_backward(float *dpred, const float *pred, const float *labels,
                       const spd_loss_params_t *p) {
  for (size_t r = 0; r < p->rows; r++) {
    float *d = dpred + r * p->cols;
    if (p->kind == SPD_LOSS_CATEGORICAL_CROSSENTROPY ||
        p->kind == SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY)
      categorical_grad(d, pred, labels, r, p);
    else
      elementwise_grad(d, pred, labels, r, p);
  }
}
