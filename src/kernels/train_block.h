/* A block of trainable parameters on a core (docs/dense-on-machine.md,
 * "Weight updates"): int32 master values, the optimizer's slabs, the exact
 * int64 batch gradient, and for a kernel the int16 MAC copy. At a batch
 * boundary every element is updated by spd_fx_update_one with the step's
 * constants the host wrote (spd_fx_update_t [step][2] in SDRAM) and its
 * global element index, so any split of a tensor lands on the reference's
 * bits. */
#ifndef SPINDLE_KERNELS_TRAIN_BLOCK_H
#define SPINDLE_KERNELS_TRAIN_BLOCK_H

#include "base/fx_update.h"
#include "kernels/kernel_common.h"

typedef struct spd_kc_params {
  uint32_t rows, cols;     /* the block (a bias: 1 x cols) */
  uint32_t row_lo, col_lo, ld; /* element = (row_lo + r) * ld + col_lo + c */
  uint32_t which;          /* 0 kernel, 1 bias: the update table's column */
  int32_t *master;
  int32_t *a, *c;
  int64_t *b;
  int64_t *grad;
  int16_t *w16;            /* kernel: the MAC copy (refreshed), or NULL */
  int weight_frac;
  /* SDRAM mode (the block's training state does not fit DTCM, the tile's
   * `split` memory): master, slabs and gradient live in SDRAM at these
   * addresses and the pointers above are one-row buffers. */
  bool in_sdram;
  uint32_t master_addr, a_addr, b_addr, c_addr, grad_addr;
} spd_kc_params_t;

/** Allocate the slabs and gradient of a rows x cols block (state bits of
 *  spd_ds_config_t.state), master from @p master (kept, not copied); the
 *  slabs start from state_in[which] when set, else zero.
 *  @return 0 or SPD_ENOMEM. */
int spd_kc_params_init(spd_kc_t *kc, spd_kc_params_t *p, uint32_t rows, uint32_t cols,
                       int32_t *master, int16_t *w16, uint32_t which);

/** The same in SDRAM mode: the master block is at @p master_addr (the
 *  blob's copy), slabs and gradient are allocated in the chip's SDRAM
 *  (zero). @return 0, SPD_ENOMEM, SPD_ESDRAM. */
int spd_kc_params_init_sdram(spd_kc_t *kc, spd_kc_params_t *p, uint32_t rows, uint32_t cols,
                             uint32_t master_addr, int16_t *w16);

/** gw += x dZ^T over the block (exact int64), in DTCM or SDRAM. */
int spd_kc_params_accumulate(spd_kc_t *kc, spd_kc_params_t *p, const int16_t *x,
                             const int16_t *dz);

/** Copy the master block to @p addr (SDRAM). */
int spd_kc_params_save(spd_kc_t *kc, const spd_kc_params_t *p, uint32_t addr);

/** Where the results (master weights and bias, @p bytes) go after the
 *  update of sequence number @p seq: the final ones once at the run's end
 *  or, with SPD_DS_EPOCH_RESULTS, every epoch's block; 0 when none is due. */
uint32_t spd_kc_result_at(const spd_kc_t *kc, uint32_t seq, uint32_t bytes);

/** After an epoch's results are written at @p at: its marker word (the
 *  epoch's number from 1) after them, with SPD_DS_EPOCH_RESULTS, so the
 *  host knows the block is whole. @return 0 or the SDRAM error. */
int spd_kc_result_seal(spd_kc_t *kc, uint32_t seq, uint32_t at, uint32_t bytes);

/** The batch-boundary update of optimizer step @p step; clears the
 *  gradient and refreshes the MAC copy. @return 0 or the SDRAM error. */
int spd_kc_params_update(spd_kc_t *kc, spd_kc_params_t *p, uint32_t step, uint32_t *sat);

/** Float training: a block of float weights with its gradient (summed
 *  over the batch of dL/dz already divided by the batch size) and up to two
 *  float slabs. */
typedef struct spd_kc_fparams {
  uint32_t n;
  float *w, *grad, *m, *v;
} spd_kc_fparams_t;

/** Allocate the gradient and slabs of @p n float weights @p w (block
 *  @p which: 0 kernel, 1 bias); the slabs start from state_in[which] when
 *  set, else zero. @return 0, SPD_ENOMEM or the SDRAM error. */
int spd_kc_fparams_init(spd_kc_t *kc, spd_kc_fparams_t *p, uint32_t n, float *w,
                        uint32_t which);
/** Keras's update of step @p step (spd_ds_fupdate_t at update_addr). */
int spd_kc_fparams_update(spd_kc_t *kc, spd_kc_fparams_t *p, uint32_t step);

/** Training checkpoints: after the update of sequence number @p seq, when
 *  the results are due, the optimizer slabs of the kernel and bias blocks
 *  (either NULL when the core has none) to state_out[0] and [1] (nothing
 *  where 0), before the results are sealed. @return 0 or the SDRAM error. */
int spd_kc_state_save(spd_kc_t *kc, uint32_t seq, spd_kc_params_t *kernel,
                      spd_kc_params_t *bias);
int spd_kc_fstate_save(spd_kc_t *kc, uint32_t seq, const spd_kc_fparams_t *kernel,
                       const spd_kc_fparams_t *bias);

/** Recovery snapshots (spd_ds_config_t.snap_addr, docs/recovery.md): after
 *  the update of sequence number @p seq, when its step is due, the masters
 *  and slabs of the kernel and bias blocks (either NULL) into the ring,
 *  then the seal. @return 0 or the SDRAM error. */
int spd_kc_snapshot(spd_kc_t *kc, uint32_t seq, spd_kc_params_t *kernel,
                    spd_kc_params_t *bias);
int spd_kc_fsnapshot(spd_kc_t *kc, uint32_t seq, const spd_kc_fparams_t *kernel,
                     const spd_kc_fparams_t *bias);

#endif
