/* The mask of a Dropout layer in training, applied by the core that sends
 * the values the Dropout reads (docs/dense-on-machine.md, "Dropout"). The
 * core rebuilds each element's Philox word from the sample's sequence
 * number, so the mask is the reference's (src/nn/fx_pass.c
 * forward_dropout) without any packet or memory for it: the backward pass
 * draws the same words again. */
#ifndef SPINDLE_KERNELS_DROPOUT_H
#define SPINDLE_KERNELS_DROPOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/kernel_common.h"

/* Cycles of one Philox4x32-10 block (ten rounds of two 32x32->64
 * multiplies and a few XORs, SPINNAKER.md §1: about 8 cycles a round) and
 * of one value through the mask (compare, scale, saturate). */

typedef struct spd_kc_drop {
  bool on;                  /* SPD_DS_DROPOUT: otherwise values pass unchanged */
  bool fixed;
  spd_ds_dropout_t p;
  uint64_t block;           /* counter of the words below, plus 1 (0: none) */
  uint32_t words[4];
} spd_kc_drop_t;

/** The mask of the core's configuration (off unless SPD_DS_DROPOUT). */
void spd_kc_drop_init(spd_kc_drop_t *d, const spd_kc_t *kc);

/** Whether element @p e of training sample @p seq is kept (charges a
 *  Philox block when it draws one). */
bool spd_kc_drop_keep(spd_kc_drop_t *d, spd_core_t *core, uint32_t seq, uint32_t e);

/** A fixed-point value (a Dropout's input y, or its dY) through the mask:
 *  0, or v / (1 - rate) rounded once to nearest and saturated to int16,
 *  counting saturations into @p saturations. */
int16_t spd_kc_drop_fixed(const spd_kc_drop_t *d, bool keep, int16_t v, uint32_t *saturations);

/** A float value through the mask: 0 or v * scale. */
float spd_kc_drop_float(const spd_kc_drop_t *d, bool keep, float v);

#endif
