/* BatchNormalization's fixed-point arithmetic per channel (base/fx_bn.h):
 *   mean = S1 / N                            one division, frac(x) + 16
 *   D = N S2 - S1^2 (= N^2 var 2^(2 frac))   exact while N < 2^16
 *   inv_std = N 2^frac / sqrt(D + eps N^2 2^(2 frac))
 *                                            exact isqrt, one division, a
 *                                            32-bit multiplier
 *   xhat = (x - mean) inv_std                frac 16, rounded once
 *   y = gamma xhat + beta                    frac 40, rounded once to y
 * and backward dx = gamma inv_std / N (N dy - sum dy - xhat sum dy xhat)
 * with the sums exact and two 32-bit multipliers (docs/numerics.md). */
#include "base/fx_bn.h"

/* 1/sqrt(d 2^-dfrac) as a multiplier, for 0 < d < 2^63: d is scaled by 4^k
 * toward 2^62 so the exact integer root keeps 31 bits. */
static spd_fx_const_t inv_sqrt(uint64_t d, int dfrac) {
  int k = 0;
  while (d < ((uint64_t)1 << 60)) {
    d <<= 2;
    k++;
  }
  uint64_t r = spd_fx_isqrt64(d); /* sqrt(d_orig) 2^k, >= 2^30 */
  /* 1/sqrt(value) = 2^(dfrac/2 + k) / r; dfrac is even. */
  uint64_t q = ((uint64_t)1 << 62) / r; /* 2^62 / r, about 31 bits */
  return spd_fx_const_from_u64(q, 62 - dfrac / 2 - k);
}

void spd_fx_bn_batch_stats(int64_t s1, int64_t s2, int64_t n, int x_frac, spd_fx_const_t epsilon,
                           int64_t *mean, spd_fx_const_t *inv_std, int64_t *var32,
                           uint32_t *sat) {
  int64_t d = n * s2 - s1 * s1; /* N^2 var at frac 2 x_frac, exact */
  int64_t scaled = s1 * ((int64_t)1 << SPD_FX_BN_XHAT_FRAC);
  *mean = scaled >= 0 ? (scaled + n / 2) / n : -((-scaled + n / 2) / n);
  uint64_t n2 = (uint64_t)(n * n) << (2 * x_frac);
  int64_t eps = spd_fx_mul64x32((int64_t)n2, epsilon.mant, epsilon.shift, SPD_FX_ROUND_NEAREST,
                                sat);
  /* inv_std = N 2^x_frac / sqrt(d + eps): the N and 2^x_frac are the
   * 1/sqrt of 1/(N^2 2^(2 x_frac)), folded in as a product below. */
  spd_fx_const_t root = inv_sqrt((uint64_t)(d + eps) + (d + eps == 0), 0);
  *inv_std = spd_fx_const_from_u64((uint64_t)root.mant * (uint64_t)n, root.shift - x_frac);
  if (!var32)
    return;
  spd_fx_const_t inv_n2 = spd_fx_const_from_u64(((uint64_t)1 << 62) / (uint64_t)(n * n), 62);
  *var32 = spd_fx_mul_const(d, inv_n2, 2 * x_frac, SPD_FX_BN_STAT_FRAC, SPD_FX_ROUND_NEAREST,
                            sat);
}

int64_t spd_fx_bn_mean32(int64_t mean, int x_frac) {
  return spd_fx_shift_round(mean, x_frac + SPD_FX_BN_XHAT_FRAC - SPD_FX_BN_STAT_FRAC);
}

int64_t spd_fx_bn_moving_update(int64_t moving, int64_t batch, spd_fx_const_t momentum,
                                spd_fx_const_t one_minus_momentum, uint32_t *sat) {
  return spd_fx_mul_const(moving, momentum, 0, 0, SPD_FX_ROUND_NEAREST, sat) +
         spd_fx_mul_const(batch, one_minus_momentum, 0, 0, SPD_FX_ROUND_NEAREST, sat);
}

void spd_fx_bn_moving_stats(int64_t moving_mean, int64_t moving_var, int x_frac,
                            spd_fx_const_t epsilon, int64_t *mean, spd_fx_const_t *inv_std,
                            uint32_t *sat) {
  int64_t eps = spd_fx_mul64x32((int64_t)1 << SPD_FX_BN_STAT_FRAC, epsilon.mant, epsilon.shift,
                                SPD_FX_ROUND_NEAREST, sat);
  int64_t var = moving_var + eps;
  *mean = spd_fx_shift_round(moving_mean, SPD_FX_BN_STAT_FRAC - x_frac - SPD_FX_BN_XHAT_FRAC);
  *inv_std = inv_sqrt(var > 0 ? (uint64_t)var : 1, SPD_FX_BN_STAT_FRAC);
}

int32_t spd_fx_bn_xhat(int16_t x, int64_t mean, spd_fx_const_t inv_std, int x_frac,
                       uint32_t *sat) {
  int64_t t = (int64_t)x * ((int64_t)1 << SPD_FX_BN_XHAT_FRAC) - mean;
  int64_t xhat = spd_fx_mul_const(t, inv_std, x_frac + SPD_FX_BN_XHAT_FRAC, SPD_FX_BN_XHAT_FRAC,
                                  SPD_FX_ROUND_NEAREST, sat);
  return spd_fx_sat32(xhat, sat);
}

/* The sign and magnitude of v as a multiplier of value |v| 2^-frac. */
static spd_fx_const_t magnitude(int64_t v, int frac, bool *negative) {
  *negative = v < 0;
  return spd_fx_const_from_u64(v < 0 ? (uint64_t)(-v) : (uint64_t)v, frac);
}

static int64_t signed_mul(int64_t a, spd_fx_const_t k, bool negative, int from, int to,
                          uint32_t *sat) {
  int64_t p = spd_fx_mul_const(a, k, from, to, SPD_FX_ROUND_NEAREST, sat);
  return negative ? -p : p;
}

spd_fx_bn_back_t spd_fx_bn_back_init(int64_t n, int64_t sum_dy, int64_t sum_dy_xhat,
                                     int32_t gamma, spd_fx_const_t inv_std, int g_frac,
                                     int dx_frac) {
  spd_fx_bn_back_t b = {.n = n, .sum_dy = sum_dy, .g_frac = g_frac, .dx_frac = dx_frac};
  b.s = magnitude(sum_dy_xhat, 0, &b.neg_s); /* frac g + 16 */
  int64_t g = gamma;
  /* gamma inv_std / N as one multiplier. */
  uint64_t prod = (uint64_t)(g < 0 ? -g : g) * inv_std.mant;
  b.neg_g = g < 0;
  b.coef = spd_fx_const_from_u64((prod + (uint64_t)n / 2) / (uint64_t)n,
                                 SPD_FX_MASTER_FRAC + inv_std.shift);
  return b;
}

int64_t spd_fx_bn_dx(const spd_fx_bn_back_t *b, int16_t dy, int32_t xhat, uint32_t *sat) {
  int64_t inner = (b->n * dy - b->sum_dy) * ((int64_t)1 << SPD_FX_BN_XHAT_FRAC) -
                  signed_mul(xhat, b->s, b->neg_s, SPD_FX_BN_XHAT_FRAC, 0, sat);
  return signed_mul(inner, b->coef, b->neg_g, b->g_frac + SPD_FX_BN_XHAT_FRAC, b->dx_frac,
                    sat);
}
