/* Fixed-point nonlinearities, softmax and losses shared by the host
 * reference executor and the kernels: one implementation, so both compute
 * the same bits (docs/numerics.md). Integer arithmetic only, apart from the
 * divisions and the square root named below, which run once per output
 * element or per sample (never in a MAC loop) and are exact, so any correct
 * implementation (the host's `/`, the ARM's __aeabi_uldivmod) agrees.
 *
 * Formats (frac = number of fraction bits):
 *   z     pre-activation, int32 at SPD_FX_Z_FRAC (s15.16);
 *   q30   internal results of exp, sigmoid, tanh (int32/uint32, frac 30);
 *   y, dy activations and gradients, int16 at a per-tensor frac <= 15;
 *   loss  per-sample loss values, int64 at SPD_FX_LOSS_FRAC.
 * Rounding into int16 is to nearest, ties up, saturating and counting.
 * Error bounds, measured against libm over sweeps in tests/test_fixed_math.c:
 *   exp_neg, sigmoid_q30, tanh_q30   within 4 LSB of frac 30;
 *   log                              within 4 LSB of frac 30;
 *   activation outputs at frac f     within 1 LSB of the exact value
 *                                    (correct rounding except near ties). */
#ifndef SPINDLE_FIXED_MATH_H
#define SPINDLE_FIXED_MATH_H

#include <stdint.h>

#include "spindle/fixed.h"

#define SPD_FX_Z_FRAC 16
#define SPD_FX_LOSS_FRAC 30
/* Probabilities a cross-entropy from logits computes for its gradient. */
#define SPD_FX_LOGITS_PROB_FRAC 14
#define SPD_FX_ONE30 ((int32_t)1 << 30)

/** exp(x) for x <= 0 at frac 16 (positive x is treated as 0), as frac 30 in
 *  [0, 2^30]. Range reduction x = -k ln2 - r with |r| <= ln2/2, then a
 *  degree-9 Taylor polynomial for exp(-r) and a rounding shift by k. */
uint32_t spd_fx_exp_neg(int64_t x);

/** ln(x * 2^-frac) at frac 30 for x > 0; INT64_MIN for x = 0 (minus
 *  infinity). Normalises x to m * 2^n with m in [sqrt(1/2), sqrt(2)) and sums
 *  the atanh series of u = (m-1)/(m+1) (one division). */
int64_t spd_fx_log(uint64_t x, int frac);

/** Logistic sigmoid of z (frac 16) at frac 30: one division. */
int32_t spd_fx_sigmoid_q30(int32_t z);
/** tanh of z (frac 16) at frac 30: one division. */
int32_t spd_fx_tanh_q30(int32_t z);

/** Elementwise activations (softmax works on vectors, below). */
typedef enum spd_fx_act {
  SPD_FX_ACT_LINEAR,
  SPD_FX_ACT_RELU,
  SPD_FX_ACT_SIGMOID,
  SPD_FX_ACT_TANH,
  SPD_FX_ACT_LEAKY_RELU,
  SPD_FX_ACT_ELU,
} spd_fx_act_t;

/** What an activation needs, fixed at map time. */
typedef struct spd_fx_act_params {
  spd_fx_act_t kind;
  int out_frac;        /* frac of the int16 output y (0..15) */
  int32_t alpha_q30;   /* leaky_relu negative slope or elu alpha, frac 30 */
} spd_fx_act_params_t;

/** y = f(z): z at frac 16, y int16 at p->out_frac, rounded to nearest and
 *  saturated (counted in @p saturations). */
int16_t spd_fx_act_forward(const spd_fx_act_params_t *p, int32_t z, uint32_t *saturations);

/** dz = dy * f'(z), with f' computed from the stored output @p y (relu mask,
 *  y(1-y), 1-y^2, y+alpha); dy and dz share one frac (the layer's gradient
 *  frac), so the slope is applied at y's frac and rounded once. */
int16_t spd_fx_act_backward(const spd_fx_act_params_t *p, int16_t y, int16_t dy,
                            uint32_t *saturations);

/** Softmax of n >= 1 pre-activations z (frac 16) into y (int16 at
 *  @p out_frac): subtract the maximum, exp_neg each, one reciprocal of the
 *  sum per sample (2^62 / sum), then a multiply per element. */
void spd_fx_softmax(int16_t *y, const int32_t *z, int n, int out_frac,
                    uint32_t *saturations);

/** Vector-Jacobian product of a softmax that is not fused with a
 *  cross-entropy: dz_i = y_i (dy_i - sum_j y_j dy_j), exact until one
 *  rounding per element. y at @p y_frac; dy and dz share one frac. */
void spd_fx_softmax_backward(int16_t *dz, const int16_t *y, const int16_t *dy, int n,
                             int y_frac, uint32_t *saturations);

/** Cross-entropy of softmax(z) against class @p label, from the logits
 *  (log-sum-exp minus the label's logit, so tiny probabilities lose no
 *  precision): int64 at SPD_FX_LOSS_FRAC. */
int64_t spd_fx_softmax_xent(const int32_t *z, int n, int label);

/** Binary cross-entropy of sigmoid(z) against target @p t (int16 at
 *  @p t_frac, in [0, 1]) from the logit: max(z,0) - z t + ln(1 + e^-|z|),
 *  at SPD_FX_LOSS_FRAC. */
int64_t spd_fx_sigmoid_bce(int32_t z, int16_t t, int t_frac);

/** Index of the largest of n >= 1 values; the first maximum wins. */
int spd_fx_argmax16(const int16_t *v, int n);
int spd_fx_argmax32(const int32_t *v, int n);

#endif
