/* Add: the element-wise sum of several inputs, and its gradient fan-out. */
#include "spindle/reference.h"

void spd_add_forward(float *out, const float *const *inputs, int n_inputs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float sum = inputs[0][i];
    for (int k = 1; k < n_inputs; k++)
      sum += inputs[k][i];
    out[i] = sum;
  }
}

void spd_add_backward(float *const *dins, const float *dout, int n_inputs, size_t n) {
  for (int k = 0; k < n_inputs; k++)
    if (dins[k])
      for (size_t i = 0; i < n; i++)
        dins[k][i] += dout[i];
}
