/* The numeric plan: which arithmetic a run uses and, in fixed point, the
 * power-of-two scale (frac bits) of every tensor of every layer. The host
 * computes it once, before training (at map time), deterministically; the
 * mapper hands it to the kernels and the reference executor's fixed mode
 * uses the same plan, so both compute the same bits (docs/numerics.md). */
#ifndef SPINDLE_NUMERICS_H
#define SPINDLE_NUMERICS_H

#include <stdint.h>

#include "spindle/context.h"
#include "spindle/fixed_math.h"
#include "spindle/model.h"

typedef enum spd_numeric {
  SPD_NUMERIC_FLOAT = 0,
  SPD_NUMERIC_FIXED = 1,
} spd_numeric_t;

/** "float" / "fixed"; parse returns -1 if unknown. */
const char *spd_numeric_name(spd_numeric_t n);
int spd_numeric_parse(const char *name);

/* The fixed formats that do not depend on the model are in fixed.h
 * (SPD_FX_MASTER_FRAC, SPD_FX_STATE_FRAC, SPD_FX_SECOND_FRAC). */
#define SPD_NUM_MAX_FRAC 14      /* largest int16 frac the plan picks (+-2) */
#define SPD_NUM_MIN_FRAC 2

/** Fracs of one layer's tensors. The layer's output y (its activation, what
 *  travels in packets) is int16 at act_frac; the gradient of the loss with
 *  respect to y and to the pre-activation (dY, dZ) is int16 at grad_frac,
 *  unscaled by 1/B. Layers with weights add weight_frac (int16 MAC-loop
 *  copy) and the master formats above. */
typedef struct spd_layer_numerics {
  int act_frac;
  int grad_frac;
  int weight_frac;     /* 0 for layers without weights */
} spd_layer_numerics_t;

/** Per-layer magnitudes measured by the float reference on a calibration
 *  batch: largest |y|, |dY| and |kernel| (0 when not measured). */
typedef struct spd_layer_stats {
  float max_act;
  float max_grad;
  float max_weight;
} spd_layer_stats_t;

/** A plan for a model of n_layers layers, indexed like model->layers.
 *  Owned by its creator; free with spd_numeric_plan_free. */
typedef struct spd_numeric_plan {
  spd_ctx_t *ctx;
  spd_numeric_t numeric;
  int n_layers;
  spd_layer_numerics_t *layers;
} spd_numeric_plan_t;

/** Static defaults by role: inputs s1.14 (x/255 in [0,1]); bounded
 *  activations (sigmoid, softmax, tanh) s1.14; other activations s4.11;
 *  gradients s4.11, the output layer's s1.14 when its loss gradient is a
 *  difference of probabilities; weights s1.14. Layers that only move data
 *  (Flatten, Reshape, Dropout, pooling) take their input's fracs.
 *  @return 0, SPD_EINVAL (model not built), SPD_ENOMEM. */
int spd_numeric_plan_new(spd_ctx_t *ctx, const spd_model_t *m, spd_numeric_plan_t **out);
void spd_numeric_plan_free(spd_numeric_plan_t *plan);

/** Refine the plan from measured magnitudes: an unbounded activation, a
 *  gradient or a weight tensor gets the largest frac whose int16 range holds
 *  its maximum times a headroom (activations 4, gradients 4, weights 4,
 *  because all three grow during training; inputs 1), clamped to
 *  [SPD_NUM_MIN_FRAC, SPD_NUM_MAX_FRAC]; hidden activations never get a
 *  frac above the default 11 (calibration only widens their range), as they
 *  grow most. Data-moving layers then copy their input's fracs again.
 *  @p stats has m->n_layers entries. */
void spd_numeric_plan_calibrate(spd_numeric_plan_t *plan, const spd_model_t *m,
                                const spd_layer_stats_t *stats);

/** Largest frac in [lo, hi] with max_abs * headroom <= INT16_MAX * 2^-frac
 *  (hi when max_abs is 0). */
int spd_numeric_frac_for(double max_abs, double headroom, int lo, int hi);

/** The fixed activation of @p layer under @p plan: kind, output frac and
 *  slope constant. Softmax maps to SPD_FX_ACT_LINEAR (it is applied over the
 *  vector by spd_fx_softmax). */
spd_fx_act_params_t spd_numeric_act_params(const spd_numeric_plan_t *plan,
                                           const spd_model_t *m, int layer);

/** Frac of the tensor feeding @p layer (its inbound[0]'s act_frac). */
int spd_numeric_input_frac(const spd_numeric_plan_t *plan, const spd_model_t *m, int layer);

#endif
