/* Fixed-point weight updates at a batch boundary, per weight, with Keras 3's
 * rules (SGD with momentum / nesterov, Adam, RMSprop), written so a tile can
 * update the weights it holds and land on the reference's bits.
 *
 * Input: the exact batch sum G = sum_b x_b dz_b (int64 at grad_frac) of
 * unscaled per-sample gradients; the 1/B of the batch mean is folded into
 * the constants. Master weights and optimizer state are int32 at frac 24
 * (the second moments int64 at frac 48); the int16 copy used by the MAC loop
 * is re-derived by rounding to nearest after every update. Every product
 * with a constant rounds stochastically with its own Philox word: element
 * e of parameter stream s at optimizer step t draws block
 * philox(seed, counter = t * n + e, stream s), so a tile holding any subset
 * of the elements draws the same words as the reference. Divisions and
 * square roots (Adam, RMSprop) run once per weight per batch, exactly. */
#ifndef SPINDLE_BASE_FX_UPDATE_H
#define SPINDLE_BASE_FX_UPDATE_H

#include <stdbool.h>
#include <stdint.h>

#include "spindle/fixed.h"

typedef enum spd_fx_opt {
  SPD_FX_OPT_SGD,
  SPD_FX_OPT_ADAM,
  SPD_FX_OPT_RMSPROP,
} spd_fx_opt_t;

/** One step's update constants for one parameter tensor. The host computes
 *  them (at map time, or per step when the learning rate follows a schedule
 *  or, for Adam, the bias correction) with spd_fx_update_prepare. */
typedef struct spd_fx_update {
  spd_fx_opt_t kind;
  bool nesterov, centered, has_momentum;
  int grad_frac;            /* frac of G */
  spd_fx_const_t lr_over_b; /* SGD: lr / B */
  spd_fx_const_t inv_b;     /* Adam, RMSprop: 1 / B (g = G / B) */
  spd_fx_const_t lr;        /* Adam: lr_t with bias correction; RMSprop: lr */
  spd_fx_const_t momentum;  /* SGD, RMSprop momentum */
  spd_fx_const_t one_minus_beta1, one_minus_beta2; /* Adam; RMSprop: 1-rho in beta2 */
  int64_t epsilon;          /* Adam: at frac 24 (added to sqrt v); RMSprop: frac 48 */
  uint32_t key[2];          /* seed of the stochastic rounding */
  uint32_t stream;          /* layer * 16 + parameter index */
  uint64_t counter_base;    /* step * (elements of the tensor) */
} spd_fx_update_t;

/** Per-step hyperparameters in double (host side only). */
typedef struct spd_fx_hyper {
  spd_fx_opt_t kind;
  double lr;                /* this step's learning rate */
  double momentum;
  bool nesterov, centered;
  double beta1, beta2, rho, epsilon;
  int64_t step;             /* optimizer iterations before this update */
  int batch;
} spd_fx_hyper_t;

/** Fill @p u for tensor @p stream of @p n_elements elements at step
 *  h->step. */
void spd_fx_update_prepare(spd_fx_update_t *u, const spd_fx_hyper_t *h, int grad_frac,
                           uint64_t seed, uint32_t stream, uint64_t n_elements);

/** Optimizer state of one weight (pointers into the tile's slabs; unused
 *  slots may be NULL: SGD uses a = velocity; Adam a = m, b = v; RMSprop
 *  b = mean square, a = momentum buffer, c = mean gradient (centered)). */
typedef struct spd_fx_slot_ptrs {
  int32_t *master;
  int32_t *a;
  int64_t *b;
  int32_t *c;
} spd_fx_slot_ptrs_t;

/** Update one weight, global element index @p element, from its batch sum
 *  @p g_sum. Returns the new master weight (also stored). */
int32_t spd_fx_update_one(const spd_fx_update_t *u, spd_fx_slot_ptrs_t s, uint64_t element,
                          int64_t g_sum, uint32_t *saturations);

#endif
