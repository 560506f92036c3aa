#include "base/fx_update.h"

#include <math.h>

#include "spindle/rng.h"

#define SF SPD_FX_STATE_FRAC
#define VF SPD_FX_SECOND_FRAC

_Static_assert(SPD_FX_MASTER_FRAC == SPD_FX_STATE_FRAC,
               "updates add optimizer state to master weights without rescaling");

void spd_fx_update_prepare(spd_fx_update_t *u, const spd_fx_hyper_t *h, int grad_frac,
                           uint64_t seed, uint32_t stream, uint64_t n_elements) {
  double b = h->batch > 0 ? h->batch : 1;
  *u = (spd_fx_update_t){0};
  u->kind = h->kind;
  u->nesterov = h->nesterov;
  u->centered = h->centered;
  u->has_momentum = h->momentum > 0.0;
  u->grad_frac = grad_frac;
  u->lr_over_b = spd_fx_const_from_double(h->lr / b);
  u->inv_b = spd_fx_const_from_double(1.0 / b);
  u->momentum = spd_fx_const_from_double(h->momentum);
  if (h->kind == SPD_FX_OPT_ADAM) {
    /* Keras 3: alpha = lr sqrt(1 - b2^t) / (1 - b1^t) with t = step + 1. */
    double t = (double)(h->step + 1);
    double alpha = h->lr * sqrt(1.0 - pow(h->beta2, t)) / (1.0 - pow(h->beta1, t));
    u->lr = spd_fx_const_from_double(alpha);
    u->one_minus_beta1 = spd_fx_const_from_double(1.0 - h->beta1);
    u->one_minus_beta2 = spd_fx_const_from_double(1.0 - h->beta2);
    u->epsilon = (int64_t)llround(ldexp(h->epsilon, SF));
  } else if (h->kind == SPD_FX_OPT_RMSPROP) {
    u->lr = spd_fx_const_from_double(h->lr);
    u->one_minus_beta1 = spd_fx_const_from_double(1.0 - h->rho);
    u->one_minus_beta2 = spd_fx_const_from_double(1.0 - h->rho);
    u->momentum = spd_fx_const_from_double(h->momentum);
    u->epsilon = (int64_t)llround(ldexp(h->epsilon, VF));
  }
  u->key[0] = (uint32_t)seed;
  u->key[1] = (uint32_t)(seed >> 32);
  u->stream = stream;
  u->counter_base = (uint64_t)h->step * n_elements;
}

/* s = s + (target - s) * k with one stochastic rounding: the exponential
 * moving averages of Adam and RMSprop. */
static int64_t ema(int64_t s, int64_t target, spd_fx_const_t k, int frac, uint32_t r,
                   uint32_t *sat) {
  return spd_fx_add64(s, spd_fx_mul_const(spd_fx_sub64(target, s, sat), k, frac, frac, r, sat),
                      sat);
}

static int32_t sgd(const spd_fx_update_t *u, spd_fx_slot_ptrs_t s, int64_t g_sum,
                   const uint32_t r[4], uint32_t *sat) {
  int64_t step = spd_fx_mul_const(g_sum, u->lr_over_b, u->grad_frac, SF, r[0], sat);
  int64_t delta = spd_fx_sub64(0, step, sat);
  if (u->has_momentum) {
    /* Keras: v = m v - lr g; w += v, or w += m v - lr g with nesterov. */
    int64_t v = spd_fx_sub64(spd_fx_mul_const(*s.a, u->momentum, SF, SF, r[1], sat), step, sat);
    *s.a = spd_fx_sat32(v, sat);
    delta = u->nesterov
                ? spd_fx_sub64(spd_fx_mul_const(*s.a, u->momentum, SF, SF, r[2], sat), step, sat)
                : *s.a;
  }
  return spd_fx_sat32(spd_fx_add64(*s.master, delta, sat), sat);
}

/* (num << SF) / den rounded to nearest; den > 0. */
static int64_t ratio(int64_t num, int64_t den) {
  int64_t scaled = num * ((int64_t)1 << SF);
  return scaled >= 0 ? (scaled + den / 2) / den : -((-scaled + den / 2) / den);
}

static int32_t adam(const spd_fx_update_t *u, spd_fx_slot_ptrs_t s, int64_t g_sum,
                    const uint32_t r[4], uint32_t *sat) {
  int64_t g = spd_fx_sat32(spd_fx_mul_const(g_sum, u->inv_b, u->grad_frac, SF, r[0], sat), sat);
  *s.a = spd_fx_sat32(ema(*s.a, g, u->one_minus_beta1, SF, r[1], sat), sat);
  *s.b = ema(*s.b, g * g, u->one_minus_beta2, VF, r[2], sat); /* g^2 < 2^62 */
  int64_t den = (int64_t)spd_fx_isqrt64((uint64_t)*s.b) + u->epsilon; /* frac 24 */
  if (den <= 0)
    den = 1;
  int64_t step = spd_fx_mul_const(ratio(*s.a, den), u->lr, SF, SF, r[3], sat);
  return spd_fx_sat32(spd_fx_sub64(*s.master, step, sat), sat);
}

static int32_t rmsprop(const spd_fx_update_t *u, spd_fx_slot_ptrs_t s, int64_t g_sum,
                       const uint32_t r[4], uint32_t *sat) {
  int64_t g = spd_fx_sat32(spd_fx_mul_const(g_sum, u->inv_b, u->grad_frac, SF, r[0], sat), sat);
  *s.b = ema(*s.b, g * g, u->one_minus_beta2, VF, r[1], sat);
  int64_t den = *s.b + u->epsilon; /* frac 48 */
  if (u->centered) {
    *s.c = spd_fx_sat32(ema(*s.c, g, u->one_minus_beta1, SF, r[2], sat), sat);
    den -= (int64_t)*s.c * *s.c;
  }
  int64_t root = den > 0 ? (int64_t)spd_fx_isqrt64((uint64_t)den) : 0; /* frac 24 */
  if (root <= 0)
    root = 1;
  int64_t inc = spd_fx_mul_const(ratio(g, root), u->lr, SF, SF, r[3], sat);
  if (u->has_momentum) {
    /* Word 2 also dithers the centered mean above: four words per weight
     * and step serve every rule, and each rounding stays unbiased. */
    int64_t m = spd_fx_add64(spd_fx_mul_const(*s.a, u->momentum, SF, SF, r[2], sat), inc, sat);
    *s.a = spd_fx_sat32(m, sat);
    inc = *s.a;
  }
  return spd_fx_sat32(spd_fx_sub64(*s.master, inc, sat), sat);
}

int32_t spd_fx_update_one(const spd_fx_update_t *u, spd_fx_slot_ptrs_t s, uint64_t element,
                          int64_t g_sum, uint32_t *saturations) {
  uint32_t r[4];
  spd_philox4x32(u->key, u->counter_base + element, u->stream, r);
  int32_t w;
  switch (u->kind) {
  case SPD_FX_OPT_ADAM:
    w = adam(u, s, g_sum, r, saturations);
    break;
  case SPD_FX_OPT_RMSPROP:
    w = rmsprop(u, s, g_sum, r, saturations);
    break;
  default:
    w = sgd(u, s, g_sum, r, saturations);
    break;
  }
  *s.master = w;
  return w;
}
