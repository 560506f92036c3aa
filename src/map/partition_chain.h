/* The partitioners map chains of layers (src/map/partition_chain.c). */
#ifndef SPINDLE_MAP_PARTITION_CHAIN_H
#define SPINDLE_MAP_PARTITION_CHAIN_H

#include "spindle/context.h"
#include "spindle/model.h"

/** SPD_EUNSUPPORTED naming the first layer (in model order) that joins
 *  several inputs or whose output several layers read, and why; 0 for a
 *  chain. */
int spd__partition_chain_check(spd_ctx_t *ctx, const spd_model_t *model);

#endif
