#include "base/fx_dense.h"

#include "spindle/fixed.h"

void spd_fx_dense_forward_block(int64_t *acc, const int16_t *x, const int16_t *w, int rows,
                                int cols, int ld) {
  for (int r = 0; r < rows; r++) {
    int32_t xr = x[r];
    if (xr == 0) /* relu outputs are often zero: skip the row */
      continue;
    const int16_t *wr = w + (int64_t)r * ld;
    for (int c = 0; c < cols; c++)
      acc[c] += xr * wr[c];
  }
}

void spd_fx_dense_reduce(int32_t *z, const int64_t *acc, const int32_t *bias, int n,
                         int acc_frac, int bias_frac, uint32_t *saturations) {
  for (int c = 0; c < n; c++) {
    /* The bias is moved to the accumulator's frac exactly when it is the
     * finer one (acc_frac >= bias_frac, as every plan makes it) and the one
     * rounding below then covers the whole sum. */
    int64_t sum = acc[c];
    if (bias)
      sum += spd_fx_shift_round(bias[c], bias_frac - acc_frac);
    z[c] = spd_fx_to32(sum, acc_frac, 16, saturations);
  }
}

void spd_fx_dense_backward_input_block(int64_t *dx, const int16_t *dz, const int16_t *w,
                                       int rows, int cols, int ld) {
  for (int r = 0; r < rows; r++) {
    const int16_t *wr = w + (int64_t)r * ld;
    int64_t sum = 0; /* cols * 2^30 < 2^63 */
    for (int c = 0; c < cols; c++)
      sum += (int32_t)wr[c] * dz[c];
    dx[r] += sum;
  }
}

void spd_fx_dense_grad_block(int64_t *gw, const int16_t *x, const int16_t *dz, int rows,
                             int cols, int ld) {
  for (int r = 0; r < rows; r++) {
    int32_t xr = x[r];
    if (xr == 0)
      continue;
    int64_t *gr = gw + (int64_t)r * ld;
    for (int c = 0; c < cols; c++)
      gr[c] += xr * dz[c];
  }
}

void spd_fx_bias_grad(int64_t *gb, const int16_t *dz, int n) {
  for (int c = 0; c < n; c++)
    gb[c] += dz[c];
}

void spd_fx_round16(int16_t *out, const int64_t *acc, int n, int from, int to,
                    uint32_t *saturations) {
  for (int i = 0; i < n; i++)
    out[i] = spd_fx_to16(acc[i], from, to, saturations);
}
