/* Internal: a fixed-point run made from a network trained elsewhere (the
 * machine, run/machine_session.c), so the host and the machine evaluate a
 * trained network with the same integers and the same plan. */
#ifndef SPINDLE_RUN_FIT_FIXED_H
#define SPINDLE_RUN_FIT_FIXED_H

#include "io/blob.h"
#include "nn/fx_net.h"
#include "spindle/fit_fixed.h"

/** A run owning @p net (on success only) for batches of up to @p max_batch
 *  samples. @return 0 or SPD_ENOMEM. */
int spd__fixed_run_adopt(spd_ctx_t *ctx, spd_fx_net_t *net, int max_batch,
                         spd_fixed_run_t **out);

/** Free the run but not its network, which goes back to the caller. */
spd_fx_net_t *spd__fixed_run_release(spd_fixed_run_t *run);

/** The run's network (its plan, master and MAC-loop weights). */
const spd_fx_net_t *spd__fixed_run_net(const spd_fixed_run_t *run);

/** The fixed-point update's hyperparameters at optimizer step @p step (its
 *  batch left 0), shared by spd_fit_fixed and the machine's update tables
 *  so both form them alike. */
spd_fx_hyper_t spd__fx_hyper_of(const spd_optimizer_config_t *o, int64_t step);

/** A checkpoint's fixed-point state of @p net (run/fit_fixed_state.c): the
 *  calibrated plan, every parameter's master weights and optimizer slots,
 *  the BatchNormalization moving statistics, the Dropout sample counters and
 *  the saturation counts. Get reads them back in the same order, refreshes
 *  the MAC-loop copies, and fails (SPD_EFORMAT) on a state of another net. */
void spd__fx_net_put_state(const spd_fx_net_t *net, spd__blob_t *b);
int spd__fx_net_get_state(spd_fx_net_t *net, spd__blob_reader_t *r);

#endif
