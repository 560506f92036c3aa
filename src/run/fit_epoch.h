/* Internal: the batch loop of one training epoch, shared by the float
 * (run/fit.c) and fixed-point (run/fit_fixed.c) trainers so both report,
 * time and stop exactly alike. */
#ifndef SPINDLE_RUN_FIT_EPOCH_H
#define SPINDLE_RUN_FIT_EPOCH_H

#include <stddef.h>

#include "run/checkpoint.h"
#include "spindle/fit.h"
#include "spindle/metrics.h"

/** Trains on samples [first, first + count) of the epoch's order and adds
 *  the batch's loss and accuracy to the epoch's means. */
typedef int (*spd__fit_batch_fn)(void *trainer, size_t first, size_t count,
                                 spd_mean_t *loss, spd_mean_t *accuracy);

/** Run the batches of epoch @p epoch over @p n samples (the order is already
 *  drawn) from batch *@p batch on, with the epoch's running means @p loss and
 *  @p accuracy so far (a resumed epoch starts inside): the epoch-begin
 *  callback, one @p train_batch per batch of cfg->batch_size (the last one
 *  shorter), the batch callback (which may stop training: SPD_ESTATE with a
 *  diagnostic in @p ctx), then @p logs (loss, accuracy, seconds; validation
 *  is the caller's). Before every batch should_stop_cb is polled: true
 *  returns SPD_EINTERRUPTED with no diagnostic (the caller writes it).
 *  *@p batch, @p loss and @p accuracy always say where the epoch stands. */
int spd__fit_run_epoch(spd_ctx_t *ctx, const spd_fit_config_t *cfg, size_t n, int epoch,
                       spd__fit_batch_fn train_batch, void *trainer, size_t *batch,
                       spd_mean_t *loss, spd_mean_t *accuracy, spd_epoch_logs_t *logs);

/** What a trainer gives the shared epoch loop. */
typedef struct spd__fit_ops {
  /** Draw the order of the samples with shuffle stream @p epoch (the
   *  fit's epoch after run->base.epochs carried ones). */
  void (*order_cb)(void *trainer, int epoch);
  spd__fit_batch_fn train_batch;
  /** Fill the validation fields of @p logs (when cfg->validation is set). */
  int (*validate_cb)(void *trainer, spd_epoch_logs_t *logs);
  /** Optimizer steps taken so far. */
  int64_t (*step_cb)(void *trainer);
  /** Put the current weights into the model and the rest of the trainer's
   *  state into @p state; read it back (after the checkpoint's weights were
   *  loaded into the model). */
  int (*save_state_cb)(void *trainer, spd__blob_t *state);
  int (*load_state_cb)(void *trainer, spd__blob_reader_t *state);
} spd__fit_ops_t;

/** The epochs of a fit (both trainers): from the start or from
 *  run->cfg->resume, each epoch's order, batches and validation, the
 *  epoch-end callback and checkpoint, and when should_stop_cb stops the run,
 *  the checkpoint where it stopped. run->history gets every epoch's logs.
 *  @return 0, SPD_EINTERRUPTED (diagnostic says where), or the first
 *  failure. */
int spd__fit_loop(spd__ckpt_run_t *run, const spd__fit_ops_t *ops, void *trainer);

#endif
