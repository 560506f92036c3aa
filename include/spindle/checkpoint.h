/* Training checkpoints: a folder from which a stopped training run goes on
 * exactly as if it had never stopped (docs/formats.md "Checkpoints"). spd_fit
 * and spd_fit_fixed write one after every epoch, and where a stop callback
 * stopped them, when spd_fit_config_t.checkpoint_dir is set; they go on from
 * one given as spd_fit_config_t.resume. The folder holds manifest.json (where
 * the run stands, what it trains, and the size and CRC-32 of every payload),
 * the weights as a Keras .weights.h5 file and the rest of the state (optimizer
 * moments, fixed-point masters and plan, dropout counters) in a binary
 * payload. Every file is written atomically and the manifest last, so a
 * crash leaves the previous checkpoint whole. */
#ifndef SPINDLE_CHECKPOINT_H
#define SPINDLE_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "spindle/context.h"

/** A checkpoint read into memory and verified. Owned by the caller
 *  (spd_checkpoint_free); independent of the folder once open. */
typedef struct spd_checkpoint spd_checkpoint_t;

/** Where a checkpointed run stands. */
typedef struct spd_checkpoint_info {
  char backend[16];          /* "reference" (the host executor) or "machine" */
  char numeric[8];           /* "float" or "fixed" */
  int epochs_done;           /* whole epochs trained */
  size_t batches_done;       /* batches of the next epoch already trained */
  int64_t step;              /* optimizer steps taken */
  char weights[4096];        /* path of the weights (.weights.h5) */
} spd_checkpoint_info_t;

/** The name of the manifest inside a checkpoint folder. */
#define SPD_CHECKPOINT_MANIFEST "manifest.json"

/** Read the checkpoint in folder @p dir: the manifest, and every payload it
 *  names, whose size and CRC-32 must match.
 *  @return 0; SPD_EIO (no such folder or manifest: named), SPD_EFORMAT (not a
 *          spindle checkpoint, another version, a truncated or corrupted
 *          file: names the file and what is wrong), SPD_ENOMEM. */
int spd_checkpoint_open(spd_ctx_t *ctx, const char *dir, spd_checkpoint_t **out);
void spd_checkpoint_free(spd_checkpoint_t *ck);

/** Where @p ck stands and where its weights are. */
void spd_checkpoint_info(const spd_checkpoint_t *ck, spd_checkpoint_info_t *info);

/** (Since 1.1.) Mark @p ck as the optimizer state a new fit carries on
 *  (Keras's second Model.fit with the same optimizer) rather than a run to
 *  resume. Given as spd_fit_config_t.resume, it must then be of the same
 *  model, numeric, loss, from_logits and optimizer kind (and, in float, the
 *  same backend), while the fit takes its own data, epochs (counted from
 *  0), batch size, shuffle, seed and learning rate or schedule. The fit
 *  starts from the checkpoint's optimizer step (which drives the schedule
 *  and Adam's bias correction), moments and Dropout counters; in fixed
 *  point also from its int32 master weights and numeric plan (the model
 *  takes the checkpoint's weights), in float from the model's weights as
 *  they stand. Its shuffle continues the carried run's epoch streams, so
 *  with the same seed and data, a fit of E epochs carried on by one of F
 *  trains exactly as one fit of E + F epochs does (docs/api.md). */
void spd_checkpoint_set_carry(spd_checkpoint_t *ck);

#endif
