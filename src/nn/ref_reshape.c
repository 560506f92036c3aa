/* Flatten and Reshape keep the row-major order of the values: a copy. */
#include "spindle/reference.h"

void spd_reshape_forward(float *out, const float *in, size_t n) {
  for (size_t i = 0; i < n; i++)
    out[i] = in[i];
}

void spd_reshape_backward(float *din, const float *dout, size_t n) {
  for (size_t i = 0; i < n; i++)
    din[i] += dout[i];
}
