/* The per-step update constants the host writes for the machine's training
 * cores (docs/dense-on-machine.md "Weight updates"): one table per layer,
 * read by every tile and reducer of the layer at each batch boundary. */
#ifndef SPINDLE_RUN_MACHINE_UPDATES_H
#define SPINDLE_RUN_MACHINE_UPDATES_H

#include <stddef.h>
#include <stdint.h>

#include "nn/fx_net_internal.h"
#include "spindle/fit.h"

/** Fixed point: layer @p layer's [step][kernel, bias] spd_fx_update_t
 *  table for @p steps steps of @p epochs epochs over @p n samples, formed
 *  exactly as spd_fit_fixed forms each step's update; the optimizer's step
 *  of the first is @p base (a carried optimizer's steps, else 0). *out (owned by the
 *  caller, spd_free) and its size in *bytes. @return 0 or SPD_ENOMEM. */
int spd__mupdate_fixed_table(spd_ctx_t *ctx, const spd_fit_config_t *cfg,
                             const spd_numeric_plan_t *plan, const spd_model_t *m,
                             const spd_fx_net_t *net, int layer, uint32_t n, uint32_t epochs,
                             uint32_t steps, int64_t base, void **out, size_t *bytes);

/** Float: Keras's per-step constants (spd_ds_fupdate_t: the step's learning
 *  rate; Adam's bias correction folded in) of optimizer steps @p base ..
 *  @p base + @p steps - 1. @return 0 or SPD_ENOMEM. */
int spd__mupdate_float_table(spd_ctx_t *ctx, const spd_optimizer_config_t *o, uint32_t steps,
                             int64_t base, void **out, size_t *bytes);

#endif
