/* The per-element update rules of each optimizer, one file each, shared by
 * spd_optimizer_update. Scalars that depend only on the step (learning rate,
 * Adam's bias correction) are computed once per step in double and rounded
 * to float; the elementwise arithmetic is float32, as in Keras. */
#ifndef SPINDLE_NN_OPTIM_RULES_H
#define SPINDLE_NN_OPTIM_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "spindle/optim.h"

/** Bit k set: slot k is used by this configuration (allocated, zeroed). */
unsigned spd__optim_slot_mask(const spd_optimizer_config_t *cfg);

void spd__sgd_update(const spd_optimizer_config_t *cfg, float lr,
                     spd_optim_slots_t *s, float *restrict w,
                     const float *restrict g);
void spd__adam_update(const spd_optimizer_config_t *cfg, float lr,
                      int64_t iterations, spd_optim_slots_t *s,
                      float *restrict w, const float *restrict g);
void spd__rmsprop_update(const spd_optimizer_config_t *cfg, float lr,
                         spd_optim_slots_t *s, float *restrict w,
                         const float *restrict g);

#endif
