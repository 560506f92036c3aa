/* Activations, forward from the input and backward from the output (as
 * TensorFlow's ReluGrad, Relu6Grad, SigmoidGrad, TanhGrad, EluGrad and the softmax
 * gradient), so a layer only keeps its output. */
#include <math.h>

#include "spindle/reference.h"

static float act_one(spd_activation_t kind, float x, const spd_act_params_t *p) {
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
  default:
    return x;
  }
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
  if (p->kind == SPD_ACT_SOFTMAX) {
    for (size_t r = 0; r < p->rows; r++)
      softmax_row(y + r * p->cols, x + r * p->cols, p->cols);
    return;
  }
  size_t n = p->rows * p->cols;
  for (size_t i = 0; i < n; i++)
    y[i] = act_one(p->kind, x[i], p);
}

void spd_activation_backward(float *dx, const float *dy, const float *y,
                             const spd_act_params_t *p) {
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
  for (size_t i = 0; i < n; i++)
    dx[i] += dy[i] * slope_from_output(p->kind, y[i], p);
}
