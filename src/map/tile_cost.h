/* The partitioner's cost model: DTCM, SDRAM, CPU cycles and DMA time of
 * every kind of vertex, per training sample, from the one cost table that
 * the kernels charge and the emulator keeps time by (machine/cost_table.h,
 * docs/cost-model.md). */
#ifndef SPINDLE_MAP_TILE_COST_H
#define SPINDLE_MAP_TILE_COST_H

#include <stdbool.h>
#include <stdint.h>

#include "spindle/dataspec.h"
#include "spindle/partition.h"

/** What one vertex costs. Time is in CPU cycles per sample. */
typedef struct spd__vertex_cost {
  uint32_t dtcm;        /* bytes (saturates at UINT32_MAX) */
  uint32_t held;        /* of which float partial sums held (spd_kc_held), estimated */
  uint64_t sdram;       /* bytes */
  uint64_t busy;        /* CPU cycles */
  uint64_t dma;         /* DMA engine cycles (overlaps the CPU) */
  uint64_t sends;       /* packets sent */
} spd__vertex_cost_t;

/** The shape of a Dense tile or column block and its neighbourhood. */
typedef struct spd__tile_shape {
  uint32_t rows, cols;        /* block of W */
  spd_tile_memory_t memory;
  spd_activation_t activation;
  bool first_layer;           /* no dX to compute */
  bool last_layer;            /* its dZ comes from the loss core */
  uint32_t row_blocks;        /* R: partial sums reduced per column */
  uint32_t dx_values;         /* dX partial-sum values a column block receives
                                 per sample from the next layer's tiles */
  bool bias;                  /* the layer has a bias */
  bool dx_to_map;             /* its dX goes to a feature map's partitions */
} spd__tile_shape_t;

/** Bytes of one value in packets and MAC loops (int16 or float32). */
uint32_t spd__cost_value_bytes(spd_numeric_t n);
/** Packets per partial sum (int64 halves in fixed point, one float). */
uint32_t spd__cost_psum_words(spd_numeric_t n);
/** CPU cycles to receive and store one packet. */
uint32_t spd__cost_recv_cycles(void);
/** CPU cycles to send one packet. */
uint32_t spd__cost_send_cycles(void);
/** CPU cycles one 72-bit packet occupies a link (SPINNAKER.md #18). */
uint32_t spd__cost_link_cycles(void);

/* The per-operation estimates, for the convolution costs
 * (partition_conv.c, docs/conv-on-machine.md). */
uint32_t spd__cost_mac_cycles(spd_numeric_t n);
/** A window tile's MAC: its loops index by window taps (calibrated apart). */
uint32_t spd__cost_conv_mac_cycles(spd_numeric_t n);
uint32_t spd__cost_add_cycles(spd_numeric_t n);
uint32_t spd__cost_act_cycles(const spd_partition_opts_t *o, spd_activation_t a);
uint32_t spd__cost_act_bwd_cycles(const spd_partition_opts_t *o);
uint32_t spd__cost_update_cycles(const spd_partition_opts_t *o);
/** DTCM and SDRAM bytes per weight in memory mode @p m. */
void spd__cost_weight_bytes(const spd_partition_opts_t *o, spd_tile_memory_t m, uint32_t *dtcm,
                            uint32_t *sdram);
/** The optimizer state bits a trainable block keeps (SPD_TM_STATE_*,
 *  base/tile_mem.h); 0 for inference. */
uint32_t spd__cost_state(const spd_partition_opts_t *o);
/** DMA engine cycles to move @p bytes. */
uint64_t spd__cost_dma_cycles(uint64_t bytes);
/** Fixed DTCM of every vertex (state, slot counters, partition table). */
uint32_t spd__cost_vertex_overhead(void);

/** A tile (R > 1) or a full tile (R = 1, its own reducer). */
void spd__cost_tile(const spd_partition_opts_t *o, const spd__tile_shape_t *s, bool full,
                    spd__vertex_cost_t *c);
/** The reducer of one column block. */
void spd__cost_reducer(const spd_partition_opts_t *o, const spd__tile_shape_t *s,
                       spd__vertex_cost_t *c);
/** A source injecting @p n input values per sample. */
void spd__cost_source(const spd_partition_opts_t *o, uint32_t n, spd__vertex_cost_t *c);
/** The loss core of @p n_out outputs. */
void spd__cost_loss(const spd_partition_opts_t *o, uint32_t n_out, spd__vertex_cost_t *c);
/** The sink recording @p n_out outputs and the metrics per sample. */
void spd__cost_sink(const spd_partition_opts_t *o, uint32_t n_out, spd__vertex_cost_t *c);

/** The SDRAM the sink's ring of records may take (docs/dataspec.md,
 *  "Records"): about what SpiNNaker's tools give a core's recording
 *  buffer, so a head of thousands of outputs still fits a chip. */
#define SPD__SINK_RING_BYTES (1u << 20)
/** Records the sink's ring holds in a run of @p samples with @p n_out
 *  outputs: all of them when they fit SPD__SINK_RING_BYTES, else as many
 *  as fit (at least 64: the host reads them as the machine runs). */
uint32_t spd__sink_ring(uint32_t samples, uint32_t n_out);
/** The bytes of that ring and the host's read count after it. */
uint64_t spd__sink_bytes(uint32_t samples, uint32_t n_out);

#endif
