/* Concatenate on the channel (last) axis: each position's channels are the
 * inputs' channels one after another, and the gradient is split back. */
#include "spindle/reference.h"

static size_t total_channels(const spd_concat_params_t *p) {
  size_t total = 0;
  for (int k = 0; k < p->n_inputs; k++)
    total += (size_t)p->channels[k];
  return total;
}

void spd_concat_forward(float *out, const float *const *inputs, const spd_concat_params_t *p) {
  size_t width = total_channels(p);
  for (size_t r = 0; r < p->rows; r++) {
    float *o = out + r * width;
    for (int k = 0; k < p->n_inputs; k++) {
      const float *x = inputs[k] + r * (size_t)p->channels[k];
      for (int c = 0; c < p->channels[k]; c++)
        *o++ = x[c];
    }
  }
}

void spd_concat_backward(float *const *dins, const float *dout, const spd_concat_params_t *p) {
  size_t width = total_channels(p);
  for (size_t r = 0; r < p->rows; r++) {
    const float *d = dout + r * width;
    for (int k = 0; k < p->n_inputs; k++) {
      if (dins[k]) {
        float *dx = dins[k] + r * (size_t)p->channels[k];
        for (int c = 0; c < p->channels[k]; c++)
          dx[c] += d[c];
      }
      d += p->channels[k];
    }
  }
}
