/* Internal: how the trainers (run/fit.c, run/fit_fixed.c) write a
 * checkpoint and go on from one (spindle/checkpoint.h). The manifest and the
 * weights are common; each trainer adds its own state payload (io/blob.h). */
#ifndef SPINDLE_RUN_CHECKPOINT_H
#define SPINDLE_RUN_CHECKPOINT_H

#include "io/blob.h"
#include "spindle/checkpoint.h"
#include "spindle/fit.h"
#include "spindle/numerics.h"

/** Where a run stands at a batch boundary. */
typedef struct spd__ckpt_pos {
  int epoch;                 /* the epoch in progress, or the next (0-based) */
  size_t batch;              /* batches of it already trained */
  int64_t step;              /* optimizer steps taken */
  spd_mean_t loss, accuracy; /* that epoch's running means so far */
} spd__ckpt_pos_t;

/** What the optimizer had trained before this fit: zero, or a carried
 *  checkpoint's run up to where it stood (spd_checkpoint_set_carry). Its
 *  steps go on from @c step, its shuffle from stream @c epochs and its
 *  Dropout counters from @c samples. */
typedef struct spd__ckpt_base {
  int64_t step;
  int64_t epochs;
  uint64_t samples;
} spd__ckpt_base_t;

/** The run a checkpoint is written from or resumed into. */
typedef struct spd__ckpt_run {
  const char *backend;             /* "reference" or "machine" */
  spd_numeric_t numeric;
  spd_model_t *model;              /* weights saved from / loaded into it */
  const spd_fit_config_t *cfg;
  const spd_fit_data_t *train;
  spd__ckpt_pos_t pos;             /* pos.step counts the base's steps too */
  spd__ckpt_base_t base;           /* set by spd__checkpoint_resume */
  spd_epoch_logs_t *history;       /* cfg->epochs entries; pos.epoch whole */
} spd__ckpt_run_t;

/** Write the checkpoint of @p run with the trainer's @p state into
 *  run->cfg->checkpoint_dir: the payloads, then the manifest naming them,
 *  then the previous payloads are removed.
 *  @return 0, SPD_EIO (names the file), SPD_ENOMEM. */
int spd__checkpoint_save(const spd__ckpt_run_t *run, const spd__blob_t *state);

/** Check that run->cfg->resume is of this run (model, numeric, loss,
 *  optimizer, seed, batch size, shuffle, data; SPD_EFORMAT naming the first
 *  difference) and that it stands before run->cfg->epochs (SPD_EINVAL); then
 *  load its weights into run->model, its position into run->pos, its base
 *  into run->base, its history into run->history and point @p state at its
 *  state payload. A carried checkpoint (spd_checkpoint_set_carry) need only
 *  be of this model, numeric, loss and optimizer kind (and in float, of
 *  this backend): run->base is where it stood, run->pos the fit's start at
 *  that step, and in fixed point its weights go into run->model. */
int spd__checkpoint_resume(spd__ckpt_run_t *run, spd__blob_reader_t *state);

/** The optimizer steps a fit given @p ck as its resume goes on from when
 *  @p ck is carried (spd_checkpoint_set_carry), else 0 (NULL: 0). */
int64_t spd__checkpoint_carried_step(const spd_checkpoint_t *ck);
/** The last optimizer step a fit of @p cfg over @p n samples reaches: the
 *  carried steps, then its epochs' batches (the schedule's range the
 *  fixed-point update is checked over). */
int64_t spd__checkpoint_last_step(const spd_fit_config_t *cfg, size_t n);

/** The diagnostic of a run stopped by should_stop_cb at run->pos (and the
 *  checkpoint written, if any). @return SPD_EINTERRUPTED. */
int spd__checkpoint_interrupted(const spd__ckpt_run_t *run);

#endif
