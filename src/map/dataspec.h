/* The host half of the data specification (docs/dataspec.md): one
 * parameter blob per vertex of a placed, routed machine graph. Map-time
 * work: run/ only loads the blobs (map/pacing.h gives their paces). */
#ifndef SPINDLE_MAP_DATASPEC_H
#define SPINDLE_MAP_DATASPEC_H

#include <stdint.h>

#include "spindle/dataspec.h"
#include "spindle/map_route.h"
#include "spindle/model.h"
#include "spindle/numerics.h"
#include "spindle/partition.h"

/** What the blobs are made from. Weights: per model layer, fixed int16 MAC
 *  copies and int32 master biases (w16/bias32), or float (wf/biasf), each
 *  row-major in x out, NULL for layers without them. */
typedef struct spd__ds_inputs {
  const spd_machine_graph_t *g;
  const spd_key_block_t *keys;        /* one per partition */
  const spd_model_t *model;
  const spd_numeric_plan_t *plan;
  spd_numeric_t numeric;
  uint32_t n_samples, slots;
  const int16_t *const *w16;
  const int32_t *const *bias32;
  const float *const *wf;
  const float *const *biasf;
  const uint32_t *input_table;        /* 256 words (byte inputs) or NULL */
  uint32_t bytes_per_value;           /* source inputs: 1 or 4 */
  const uint32_t *sdram_addr;         /* per vertex: samples, labels, records */
  bool labels;
  bool from_logits;                   /* SPD_DS_FROM_LOGITS for a linear output */
  uint32_t start_us;                  /* sources' first injection */
  uint32_t resend_tick_us;            /* spd_ds_config_t.resend_tick_us */
  const uint32_t *pace;               /* per partition, from spd__ds_paces, map/pacing.h */
  /* training (fixed point) */
  bool train;
  uint32_t epoch_samples, batch;
  uint32_t state;                     /* optimizer slab bits (spd_ds_config_t) */
  const int32_t *const *master;       /* per layer: kernel master, in x out */
  const uint32_t *update_addr;        /* per vertex: its layer's update table */
  const uint32_t *result_addr;        /* per vertex: final master weights */
  bool epoch_results;                 /* ... and every epoch's (validation) */
  uint32_t result_ring;               /* ... in a ring of blocks (0: one each) */
  const uint32_t *order_addr;         /* per vertex: sources' sample order */
  uint64_t seed;                      /* the fit's seed (Dropout masks) */
  /* training checkpoints: per vertex, the optimizer state of its kernel
   * and bias blocks to start from and to leave with the results (0: none;
   * NULL: none anywhere), and the samples trained before the run */
  const uint32_t (*state_in)[2];
  const uint32_t (*state_out)[2];
  uint32_t seq_base;
  uint32_t seq_offset;                /* spd_ds_config_t.seq_offset */
  const uint32_t *snap_addr;          /* per vertex: spd_ds_config_t.snap_addr */
  const uint32_t *prov_addr;          /* per vertex: its provenance region (0: none) */
  uint32_t snap_every;
} spd__ds_inputs_t;

/** The blob of vertex @p v into *bytes (spd_malloc'd) and *size.
 *  @return 0, SPD_ENOMEM. */
int spd__ds_build(spd_ctx_t *ctx, const spd__ds_inputs_t *in, uint32_t v, uint8_t **bytes,
                  uint32_t *size);

/** The Dropout layer (rate > 0) reading model layer @p layer's output,
 *  directly or through Flatten, Reshape and Dropouts of rate 0, or -1: the
 *  cores sending that output apply its mask in training. */
int spd__ds_dropout_reading(const spd_model_t *m, int layer);

/** Training: whether every Dropout of rate > 0 has cores of graph @p g
 *  that send the values it reads and so apply its mask (a Dense layer's
 *  reducers or full tiles, a convolution's or pooling's tiles).
 *  @return 0 or SPD_EUNSUPPORTED naming the Dropout. */
int spd__ds_check_dropouts(spd_ctx_t *ctx, const spd_model_t *m, const spd_machine_graph_t *g);

/** The kernel name of a role. */
const char *spd__ds_kernel_name(spd_vertex_role_t role);

#endif
