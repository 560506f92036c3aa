/* The first step of the compiler (map/): cut a built model into a machine
 * graph, one vertex per application core. A Dense layer becomes a grid of
 * tiles, each holding a block of W (rows = a slice of the inputs, cols = a
 * slice of the outputs), plus one reducer per column block; sources inject
 * the samples, a loss core applies softmax and the loss, a sink records the
 * results. Edges are outgoing partitions (SPINNAKER.md §9): a source vertex,
 * a name, a block of keys and the vertices that receive every packet.
 * docs/dense-on-machine.md describes how the graph trains a network; the
 * grid is chosen by the cost model there, subject to each core's DTCM and
 * each chip's SDRAM.
 *
 * Convolutions (issue 5) reuse the same types: a conv tile's rows are output
 * rows (with their input halo) and its cols are output channels. */
#ifndef SPINDLE_PARTITION_H
#define SPINDLE_PARTITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spindle/context.h"
#include "spindle/machine.h"
#include "spindle/model.h"
#include "spindle/numerics.h"
#include "spindle/optim.h"

/** What a vertex does (docs/dense-on-machine.md, "Core roles"). */
#define SPD_VERTEX_ROLES(X)                                                   \
  X(SOURCE, "source")         /* DMAs input slices from SDRAM, injects them */ \
  X(TILE, "tile")             /* block of W: partial sums, dX sums, dW */      \
  X(TILE_FULL, "tile-full")   /* every row of its columns: reduces itself */   \
  X(REDUCER, "reducer")       /* sums a column block, bias, activation */      \
  X(LOSS, "loss")             /* softmax, loss, dL/dz of the output layer */   \
  X(SINK, "sink")             /* records outputs, losses, metrics in SDRAM */ \
  X(CONV, "conv")             /* output rows x channels of a convolution,   */ \
                              /* its own reducer; may hold a fused pooling */ \
  X(POOL, "pool")             /* output rows x channels of a pooling layer */

typedef enum spd_vertex_role {
#define SPD_VERTEX_ROLE_ENUM_(id, name) SPD_ROLE_##id,
  SPD_VERTEX_ROLES(SPD_VERTEX_ROLE_ENUM_)
#undef SPD_VERTEX_ROLE_ENUM_
  SPD_ROLE_COUNT
} spd_vertex_role_t;

const char *spd_vertex_role_name(spd_vertex_role_t role);

/** Where a tile keeps its block of weights (docs/dense-on-machine.md,
 *  "Memory per tile"). */
typedef enum spd_tile_memory {
  SPD_TILE_RESIDENT = 0, /* MAC weights, master copy and optimizer state in DTCM */
  SPD_TILE_SPLIT = 1,    /* MAC weights in DTCM; master and state in SDRAM */
  SPD_TILE_STREAMED = 2, /* everything in SDRAM; W streamed by DMA per pass */
} spd_tile_memory_t;

/** "resident", "split", "streamed". */
const char *spd_tile_memory_name(spd_tile_memory_t m);

/** A half-open range [lo, lo + n) of a tensor's indices. */
typedef struct spd_range {
  uint32_t lo, n;
} spd_range_t;

/** One vertex = one application core. */
typedef struct spd_vertex {
  spd_vertex_role_t role;
  int layer;              /* model layer index (SOURCE: the input layer;
                             LOSS/SINK: the output layer) */
  int n_layers;           /* consecutive layers sharing this core (>= 1):
                             layer .. layer + n_layers - 1 of the Dense
                             chain; rows are the first's, cols the last's */
  uint16_t grid_row;      /* TILE: row block i; others 0 */
  uint16_t grid_col;      /* TILE/TILE_FULL/REDUCER: column block j */
  spd_range_t rows;       /* TILE*: rows of W (input features);
                             SOURCE: the input features it injects */
  spd_range_t cols;       /* TILE*, REDUCER: output columns; LOSS, SINK:
                             the model's outputs */
  spd_tile_memory_t memory; /* TILE*: where its weights live */
  uint32_t dtcm_bytes;    /* DTCM the kernel allocates (<= the core budget) */
  uint32_t held_bytes;    /* float: the partition search's estimate, within
                             dtcm_bytes, of the partial sums its kernel holds
                             (base/tile_mem.h, spd_kc_held); the tables'
                             count replaces it with the exact bytes */
  uint64_t sdram_bytes;   /* SDRAM on its chip */
  uint64_t cycles_per_sample; /* CPU cycles per training sample, the batch-end
                                 update amortised over the batch */
  uint64_t period_cycles;     /* time per sample in CPU cycles: the largest of
                                 busy cycles, paced sends and DMA */
  uint64_t dma_cycles;        /* DMA engine cycles per sample */
  /* CONV, POOL (docs/conv-on-machine.md): rows = output rows (of the
   * pooling when one is fused), cols = output channels, in_rows = the input
   * rows with the halo the tile reads; fused_pool = model layer index of a
   * pooling layer computed on this core (0: none). */
  spd_range_t in_rows;
  int fused_pool;
  spd_range_t conv_rows;      /* CONV: the convolution's own output rows */
  /* CONV, POOL: the columns of the same (docs/conv-on-machine.md, "Tiles"):
   * out_cols of the tensor it sends, conv_cols of its convolution, in_cols
   * of its input with the halo; grid_row is then its position block
   * (row block i x column blocks + column block q), 0 the owner. */
  spd_range_t out_cols, conv_cols, in_cols;
} spd_vertex_t;

/** An outgoing partition (a multicast net). Value v of sample slot s, word
 *  w (int64 partial sums travel as two 32-bit words, low first) has key
 *  base + (s << value_bits) + v * words + w, so a receiver indexes by
 *  key - base (docs/dense-on-machine.md, "Packets and keys"). */
typedef struct spd_partition {
  uint32_t source;        /* vertex index */
  char name[16];          /* "x", "psum", "y", "dz", "dxpsum", "record", "credit" */
  int layer;              /* the layer whose tensor it carries */
  spd_range_t values;     /* which values of that tensor */
  uint32_t words;         /* packets per value (1 or 2) */
  uint32_t value_bits;    /* ceil(log2(values.n * words)) */
  uint32_t n_keys;        /* slots << value_bits */
  uint32_t pace_cycles;   /* least CPU cycles between two of its sends */
  uint32_t n_targets;
  uint32_t *targets;      /* vertex indices, owned by the graph */
  /* Feature-map partitions (conv, pool and their Flatten into Dense;
   * docs/conv-on-machine.md): when fm_width > 0 the values are the block
   * fm_rows x [0, fm_width) x fm_chans of the layer's (H, W, C) output
   * (C = fm_channels) in (row, column, channel) order, and `values` is the
   * range of positions in that order that the partition carries (the whole
   * block, or the part inside a Dense row block). */
  spd_range_t fm_rows, fm_chans;
  uint32_t fm_width, fm_channels;
  spd_range_t fm_cols;    /* the block's columns when it is cut by columns
                             (n = 0: every column, [0, fm_width)) */
  bool per_batch;         /* sent once per batch, not per sample ("dwsum",
                             "wupd": the weight-sharing gradient reduction) */
} spd_partition_t;

/** How one Dense layer was cut. */
typedef struct spd_layer_tiling {
  int layer;                    /* model layer index */
  char name[SPD_NAME_MAX];      /* the layer's name */
  uint32_t in, out;             /* W is in x out */
  uint16_t grid_rows, grid_cols;
  spd_tile_memory_t memory;
  uint32_t first_vertex;        /* its tiles (row-major), then its reducers */
  uint32_t n_vertices;          /* 0: the layer shares the core first_vertex
                                   of an earlier layer (fuse_small) */
  uint64_t period_cycles;       /* slowest of its vertices */
  uint32_t max_tile_dtcm;       /* largest DTCM need of its vertices */
} spd_layer_tiling_t;

/** How one convolution or pooling layer was cut (docs/conv-on-machine.md):
 *  grid_rows blocks of output rows x grid_cols blocks of output channels.
 *  A pooling layer fused into the convolution before it has n_vertices = 0
 *  and fused_into = that convolution's model layer index. A 1-D layer is
 *  cut along its steps (h = steps, w = 1). */
typedef struct spd_conv_tiling {
  int layer;
  char name[SPD_NAME_MAX];
  spd_layer_kind_t kind;
  uint32_t in_h, in_w, in_c, out_h, out_w, out_c;
  uint32_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
  uint16_t grid_rows, grid_cols;
  spd_tile_memory_t memory;
  uint32_t first_vertex, n_vertices;
  uint16_t grid_wcols;          /* blocks of output columns (1: uncut); the
                                   vertices are row block x column block x
                                   channel block, row-major */
  int fused_into;               /* 0 or the convolution holding this pooling */
  uint64_t period_cycles;
  uint32_t max_tile_dtcm;
} spd_conv_tiling_t;

/** Options of the partitioner. */
typedef struct spd_partition_opts {
  spd_numeric_t numeric;        /* fixed (default) or float */
  spd_optimizer_kind_t optimizer; /* state bytes per weight */
  bool momentum;                /* SGD/RMSprop momentum slot */
  bool centered;                /* RMSprop centered slot */
  bool training;                /* false: forward only (no backward state) */
  uint32_t batch_size;          /* samples per update (32) */
  uint32_t slots;               /* samples in flight, a power of two (4) */
  uint32_t dataset_samples;     /* samples the sources hold in SDRAM (60000) */
  uint32_t input_bytes;         /* bytes per input value in SDRAM (1: uint8) */
  uint32_t max_cores;           /* cap on cores used (0: the machine's) */
  uint32_t slack_percent;       /* accept a period this much above the best
                                   for fewer cores and packets (10) */
  bool fuse_small;              /* consecutive single-tile layers share a core
                                   when their DTCM and cycles fit (false) */
  uint32_t dtcm_reserve;        /* DTCM bytes per vertex the grid search keeps
                                   back (0; spd_partition_model raises it when
                                   a cut's partition tables did not fit) */
} spd_partition_opts_t;

/** Fixed point, Adam, training, batch 32, 4 slots, 60,000 uint8 samples,
 *  10 % slack. */
void spd_partition_opts_default(spd_partition_opts_t *opts);

/** A machine graph. Owned; free with spd_machine_graph_free. */
typedef struct spd_machine_graph {
  spd_ctx_t *ctx;
  spd_partition_opts_t opts;
  uint32_t n_vertices;
  spd_vertex_t *vertices;
  uint32_t n_partitions;
  spd_partition_t *partitions;
  int n_dense;
  spd_layer_tiling_t *dense;    /* one per Dense layer, in model order */
  uint64_t period_cycles;       /* the pipeline's bottleneck per sample */
  int n_conv;
  struct spd_conv_tiling *conv; /* one per Conv/pooling layer, in model order */
} spd_machine_graph_t;

/** DTCM a kernel may allocate: 64 KB less the spin1 stacks and the runtime
 *  (SPINNAKER.md #3 and §1 Memories; docs/dense-on-machine.md). */
uint32_t spd_partition_dtcm_budget(void);

/** Cut every Dense layer of the built model @p model into tiles for
 *  @p machine and add the reducers, sources, loss and sink. Supported layers:
 *  InputLayer, Flatten, Reshape, Dropout (pass-through), Dense, and an
 *  Activation after a linear Dense (folded into it). @p opts may be NULL.
 *  The grid of every layer minimises the pipeline's slowest vertex per
 *  sample subject to each vertex's DTCM budget, each tile's SDRAM fitting a
 *  chip and the machine's application cores; then every layer takes the
 *  fewest cores that keep the period within slack_percent of that best.
 *  @return 0; SPD_EINVAL (model not built, bad options); SPD_EUNSUPPORTED
 *  (a layer kind, named); SPD_ENOFIT (diagnostic names the layer, what it
 *  needs and what the machine has); SPD_ENOMEM. On failure *out is untouched.
 *  On success *out is owned by the caller (spd_machine_graph_free); it keeps
 *  no pointer into @p model or @p machine. */
int spd_partition_dense(spd_ctx_t *ctx, const spd_model_t *model, const spd_machine_t *machine,
                        const spd_partition_opts_t *opts, spd_machine_graph_t **out);

/** Cut any supported model: Dense chains as spd_partition_dense (the same
 *  graph), and chains of Conv1D/Conv2D, MaxPooling/AveragePooling 1D/2D
 *  (an Activation after a linear convolution folded in, Dropout passed
 *  through, ZeroPadding2D folded into its Conv2D) ending in Flatten or a
 *  global pooling and Dense layers (docs/conv-on-machine.md), or graphs of
 *  those window layers joined by Add (docs/dag-on-machine.md).
 *  Errors as spd_partition_dense; a convolution needing input-channel
 *  splitting (its one-row tile does not fit a core) fails naming the layer. */
int spd_partition_model(spd_ctx_t *ctx, const spd_model_t *model, const spd_machine_t *machine,
                        const spd_partition_opts_t *opts, spd_machine_graph_t **out);

/** The conv/pool tiling of model layer @p layer, or NULL. */
const spd_conv_tiling_t *spd_machine_graph_conv_tiling(const spd_machine_graph_t *g, int layer);

/** Input rows [lo, lo+n) (clipped to the input) that output rows @p out of a
 *  window layer read: stride, padding before and dilation as in fx_conv. */
spd_range_t spd_conv_input_rows(spd_range_t out, uint32_t stride, uint32_t k, uint32_t dil,
                                uint32_t pad_before, uint32_t in_h);

void spd_machine_graph_free(spd_machine_graph_t *g);

/** The tiling of model layer @p layer, or NULL. */
const spd_layer_tiling_t *spd_machine_graph_tiling(const spd_machine_graph_t *g, int layer);

/** "tile (1,2) of layer 'dense'" into @p buf: how diagnostics name a vertex. */
void spd_vertex_describe(const spd_machine_graph_t *g, uint32_t v, char *buf, size_t size);

#endif
