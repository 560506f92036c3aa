/* Internal: what the host makes of the sink's records while a machine run
 * goes on (docs/dense-on-machine.md, "Progress while the machine runs").
 * The session advances the machine in slices of simulated time through the
 * transceiver and, after each, reads the records the sink has completed
 * from SDRAM; a record is complete once its predicted-class word no longer
 * holds the fill the host wrote there before the run. Every newly complete
 * batch goes to the batch callback with the epoch's (or the inference
 * pass's) running loss and accuracy; in training a finished epoch's logs
 * are the means of its records, summed in sample order, and go to the
 * epoch callbacks. */
#ifndef SPINDLE_RUN_MACHINE_PROGRESS_H
#define SPINDLE_RUN_MACHINE_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "spindle/fit.h"

/** The host's fill of the records before the run: no record's tag (its
 *  sequence number + 1, spindle/dataspec.h) equals it. */
#define SPD__RECORD_EMPTY 0xFFFFFFFFu

typedef struct spd__mprogress {
  const spd_fit_callbacks_t *cb; /* NULL: nothing to report */
  spd_epoch_logs_t *logs;      /* training: one per epoch, filled as epochs
                                  finish; NULL: inference (no epochs) */
  uint32_t epochs;             /* training's epochs (0: 1) */
  uint32_t batch;              /* samples per reported step (0: 32) */
  uint32_t n;                  /* samples per epoch (inference: all) */
  uint32_t out_size;           /* outputs per record */
  bool fixed;                  /* loss words are fixed point (else SPD_DS_LOSS_*) */
  uint32_t done;               /* records taken so far, in sequence order */
  double loss_sum;             /* the current epoch's, in sample order */
  uint32_t hits;
  double epoch_start;          /* monotonic seconds */
  /* training: called when an epoch's records are in, before epoch end, to
   * fill the logs' validation (NULL: no validation) */
  int (*validate_cb)(void *ud, uint32_t epoch, spd_epoch_logs_t *logs);
  void *validate_ud;
  /* training: called after an epoch's end callback, its logs complete, to
   * write a checkpoint (NULL: none; validate_ud is passed) */
  int (*checkpoint_cb)(void *ud, uint32_t epoch);
  uint32_t first_epoch;        /* epochs trained before the run (resumed) */
  uint32_t skip;               /* samples of that epoch trained before it */
  double seed_loss;            /* ... their summed loss and hits, the */
  uint32_t seed_hits;          /* epoch's sums to go on from */
} spd__mprogress_t;

/** The loss of one record (fixed: s.SPD_FX_LOSS_FRAC; float: worked out from
 *  the record's outputs and label as the loss words say, SPD_DS_LOSS_*). */
double spd__record_loss(const uint32_t *rec, uint32_t out_size, bool fixed);

/** Records among @p count (consecutive, of the samples from sequence
 *  number @p first on, @p out_size outputs each) that are complete before
 *  the first whose tag is not its own (not written yet, or an older
 *  record of the sink's ring). */
uint32_t spd__records_complete(const uint32_t *records, uint32_t first, uint32_t count,
                               uint32_t out_size);

/** The run starts: training's first epoch begins (its callback). */
void spd__mprogress_begin(spd__mprogress_t *p);

/** Records [p->done, @p upto) of @p records are complete: add them to the
 *  epoch's sums, call the batch callback after each batch they complete
 *  and, when an epoch completes, fill its logs (validation by validate_cb)
 *  and call epoch end (and the next epoch's begin). @return 0, SPD_ESTATE
 *  with a diagnostic in @p ctx when a batch callback asked to stop, or
 *  validate_cb's error. */
int spd__mprogress_take(spd_ctx_t *ctx, spd__mprogress_t *p, const uint32_t *records,
                        uint32_t upto);

#endif
