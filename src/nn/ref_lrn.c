/* Local response normalization across channels (ONNX's LRN, AlexNet's
 * norm layers): y_c = x_c * s_c^-beta with s_c = bias + alpha / size *
 * sum over c's window of x^2. The backward recomputes s from the input:
 * dx_j = dy_j * s_j^-beta - 2 alpha beta / size * x_j * sum over the c
 * whose window holds j of dy_c * x_c * s_c^(-beta-1). */
#include <math.h>

#include "spindle/reference.h"

/* Window [lo, hi] of channel c, clipped to the channels. */
static void window(const spd_lrn_params_t *p, int c, int *lo, int *hi) {
  *lo = c - (p->size - 1) / 2;
  *hi = c + p->size / 2;
  *lo = *lo < 0 ? 0 : *lo;
  *hi = *hi >= p->channels ? p->channels - 1 : *hi;
}

static double scale_of(const float *x, const spd_lrn_params_t *p, int c) {
  int lo, hi;
  window(p, c, &lo, &hi);
  double sum = 0.0;
  for (int j = lo; j <= hi; j++)
    sum += (double)x[j] * x[j];
  return p->bias + p->alpha / p->size * sum;
}

void spd_lrn_forward(float *out, const float *in, const spd_lrn_params_t *p) {
  for (size_t r = 0; r < p->rows; r++) {
    const float *x = in + r * (size_t)p->channels;
    float *y = out + r * (size_t)p->channels;
    for (int c = 0; c < p->channels; c++)
      y[c] = (float)(x[c] * pow(scale_of(x, p, c), -p->beta));
  }
}

void spd_lrn_backward(float *din, const float *dout, const float *in,
                      const spd_lrn_params_t *p) {
  for (size_t r = 0; r < p->rows; r++) {
    const float *x = in + r * (size_t)p->channels, *dy = dout + r * (size_t)p->channels;
    float *dx = din + r * (size_t)p->channels;
    for (int j = 0; j < p->channels; j++) {
      double g = dy[j] * pow(scale_of(x, p, j), -p->beta), cross = 0.0;
      for (int c = 0; c < p->channels; c++) {
        int lo, hi;
        window(p, c, &lo, &hi);
        if (j >= lo && j <= hi)
          cross += dy[c] * x[c] * pow(scale_of(x, p, c), -p->beta - 1.0);
      }
      dx[j] += (float)(g - 2.0 * p->alpha * p->beta / p->size * x[j] * cross);
    }
  }
}
