/* fit / evaluate in the fixed-point arithmetic of the SpiNNaker kernels, on
 * the host reference (docs/numerics.md). Same contract as spd_fit_float and
 * spd_evaluate_float (fit.h): the same data order, batches, loss and metric
 * means, callbacks and History, so a float and a fixed run of one model
 * differ only by their arithmetic. */
#ifndef SPINDLE_FIT_FIXED_H
#define SPINDLE_FIT_FIXED_H

#include <stdint.h>

#include "spindle/fit.h"
#include "spindle/numerics.h"

/** A trained fixed-point network: its numeric plan (calibrated on the first
 *  training batch), master weights and optimizer state, kept so evaluation
 *  runs on exactly the trained integers. Owned by the caller. */
typedef struct spd_fixed_run spd_fixed_run_t;

/** Train @p m in fixed point. The plan starts from spd_numeric_plan_new and
 *  is calibrated on the first batch of the first epoch; the stochastic
 *  rounding is seeded with cfg->seed. The trained master weights are written
 *  back into the model's float parameters (exact for |w| < 1), and if
 *  @p run_out is not NULL the run is kept there for spd_evaluate_fixed.
 *  @return as spd_fit_float, plus SPD_EUNSUPPORTED for layers, losses or
 *  optimizers the fixed mode lacks (named in the diagnostic). */
int spd_fit_fixed(spd_model_t *m, const spd_fit_config_t *cfg, const spd_fit_data_t *train,
                  spd_history_t *history, spd_fixed_run_t **run_out);

/** Check that @p o's hyperparameters over a run of @p steps optimizer steps
 *  fit the fixed-point update: every learning rate the schedule reaches is
 *  0 or in [2^-31, 2^7], a non-zero momentum is at least 2^-31, epsilon is
 *  at most 2^7 (docs/numerics.md). spd_fit_fixed and machine training call
 *  it before the first step.
 *  @return 0 or SPD_EINVAL with a diagnostic naming the hyperparameter, its
 *  value and the representable range. */
int spd_fx_optimizer_check(spd_ctx_t *ctx, const spd_optimizer_config_t *o, int64_t steps);

/** Mean loss and accuracy over @p data in fixed point. With @p run NULL a
 *  network is built from the model's float weights and a plan calibrated on
 *  the first batch of @p data. */
int spd_evaluate_fixed(spd_model_t *m, spd_fixed_run_t *run, spd_loss_kind_t loss,
                       bool from_logits, size_t batch_size, const spd_fit_data_t *data,
                       const spd_fit_callbacks_t *callbacks, double *loss_out,
                       double *accuracy_out);

/** Outputs of @p m for every sample of @p data in fixed point into @p out
 *  (data->n x output size floats, the int16 outputs converted exactly).
 *  @p run as for spd_evaluate_fixed; without targets the plan's forward
 *  formats are calibrated on the first batch. */
int spd_predict_fixed(spd_model_t *m, spd_fixed_run_t *run, size_t batch_size,
                      const spd_fit_data_t *data, const spd_fit_callbacks_t *callbacks,
                      float *out);

/** Saturation events counted in training and evaluation so far. */
uint64_t spd_fixed_run_saturations(const spd_fixed_run_t *run);
/** Saturations of layer @p layer (model index): forward (its output) and
 *  backward (rounding the gradient it received and its dZ; the loss's
 *  gradient for the output layer). Flatten and Reshape count none. */
void spd_fixed_run_layer_saturations(const spd_fixed_run_t *run, int layer, uint64_t *forward,
                                     uint64_t *backward);
/** The run's numeric plan (valid until spd_fixed_run_free). */
const spd_numeric_plan_t *spd_fixed_run_plan(const spd_fixed_run_t *run);
void spd_fixed_run_free(spd_fixed_run_t *run);

#endif
