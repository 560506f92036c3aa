#include "spindle/fixed_math.h"

/* Constants, each rounded to nearest: ln 2 at frac 56, 1/ln 2 at frac 31,
 * sqrt(2) at frac 30, 1/n! at frac 30 (exp) and 1/(2k+1) at frac 30 (the
 * atanh series of ln). */
#define LN2_Q56 INT64_C(49946518145322872)
#define INV_LN2_Q31 INT64_C(3098164009)
#define SQRT2_Q30 INT64_C(1518500250)
#define ONE30 (INT64_C(1) << 30)

static const int64_t exp_coeff_q30[10] = {
    1073741824, 1073741824, 536870912, 178956971, 44739243,
    8947849,    1491308,    213044,    26631,     2959,
};

static const int64_t log_coeff_q30[6] = {
    1073741824, 357913941, 214748365, 153391689, 119304647, 97612893,
};

/* exp(-t) underflows half an LSB of frac 30 beyond t = 21.5. */
#define EXP_CUTOFF (INT64_C(22) << 16)

uint32_t spd_fx_exp_neg(int64_t x) {
  if (x >= 0)
    return (uint32_t)ONE30;
  if (x < -EXP_CUTOFF)
    return 0;
  int64_t t = -x; /* frac 16, below 2^21 */
  /* t * (1/ln2) < 2^53; k <= 32. */
  int64_t k = spd_fx_shift_round(t * INV_LN2_Q31, 47);
  /* r = t - k ln2 at frac 40, |r| <= ln2/2 plus rounding. */
  int64_t r40 = t * (INT64_C(1) << 24) - spd_fx_shift_round(k * LN2_Q56, 16);
  int64_t s = -spd_fx_shift_round(r40, 10); /* exp(s), s at frac 30 */
  /* Horner: |s| < 2^29 and |p| < 2^31, so every product fits 60 bits. */
  int64_t p = exp_coeff_q30[9];
  for (int n = 8; n >= 0; n--)
    p = exp_coeff_q30[n] + spd_fx_shift_round(s * p, 30);
  int64_t e = spd_fx_shift_round(p, (int)k);
  if (e > ONE30)
    e = ONE30;
  return e < 0 ? 0u : (uint32_t)e;
}

static int top_bit(uint64_t x) {
  int n = 0;
  while (x >>= 1)
    n++;
  return n;
}

/* Division rounded to nearest, ties away from zero; den > 0. */
static int64_t div_round(int64_t num, int64_t den) {
  return num >= 0 ? (num + den / 2) / den : -((-num + den / 2) / den);
}

int64_t spd_fx_log(uint64_t x, int frac) {
  if (x == 0)
    return INT64_MIN;
  int e = top_bit(x);
  int64_t m; /* x ~ m * 2^(e - 30), m in [2^30, 2^31] at frac 30 */
  if (e > 30)
    m = (int64_t)(((x >> (e - 31)) + 1) >> 1);
  else
    m = (int64_t)(x << (30 - e));
  int64_t n = (int64_t)e - frac;
  if (m > SQRT2_Q30) { /* keep m in [sqrt(1/2), sqrt(2)) so |u| <= 0.172 */
    m = (m + 1) >> 1;
    n++;
  }
  int64_t u = div_round((m - ONE30) * ONE30, m + ONE30);
  int64_t u2 = spd_fx_shift_round(u * u, 30);
  int64_t q = log_coeff_q30[5];
  for (int i = 4; i >= 0; i--)
    q = log_coeff_q30[i] + spd_fx_shift_round(u2 * q, 30);
  /* ln m = 2 atanh(u) = 2 u (1 + u^2/3 + u^4/5 + ...). |n| <= 127 keeps
   * n ln2 below 2^63 at frac 56. */
  return spd_fx_shift_round(u * q, 29) + spd_fx_shift_round(n * LN2_Q56, 26);
}

static int64_t abs64(int64_t v) { return v < 0 ? -v : v; }

int32_t spd_fx_sigmoid_q30(int32_t z) {
  int64_t den = ONE30 + spd_fx_exp_neg(-abs64(z));
  int64_t s = ((INT64_C(1) << 60) + den / 2) / den; /* 1/(1 + e^-|z|) */
  return (int32_t)(z >= 0 ? s : ONE30 - s);
}

int32_t spd_fx_tanh_q30(int32_t z) {
  int64_t e = spd_fx_exp_neg(-2 * abs64(z));
  int64_t den = ONE30 + e;
  int64_t t = ((ONE30 - e) * ONE30 + den / 2) / den; /* (1 - e)/(1 + e) */
  return (int32_t)(z >= 0 ? t : -t);
}

int16_t spd_fx_act_forward(const spd_fx_act_params_t *p, int32_t z, uint32_t *saturations) {
  int f = p->out_frac;
  switch (p->kind) {
  case SPD_FX_ACT_RELU:
    if (z <= 0)
      return 0;
    break;
  case SPD_FX_ACT_LEAKY_RELU:
    if (z < 0)
      return spd_fx_to16((int64_t)z * p->alpha_q30, SPD_FX_Z_FRAC + 30, f, saturations);
    break;
  case SPD_FX_ACT_ELU:
    if (z < 0) {
      int64_t em1 = (int64_t)spd_fx_exp_neg(z) - ONE30;
      return spd_fx_to16(em1 * p->alpha_q30, 60, f, saturations);
    }
    break;
  case SPD_FX_ACT_SIGMOID:
    return spd_fx_to16(spd_fx_sigmoid_q30(z), 30, f, saturations);
  case SPD_FX_ACT_TANH:
    return spd_fx_to16(spd_fx_tanh_q30(z), 30, f, saturations);
  case SPD_FX_ACT_LINEAR:
    break;
  }
  return spd_fx_to16(z, SPD_FX_Z_FRAC, f, saturations);
}

int16_t spd_fx_act_backward(const spd_fx_act_params_t *p, int16_t y, int16_t dy,
                            uint32_t *saturations) {
  int f = p->out_frac;
  switch (p->kind) {
  case SPD_FX_ACT_LINEAR:
    return dy;
  case SPD_FX_ACT_RELU:
    return y > 0 ? dy : 0;
  case SPD_FX_ACT_LEAKY_RELU:
    if (y > 0)
      return dy;
    return spd_fx_to16((int64_t)dy * p->alpha_q30, 30, 0, saturations);
  case SPD_FX_ACT_ELU: {
    if (y > 0)
      return dy;
    /* f'(z) = alpha e^z = y + alpha for z <= 0, at frac 30. */
    int64_t slope = (int64_t)y * ((int64_t)1 << (30 - f)) + p->alpha_q30;
    return spd_fx_to16((int64_t)dy * slope, 30, 0, saturations);
  }
  case SPD_FX_ACT_SIGMOID: {
    int64_t slope = (int64_t)y * (((int64_t)1 << f) - y); /* y(1-y), frac 2f */
    return spd_fx_to16((int64_t)dy * slope, 2 * f, 0, saturations);
  }
  case SPD_FX_ACT_TANH: {
    int64_t slope = ((int64_t)1 << (2 * f)) - (int64_t)y * y; /* 1 - y^2 */
    return spd_fx_to16((int64_t)dy * slope, 2 * f, 0, saturations);
  }
  }
  return dy;
}

static int32_t max32(const int32_t *z, int n) {
  int32_t m = z[0];
  for (int i = 1; i < n; i++)
    if (z[i] > m)
      m = z[i];
  return m;
}

/* Sum of exp(z_i - max) at frac 30: at least 2^30 (the maximum's term). */
static uint64_t sum_exp(const int32_t *z, int n, int32_t zmax) {
  uint64_t sum = 0;
  for (int i = 0; i < n; i++)
    sum += spd_fx_exp_neg((int64_t)z[i] - zmax);
  return sum;
}

void spd_fx_softmax(int16_t *y, const int32_t *z, int n, int out_frac,
                    uint32_t *saturations) {
  int32_t zmax = max32(z, n);
  uint64_t sum = sum_exp(z, n, zmax);
  /* One reciprocal per sample: 2^62 / sum <= 2^32 at frac 32 relative to
   * the frac-30 terms, so e * recip <= 2^62 fits. */
  uint64_t recip = ((UINT64_C(1) << 62) + sum / 2) / sum;
  for (int i = 0; i < n; i++) {
    uint64_t e = spd_fx_exp_neg((int64_t)z[i] - zmax);
    y[i] = spd_fx_to16((int64_t)(e * recip), 62, out_frac, saturations);
  }
}

void spd_fx_softmax_backward(int16_t *dz, const int16_t *y, const int16_t *dy, int n,
                             int y_frac, uint32_t *saturations) {
  int64_t dot = 0; /* sum y_j dy_j at frac y_frac + (dy's frac), exact */
  for (int j = 0; j < n; j++)
    dot += (int64_t)y[j] * dy[j];
  for (int i = 0; i < n; i++) {
    int64_t centred = (int64_t)dy[i] * ((int64_t)1 << y_frac) - dot;
    dz[i] = spd_fx_to16(centred * y[i], 2 * y_frac, 0, saturations);
  }
}

int64_t spd_fx_softmax_xent(const int32_t *z, int n, int label) {
  int32_t zmax = max32(z, n);
  int64_t log_sum = spd_fx_log(sum_exp(z, n, zmax), 30);
  return log_sum - ((int64_t)z[label] - zmax) * ((int64_t)1 << (30 - SPD_FX_Z_FRAC));
}

int64_t spd_fx_sigmoid_bce(int32_t z, int16_t t, int t_frac) {
  int64_t softplus = spd_fx_log(ONE30 + spd_fx_exp_neg(-abs64(z)), 30);
  int64_t relu = z > 0 ? (int64_t)z * ((int64_t)1 << (30 - SPD_FX_Z_FRAC)) : 0;
  int64_t zt = spd_fx_shift_round((int64_t)z * t, SPD_FX_Z_FRAC + t_frac - 30);
  return relu - zt + softplus;
}

int spd_fx_argmax16(const int16_t *v, int n) {
  int best = 0;
  for (int i = 1; i < n; i++)
    if (v[i] > v[best])
      best = i;
  return best;
}

int spd_fx_argmax32(const int32_t *v, int n) {
  int best = 0;
  for (int i = 1; i < n; i++)
    if (v[i] > v[best])
      best = i;
  return best;
}
