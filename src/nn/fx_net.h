/* The reference executor's fixed-point mode: a model's layers run in the
 * integer arithmetic of the SpiNNaker kernels (docs/numerics.md), calling
 * the same tile functions (base/fx_dense, base/fx_update, fixed_math) with
 * one block covering each whole layer. It is the oracle the fixed-point
 * kernels must match bit for bit.
 *
 * Supported: InputLayer, Dense, Conv1D/2D (every activation, softmax
 * included), max/average/global-average pooling, Activation, Add,
 * BatchNormalization, Flatten, Reshape and Dropout (the float reference's
 * masks), in Sequential or
 * functional graphs with one input; losses
 * sparse/categorical cross-entropy (softmax output, or linear output with
 * from_logits), binary cross-entropy (sigmoid output) and mean squared
 * error; optimizers SGD (momentum, nesterov), Adam and RMSprop. */
#ifndef SPINDLE_NN_FX_NET_H
#define SPINDLE_NN_FX_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "base/fx_update.h"
#include "spindle/model.h"
#include "spindle/numerics.h"

typedef enum spd_fx_loss {
  SPD_FX_LOSS_SPARSE_CE,  /* integer labels */
  SPD_FX_LOSS_CE,         /* one-hot (or soft) float targets */
  SPD_FX_LOSS_BCE,        /* float targets in [0, 1] */
  SPD_FX_LOSS_MSE,        /* float targets */
} spd_fx_loss_t;

typedef struct spd_fx_net spd_fx_net_t;

/** A batch: @p batch samples of the model's input size, row-major; labels
 *  for SPARSE_CE, targets (batch x output size) for the others. */
typedef struct spd_fx_batch {
  const float *x;
  const int32_t *labels;
  const float *targets;
  int batch;
} spd_fx_batch_t;

/** Per-batch results, summed over the samples (the caller averages). */
typedef struct spd_fx_result {
  double loss_sum;       /* sum of per-sample losses */
  int64_t correct;       /* argmax matches (first maximum wins) */
} spd_fx_result_t;

/** Build the fixed network of @p m (borrowed; must outlive the net) for
 *  batches of up to @p max_batch, quantising its float parameters into
 *  master and MAC-loop weights. @p plan is copied. @p loss and
 *  @p from_logits choose the loss core; @p seed seeds the stochastic
 *  rounding. @return 0, SPD_EUNSUPPORTED (naming the layer or loss),
 *  SPD_EINVAL, SPD_ENOMEM. */
int spd__fx_net_new(spd_ctx_t *ctx, const spd_model_t *m, const spd_numeric_plan_t *plan,
                    spd_fx_loss_t loss, bool from_logits, int max_batch, uint64_t seed,
                    spd_fx_net_t **out);
void spd__fx_net_free(spd_fx_net_t *net);

/** A Dropout of rate @p rate in training: element kept when the top 24
 *  bits of its Philox word are >= *threshold (0: the layer passes values
 *  through), kept values times *scale = 1 / (1 - rate) rounded once. The
 *  machine's kernels use the same constants (run/machine_dataspec.c). */
void spd__fx_dropout_consts(double rate, uint32_t *threshold, spd_fx_const_t *scale);

/** Calibrate the net's plan on one batch (see numerics.h): a probe pass in
 *  fixed point with the current plan measures the largest |z| and |dY| of
 *  every layer before they are rounded to int16, so saturated tensors are
 *  measured too; the plan is refined and the probe repeated @p passes
 *  times. No weight changes. Without labels or targets only the forward
 *  formats are calibrated. */
int spd__fx_net_calibrate(spd_fx_net_t *net, const spd_fx_batch_t *b, int passes);

/** Forward only: outputs (batch x output size) as float if @p out is not
 *  NULL; loss and accuracy into @p res if labels/targets are given. */
int spd__fx_net_evaluate(spd_fx_net_t *net, const spd_fx_batch_t *b, float *out,
                         spd_fx_result_t *res);

/** One training step: forward, loss, backward with exact batch sums, and
 *  the update of every parameter by @p h (h->step is the optimizer step,
 *  h->batch is set from the batch). The outputs before the update go to
 *  @p out (batch x output size floats) unless it is NULL. */
int spd__fx_net_train_batch(spd_fx_net_t *net, const spd_fx_batch_t *b, const spd_fx_hyper_t *h,
                            float *out, spd_fx_result_t *res);

/** Write the master weights back into the model's float parameters. */
void spd__fx_net_export(const spd_fx_net_t *net, spd_model_t *m);

/** The plan the net uses (after calibration). */
const spd_numeric_plan_t *spd__fx_net_plan(const spd_fx_net_t *net);
/** Saturation events counted so far (all tensors). */
uint64_t spd__fx_net_saturations(const spd_fx_net_t *net);
/** Saturations of layer @p layer: producing its output (forward), and
 *  rounding the gradient it received and its dZ (backward; the loss's
 *  gradient for the output layer). */
void spd__fx_net_layer_saturations(const spd_fx_net_t *net, int layer, uint64_t *forward,
                                   uint64_t *backward);

#endif
