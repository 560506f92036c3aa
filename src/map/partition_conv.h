/* The convolution partitioner's shared state (partition_conv.c: the search
 * for each window layer's cut; partition_conv_build.c: the machine graph of
 * the chosen cuts). Internal to map/. */
#ifndef SPINDLE_MAP_PARTITION_CONV_H
#define SPINDLE_MAP_PARTITION_CONV_H

#include <stdbool.h>
#include <stdint.h>

#include "base/tile_mem.h"
#include "map/machine_graph.h"
#include "map/tile_cost.h"
#include "spindle/partition.h"

typedef struct wstage {
  int layer;
  const char *name;
  spd_layer_kind_t kind;
  bool pool, max, bias;
  spd_activation_t act;
  uint32_t in_h, in_w, in_c, out_h, out_w, out_c;
  uint32_t k_h, k_w, s_h, s_w, d_h, d_w, pad_t, pad_l;
  int fused;      /* conv: stage index of its fused pooling, or -1 */
  int fused_into; /* pooling: stage index of its convolution, or -1 */
  /* graphs (docs/dag-on-machine.md): the stages whose output it reads
   * (-1: the model input), in its inbound order; an Add sums them. */
  bool add;
  int n_src;
  int src[SPD_MAX_INBOUND];
} wstage_t;

typedef struct wcut {
  uint32_t R, C; /* row blocks (of the pooled rows when fused), channel blocks */
  uint32_t Q;    /* column blocks (of the pooled columns when fused) */
  spd_tile_memory_t mem;
  uint32_t cores, dtcm;
  uint64_t period, sdram;
  bool unread;   /* a tile sends nothing: no reader reads any of its rows */
} wcut_t;

typedef struct csearch {
  spd_ctx_t *ctx;
  const spd_partition_opts_t *o;
  const spd_machine_t *m;
  uint32_t budget, cores;
  uint64_t chip_sdram;
  int n;
  wstage_t *st;
  wcut_t *cut;
  int tail;               /* model index of the Flatten: the Dense tail starts there */
  uint32_t n_sources;
  int missing;            /* stage with no cut, or -1 */
  uint32_t dense_cols;    /* column blocks of the first Dense layer */
} csearch_t;

/* Block i of n items cut into parts blocks of ceil(n / parts). */
spd_range_t spd__pc_block_of(uint32_t n, uint32_t parts, uint32_t i);
spd_range_t spd__pc_intersect(spd_range_t x, spd_range_t y);
/* Rows a tile of stage si is cut by: the pooled rows when a pooling is fused. */
uint32_t spd__pc_tile_rows_of(const csearch_t *S, int si);
/* A tile's own output rows of its (convolution or pooling) layer. */
spd_range_t spd__pc_own_rows(const csearch_t *S, int si, spd_range_t rows);
/* The input rows output rows @p own of stage @p st read (their halo included). */
spd_range_t spd__pc_need_rows(const wstage_t *st, spd_range_t own);
/* The same for columns: the columns a tile is cut by (pooled when fused),
 * its own columns of its layer, the input columns they read. */
uint32_t spd__pc_tile_cols_of(const csearch_t *S, int si);
spd_range_t spd__pc_own_cols(const csearch_t *S, int si, spd_range_t cols);
spd_range_t spd__pc_need_cols(const wstage_t *st, spd_range_t own);
/* Row block i and column block q of position block p = i * Q + q of a cut. */
spd_range_t spd__pc_block_rows(const csearch_t *S, int si, const wcut_t *cut, uint32_t p);
spd_range_t spd__pc_block_cols(const csearch_t *S, int si, const wcut_t *cut, uint32_t p);
/* The stages (owning tiles) that read stage si's output (the output of
 * its fused pooling), into @p out (SPD_PC_MAX_READERS at most); 0: the
 * Dense tail reads it. */
#define SPD_PC_MAX_READERS 16
int spd__pc_readers(const csearch_t *S, int si, int *out);
/* The stage owning the tiles that compute stage si (its convolution when
 * si is a fused pooling). */
int spd__pc_owner(const csearch_t *S, int si);
/* Weights of a convolution tile of @p b output channels (kernel slice and
 * biases). */
uint64_t spd__pc_tile_weights(const wstage_t *st, uint32_t b);
/* One tile's cost (partition_conv.c, "cost"): tile rows and columns, b
 * channels, of @p blocks position blocks (R x Q: the owner sums the
 * others' dW). */
void spd__pc_cost_tile(const csearch_t *S, int si, spd_range_t rows, spd_range_t cols, uint32_t b,
                       uint32_t blocks, spd_tile_memory_t mem, uint64_t fan,
                       spd__vertex_cost_t *c);
/* Average number of dX partial sums per output value of stage si. */
uint64_t spd__pc_fan_of(const csearch_t *S, int si);
/* The machine graph of the cuts in @p S with the Dense tail @p d. */
int spd__pc_build(csearch_t *S, const spd_machine_graph_t *d, spd_machine_graph_t **out);

/* partition_conv_stages.c: whether the model has window layers (else the
 * Dense partitioner cuts it alone); its window layers into S->st (S->n),
 * poolings fused, the graph checked (refusals name the layer). */
bool spd__pc_model_has_windows(const spd_model_t *m);
int spd__pc_stages(csearch_t *S, const spd_model_t *m);

#endif
