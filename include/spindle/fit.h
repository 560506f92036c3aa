/* fit / evaluate / predict on the host reference executor, as Keras's
 * Model.fit does mini-batch training: per epoch a seeded shuffle of the
 * training indices, batches of batch_size with a smaller last batch, the
 * loss averaged over the batch, one optimizer step per batch, and a History
 * of per-epoch means. Deterministic for a seed. docs/training.md states the
 * data order exactly so other frameworks can reproduce it. */
#ifndef SPINDLE_FIT_H
#define SPINDLE_FIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spindle/checkpoint.h"
#include "spindle/context.h"
#include "spindle/metrics.h"
#include "spindle/model.h"
#include "spindle/optim.h"
#include "spindle/reference.h"

/** Samples and targets. Exactly one of @c x (floats) and @c x_u8 (bytes
 *  scaled by @c x_scale on the fly, so a 60,000-image dataset stays 47 MB)
 *  is set. Borrowed from the caller. */
typedef struct spd_fit_data {
  size_t n;                   /* samples */
  spd_shape_t sample_shape;   /* one sample; must equal the model's input */
  const float *x;             /* n * size(sample_shape) */
  const uint8_t *x_u8;
  float x_scale;              /* value = x_u8 * x_scale (e.g. 1/255) */
  spd_targets_t y;            /* y.n == n; unused by predict */
} spd_fit_data_t;

/** The loss Keras users pair with a model and its targets: sparse
 *  categorical crossentropy for integer labels and several outputs, binary
 *  crossentropy for one unit, categorical crossentropy for rows of a
 *  softmax output, mean squared error for anything else. */
spd_loss_kind_t spd_loss_default(const spd_model_t *m, const spd_targets_t *y);

/** Check that @p loss fits the model's output and the targets (width, label
 *  range): the diagnostic names the output shape and what the data has.
 *  @return 0 or SPD_ESHAPE / SPD_EINVAL. */
int spd_loss_check(spd_ctx_t *ctx, spd_loss_kind_t loss, const spd_model_t *m,
                   const spd_targets_t *y);

/** What one epoch reported (Keras's History.history rows). */
typedef struct spd_epoch_logs {
  int epoch;                  /* 0-based */
  double loss;                /* mean over the epoch's samples */
  double accuracy;
  bool has_validation;
  double val_loss, val_accuracy;
  double seconds;
} spd_epoch_logs_t;

/** Per-epoch logs; owned by the caller, free with spd_history_free. */
typedef struct spd_history {
  spd_ctx_t *ctx;
  int n_epochs;
  spd_epoch_logs_t *epochs;
} spd_history_t;

void spd_history_free(spd_history_t *h);

/** Progress callbacks (Keras's callbacks), all optional. A non-zero return
 *  from on_batch stops training with SPD_ESTATE. */
typedef struct spd_fit_callbacks {
  void *ud;
  void (*on_epoch_begin_cb)(void *ud, int epoch, int epochs, size_t steps);
  /** After batch @p step (1-based) of @p steps, with the epoch's running
   *  mean loss and accuracy so far. */
  int (*on_batch_cb)(void *ud, size_t step, size_t steps, double loss, double accuracy);
  /** After an epoch (and its validation); where checkpoint_dir is set,
   *  after that epoch's checkpoint is written there. */
  void (*on_epoch_end_cb)(void *ud, const spd_epoch_logs_t *logs);
  /** Polled at every batch boundary of training; true stops the run there
   *  with SPD_EINTERRUPTED, after writing the checkpoint if one is asked
   *  for. The way to stop on a signal: the caller's handler sets a flag
   *  this reads (the library installs no handlers). */
  bool (*should_stop_cb)(void *ud);
} spd_fit_callbacks_t;

typedef struct spd_fit_config {
  int epochs;                       /* >= 1 */
  size_t batch_size;                /* >= 1 (Keras: 32) */
  uint64_t seed;                    /* shuffle order */
  bool shuffle;                     /* Keras: true */
  spd_loss_kind_t loss;
  bool from_logits;                 /* the model outputs raw scores */
  spd_optimizer_config_t optimizer;
  const spd_fit_data_t *validation; /* optional, evaluated after each epoch */
  spd_fit_callbacks_t callbacks;
  /** Write a checkpoint into this folder (created if missing) after every
   *  epoch and when should_stop_cb stops the run (NULL: none). */
  const char *checkpoint_dir;
  /** Go on from this checkpoint (borrowed, NULL: start afresh): it must be
   *  of this model, numeric, loss, optimizer, seed, batch size, shuffle and
   *  training data, and the run trains from where it stands to epoch
   *  @c epochs. */
  const spd_checkpoint_t *resume;
} spd_fit_config_t;

/** Keras's fit defaults: 1 epoch, batch 32, shuffle, seed 0, SGD, sparse
 *  categorical crossentropy. */
void spd_fit_config_defaults(spd_fit_config_t *cfg);

/** The RNG stream that shuffles epoch @p epoch (0-based):
 *  SPD_FIT_SHUFFLE_STREAM + epoch, keyed by the fit seed. */
#define SPD_FIT_SHUFFLE_STREAM 0x53480000u

/** The training order of epoch @p epoch: order[i] = i, then the Fisher-Yates
 *  shuffle of spd_rng_shuffle_u32 with the Philox generator of
 *  (seed, SPD_FIT_SHUFFLE_STREAM + epoch). */
void spd_fit_epoch_order(uint64_t seed, int epoch, uint32_t *order, uint32_t n);

/* The engines below (float on the host here, fixed point in fit_fixed.h,
 * the machine in machine_run.h) are internals behind spd_fit, spd_evaluate
 * and spd_predict (spindle/api.h): the shared library does not export
 * them, and the CLI and Python call only the three. */

/** Train the built model @p m in place on @p train, in float on the host.
 *  @param history  filled on success (may be NULL)
 *  @return 0; SPD_EINVAL (bad config: named), SPD_ESHAPE (data and model
 *          disagree: both shapes named), SPD_ENOMEM, SPD_ESTATE (stopped by
 *          a callback: the weights hold the last completed step),
 *          SPD_EINTERRUPTED (stopped by should_stop_cb: the diagnostic says
 *          where, and the checkpoint is written), SPD_EIO (the checkpoint
 *          could not be written), SPD_EFORMAT (cfg->resume is of another
 *          run: names what differs). */
int spd_fit_float(spd_model_t *m, const spd_fit_config_t *cfg, const spd_fit_data_t *train,
                  spd_history_t *history);

/** Mean loss and accuracy of @p m over @p data, in batches of @p batch_size
 *  (inference mode). @p on_batch (in @p callbacks) reports progress. */
int spd_evaluate_float(spd_model_t *m, spd_loss_kind_t loss, bool from_logits,
                       size_t batch_size, const spd_fit_data_t *data,
                       const spd_fit_callbacks_t *callbacks, double *loss_out,
                       double *accuracy_out);

/** Outputs of @p m for every sample of @p data (inference mode) into
 *  @p out, data->n * size(output shape) floats owned by the caller (its
 *  contents are unspecified after a failure). */
int spd_predict_float(spd_model_t *m, size_t batch_size, const spd_fit_data_t *data,
                      const spd_fit_callbacks_t *callbacks, float *out);

#endif
