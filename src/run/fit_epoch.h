/* Internal: the batch loop of one training epoch, shared by the float
 * (run/fit.c) and fixed-point (run/fit_fixed.c) trainers so both report,
 * time and stop exactly alike. */
#ifndef SPINDLE_RUN_FIT_EPOCH_H
#define SPINDLE_RUN_FIT_EPOCH_H

#include <stddef.h>

#include "spindle/fit.h"
#include "spindle/metrics.h"

/** Trains on samples [first, first + count) of the epoch's order and adds
 *  the batch's loss and accuracy to the epoch's means. */
typedef int (*spd__fit_batch_fn)(void *trainer, size_t first, size_t count,
                                 spd_mean_t *loss, spd_mean_t *accuracy);

/** Run the batches of epoch @p epoch over @p n samples (the order is already
 *  drawn): the epoch-begin callback, one @p train_batch per batch of
 *  cfg->batch_size (the last one shorter), the batch callback (which may stop
 *  training: SPD_ESTATE with a diagnostic in @p ctx), then @p logs (loss,
 *  accuracy, seconds; validation is the caller's). */
int spd__fit_run_epoch(spd_ctx_t *ctx, const spd_fit_config_t *cfg, size_t n, int epoch,
                       spd__fit_batch_fn train_batch, void *trainer,
                       spd_epoch_logs_t *logs);

#endif
