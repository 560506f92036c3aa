/* Losses as training uses them, with Keras 3's definitions
 * (keras/src/losses/losses.py, backend/numpy/nn.py): the per-sample loss
 * averaged over the batch (Keras's "sum_over_batch_size" reduction) and its
 * gradient with respect to the model's output, which the executor's
 * backward pass takes. Probabilities are clipped to [1e-7, 1 - 1e-7] as
 * Keras does, and the gradient is zero where the clip is active. */
#ifndef SPINDLE_LOSS_H
#define SPINDLE_LOSS_H

#include <stdbool.h>
#include <stddef.h>

#include "spindle/context.h"
#include "spindle/metrics.h"
#include "spindle/model.h"

/** The loss the model minimises, with Keras's names. */
#define SPD_LOSSES(X)                                                         \
  X(MSE, "mean_squared_error")                                                \
  X(BINARY_CROSSENTROPY, "binary_crossentropy")                               \
  X(CATEGORICAL_CROSSENTROPY, "categorical_crossentropy")                     \
  X(SPARSE_CATEGORICAL_CROSSENTROPY, "sparse_categorical_crossentropy")

typedef enum spd_loss_kind {
#define SPD_LOSS_ENUM_(id, name) SPD_LOSS_##id,
  SPD_LOSSES(SPD_LOSS_ENUM_)
#undef SPD_LOSS_ENUM_
  SPD_LOSS_COUNT
} spd_loss_kind_t;

const char *spd_loss_name(spd_loss_kind_t kind);
/** Keras names and aliases ("mse"); -1 if unknown. */
int spd_loss_parse(const char *name);

/** The loss Keras users pair with a model and its targets: sparse
 *  categorical crossentropy for integer labels and several outputs, binary
 *  crossentropy for one sigmoid unit, categorical crossentropy for one-hot
 *  rows, mean squared error for anything else. */
spd_loss_kind_t spd_loss_default(const spd_model_t *m, const spd_targets_t *y);

/** Check that @p loss fits the model's output and the targets: names the
 *  output shape, the target width and the label range in the diagnostic.
 *  @return 0 or SPD_ESHAPE / SPD_EINVAL. */
int spd_loss_check(spd_ctx_t *ctx, spd_loss_kind_t loss, const spd_model_t *m,
                   const spd_targets_t *y);

/** Keras's clipping epsilon for crossentropy on probabilities. */
#define SPD_LOSS_EPSILON 1e-7f

/** Mean loss over the @p y->n rows of @p pred (n x units) and, when @p grad
 *  is not NULL, dL/dpred (n x units, the batch mean included).
 *  Categorical crossentropy normalises each row by its sum first, as Keras
 *  does, so the gradient carries that term too. With @p from_logits the
 *  crossentropies take raw scores (Keras's from_logits=True: log-softmax, or
 *  relu(x) - x t + log1p(exp(-|x|)) for binary); mean squared error ignores
 *  it. Targets are assumed checked (spd_loss_check). */
double spd_loss_compute(spd_loss_kind_t kind, bool from_logits, const float *pred,
                        size_t units, const spd_targets_t *y, float *grad);

#endif
