/* The fixed-point arithmetic of BatchNormalization (last axis), one channel
 * at a time, written as a machine vertex would compute it from exact int64
 * batch sums: the reference (nn/fx_batchnorm.c) calls these functions over
 * its batch, and a BN vertex that adds the same sums in any order and calls
 * them gets the same bits (docs/bn-on-machine.md). No allocation, no
 * floating point: kernel-safe, like base/fx_conv.c.
 *
 * Formats: x at x_frac (int16); mean at x_frac + SPD_FX_BN_XHAT_FRAC; x̂ at
 * SPD_FX_BN_XHAT_FRAC (int32); gamma and beta at SPD_FX_MASTER_FRAC (int32
 * masters); moving statistics at SPD_FX_BN_STAT_FRAC (int64); dx at the
 * caller's dx_frac (int64; the reference's SPD_FX_GRAD_SUM_FRAC). The
 * batch sums S1 = Σx, S2 = Σx² over the channel's N rows are exact while N < 2^16 (SPD_FX_BN_MAX_ROWS). */
#ifndef SPINDLE_BASE_FX_BN_H
#define SPINDLE_BASE_FX_BN_H

#include <stdbool.h>
#include <stdint.h>

#include "spindle/fixed.h"

#define SPD_FX_BN_STAT_FRAC 32
#define SPD_FX_BN_XHAT_FRAC 16
#define SPD_FX_BN_MAX_ROWS 65535 /* N S2 and S1^2 stay below 2^62 */

/** Batch statistics of one channel from its exact sums over @p n rows:
 *  the mean (frac x_frac + 16) and the multiplier 1/sqrt(var + eps).
 *  @p var32 (may be NULL) gets the batch variance at frac 32 for the
 *  moving average. */
void spd_fx_bn_batch_stats(int64_t s1, int64_t s2, int64_t n, int x_frac, spd_fx_const_t epsilon,
                           int64_t *mean, spd_fx_const_t *inv_std, int64_t *var32,
                           uint32_t *sat);

/** moving = moving momentum + batch (1 - momentum), each product rounded. */
int64_t spd_fx_bn_moving_update(int64_t moving, int64_t batch, spd_fx_const_t momentum,
                                spd_fx_const_t one_minus_momentum, uint32_t *sat);

/** The batch mean of @p mean (frac x_frac + 16) at frac 32. */
int64_t spd_fx_bn_mean32(int64_t mean, int x_frac);

/** Inference: mean and multiplier from the moving statistics (frac 32). */
void spd_fx_bn_moving_stats(int64_t moving_mean, int64_t moving_var, int x_frac,
                            spd_fx_const_t epsilon, int64_t *mean, spd_fx_const_t *inv_std,
                            uint32_t *sat);

/** x̂ of one value (frac 16), saturated to int32. */
int32_t spd_fx_bn_xhat(int16_t x, int64_t mean, spd_fx_const_t inv_std, int x_frac,
                       uint32_t *sat);

/** gamma x̂ + beta at frac SPD_FX_MASTER_FRAC + 16 (below 2^56): round it
 *  once to the output format (spd_fx_to16). */
static inline int64_t spd_fx_bn_scale(int32_t xhat, int32_t gamma, int32_t beta) {
  return (int64_t)gamma * xhat + (int64_t)beta * ((int64_t)1 << SPD_FX_BN_XHAT_FRAC);
}

/** The backward pass's per-channel constants from the exact sums Σdy and
 *  Σdy x̂ (frac g_frac + 16) over @p n rows. */
typedef struct spd_fx_bn_back {
  int64_t n, sum_dy;
  spd_fx_const_t s, coef; /* |Σdy x̂| and gamma inv_std / N as multipliers */
  bool neg_s, neg_g;
  int g_frac, dx_frac;
} spd_fx_bn_back_t;

spd_fx_bn_back_t spd_fx_bn_back_init(int64_t n, int64_t sum_dy, int64_t sum_dy_xhat,
                                     int32_t gamma, spd_fx_const_t inv_std, int g_frac,
                                     int dx_frac);

/** dx of one value at dx_frac:
 *  gamma inv_std / N (N dy - Σdy - x̂ Σdy x̂). */
int64_t spd_fx_bn_dx(const spd_fx_bn_back_t *b, int16_t dy, int32_t xhat, uint32_t *sat);

#endif
