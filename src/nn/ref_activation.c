/* Activations, forward from the input and backward from the output (as
 * TensorFlow's ReluGrad, Relu6Grad, SigmoidGrad, TanhGrad, EluGrad and the softmax
 * gradient), so a layer only keeps its output. */
#include <math.h>
#include <stdbool.h>

#include "spindle/reference.h"

/* SELU's constants (Klambauer et al. 2017, as Keras). */
#define SELU_ALPHA 1.6732632423543772f
#define SELU_SCALE 1.0507009873554805f
#define INV_SQRT2 0.70710678118654752f     /* gelu: 1/sqrt(2) */
#define INV_SQRT_2PI 0.39894228040143268f  /* gelu: the normal density's 1/sqrt(2 pi) */

static float act_one(spd_activation_t kind, float x, const spd_act_params_t *p,
                     const spd_act_extra_t *e) {
  switch (kind) {
  case SPD_ACT_RELU:
    return x > 0.0f ? x : 0.0f;
  case SPD_ACT_RELU6:
    return x > 0.0f ? (x < 6.0f ? x : 6.0f) : 0.0f;
  case SPD_ACT_SIGMOID:
    return 1.0f / (1.0f + expf(-x));
  case SPD_ACT_TANH:
    return tanhf(x);
  case SPD_ACT_LEAKY_RELU:
    return x > 0.0f ? x : p->negative_slope * x;
  case SPD_ACT_ELU:
    return x > 0.0f ? x : p->elu_alpha * expm1f(x);
  case SPD_ACT_SELU:
    return x > 0.0f ? SELU_SCALE * x : SELU_SCALE * SELU_ALPHA * expm1f(x);
  case SPD_ACT_SWISH:
    return x / (1.0f + expf(-x));
  case SPD_ACT_GELU:
    return 0.5f * x * (1.0f + erff(x * INV_SQRT2));
  case SPD_ACT_RELU_ARGS:
    if (!e)
      return x > 0.0f ? x : 0.0f;
    return x >= e->max_value ? e->max_value
           : x >= e->threshold ? x
                               : p->negative_slope * (x - e->threshold);
  default:
    return x;
  }
}

/* f'(x) of the activations whose output does not give it. */
static float slope_from_input(spd_activation_t kind, float x, const spd_act_params_t *p,
                              const spd_act_extra_t *e) {
  switch (kind) {
  case SPD_ACT_SWISH: {
    float s = 1.0f / (1.0f + expf(-x));
    return s * (1.0f + x * (1.0f - s));
  }
  case SPD_ACT_GELU:
    return 0.5f * (1.0f + erff(x * INV_SQRT2)) +
           x * expf(-0.5f * x * x) * INV_SQRT_2PI;
  case SPD_ACT_RELU_ARGS:
    return x >= e->max_value ? 0.0f : x >= e->threshold ? 1.0f : p->negative_slope;
  default:
    return 1.0f;
  }
}

static bool needs_input(spd_activation_t kind) {
  return kind == SPD_ACT_SWISH || kind == SPD_ACT_GELU || kind == SPD_ACT_RELU_ARGS;
}

/* f'(x) expressed through y = f(x). */
static float slope_from_output(spd_activation_t kind, float y, const spd_act_params_t *p) {
  switch (kind) {
  case SPD_ACT_RELU:
    return y > 0.0f ? 1.0f : 0.0f;
  case SPD_ACT_RELU6:
    return y > 0.0f && y < 6.0f ? 1.0f : 0.0f;
  case SPD_ACT_SIGMOID:
    return y * (1.0f - y);
  case SPD_ACT_TANH:
    return 1.0f - y * y;
  case SPD_ACT_LEAKY_RELU:
    return y > 0.0f ? 1.0f : p->negative_slope;
  case SPD_ACT_ELU:
    return y > 0.0f ? 1.0f : y + p->elu_alpha;
  case SPD_ACT_SELU:
    return y > 0.0f ? SELU_SCALE : y + SELU_SCALE * SELU_ALPHA;
  default:
    return 1.0f;
  }
}

static void softmax_row(float *y, const float *x, size_t n) {
  float max = x[0];
  for (size_t i = 1; i < n; i++)
    max = x[i] > max ? x[i] : max;
  float sum = 0.0f;
  for (size_t i = 0; i < n; i++) {
    y[i] = expf(x[i] - max);
    sum += y[i];
  }
  float inv = 1.0f / sum;
  for (size_t i = 0; i < n; i++)
    y[i] *= inv;
}

void spd_activation_forward(float *y, const float *x, const spd_act_params_t *p) {
  spd_activation_forward_extra(y, x, p, NULL);
}

void spd_activation_backward(float *dx, const float *dy, const float *y,
                             const spd_act_params_t *p) {
  spd_activation_backward_extra(dx, dy, y, p, NULL);
}

void spd_activation_forward_extra(float *y, const float *x, const spd_act_params_t *p,
                                  const spd_act_extra_t *e) {
  if (p->kind == SPD_ACT_SOFTMAX) {
    for (size_t r = 0; r < p->rows; r++)
      softmax_row(y + r * p->cols, x + r * p->cols, p->cols);
    return;
  }
  size_t n = p->rows * p->cols;
  for (size_t i = 0; i < n; i++)
    y[i] = act_one(p->kind, x[i], p, e);
}

void spd_activation_backward_extra(float *dx, const float *dy, const float *y,
                                   const spd_act_params_t *p, const spd_act_extra_t *e) {
  if (p->kind == SPD_ACT_SOFTMAX) {
    for (size_t r = 0; r < p->rows; r++) {
      const float *yr = y + r * p->cols, *dyr = dy + r * p->cols;
      float dot = 0.0f;
      for (size_t i = 0; i < p->cols; i++)
        dot += yr[i] * dyr[i];
      for (size_t i = 0; i < p->cols; i++)
        dx[r * p->cols + i] += yr[i] * (dyr[i] - dot);
    }
    return;
  }
  size_t n = p->rows * p->cols;
  if (needs_input(p->kind)) {
    for (size_t i = 0; e && e->x && i < n; i++)
      dx[i] += dy[i] * slope_from_input(p->kind, e->x[i], p, e);
    return;
  }
  for (size_t i = 0; i < n; i++)
    dx[i] += dy[i] * slope_from_output(p->kind, y[i], p);
}
