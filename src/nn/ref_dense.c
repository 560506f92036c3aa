/* Dense forward and backward: the plain triple loops, ordered so the inner
 * loop runs along contiguous memory (outputs of a kernel row).
 * The inner loops run along contiguous outputs; GCC 12 at -O2 only
 * vectorises loops without an epilogue, so ask for its dynamic cost model
 * here (4x faster training). Each output element still sums in the same
 * order (no reassociation, no contraction on x86-64), so results are
 * unchanged bit for bit. */
#pragma GCC optimize("vect-cost-model=dynamic")

#include <string.h>

#include "spindle/reference.h"

void spd_dense_forward(float *out, const float *in, const float *w, const float *b,
                       const spd_dense_params_t *p) {
  for (int r = 0; r < p->rows; r++) {
    float *o = out + (size_t)r * p->out;
    const float *x = in + (size_t)r * p->in;
    if (b)
      memcpy(o, b, (size_t)p->out * sizeof *o);
    else
      memset(o, 0, (size_t)p->out * sizeof *o);
    for (int i = 0; i < p->in; i++) {
      const float xi = x[i];
      const float *wrow = w + (size_t)i * p->out;
      for (int j = 0; j < p->out; j++)
        o[j] += xi * wrow[j];
    }
  }
}

void spd_dense_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                        const float *w, const spd_dense_params_t *p) {
  for (int r = 0; r < p->rows; r++) {
    const float *d = dout + (size_t)r * p->out;
    const float *x = in + (size_t)r * p->in;
    if (db)
      for (int j = 0; j < p->out; j++)
        db[j] += d[j];
    for (int i = 0; i < p->in; i++) {
      const float *wrow = w + (size_t)i * p->out;
      if (dw) {
        float *dwrow = dw + (size_t)i * p->out;
        const float xi = x[i];
        for (int j = 0; j < p->out; j++)
          dwrow[j] += xi * d[j];
      }
      if (din) {
        float sum = 0.0f;
        for (int j = 0; j < p->out; j++)
          sum += wrow[j] * d[j];
        din[(size_t)r * p->in + i] += sum;
      }
    }
  }
}
