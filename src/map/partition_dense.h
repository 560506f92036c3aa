/* The Dense partitioner's internals, shared by the grid search
 * (partition_dense.c) and the graph builder (partition_build.c). */
#ifndef SPINDLE_MAP_PARTITION_DENSE_H
#define SPINDLE_MAP_PARTITION_DENSE_H

#include <stdbool.h>
#include <stdint.h>

#include "map/tile_cost.h"
#include "spindle/partition.h"

/* A Dense layer as the partitioner sees it. */
typedef struct stage {
  int layer;
  const char *name;
  uint32_t in, out;
  spd_activation_t activation;
  bool bias;
} stage_t;

/* One candidate cut of a layer. */
typedef struct config {
  uint32_t R, C;          /* grid */
  uint32_t a, b;          /* largest row and column block */
  spd_tile_memory_t memory;
  uint32_t cores;
  uint64_t period;
  uint32_t dtcm;          /* largest vertex DTCM */
  uint64_t tile_sdram;
} config_t;

/* Canonical block counts: every distinct block size ceil(n / k) once. */
typedef struct blocks {
  uint32_t n;
  uint32_t *count;        /* block counts k, increasing */
} blocks_t;

typedef struct search {
  spd_ctx_t *ctx;
  const spd_partition_opts_t *o;
  const spd_machine_t *m;
  int n;                  /* stages */
  stage_t *st;
  blocks_t *rows, *cols;  /* per stage */
  uint32_t budget;        /* DTCM per vertex */
  uint64_t chip_sdram;    /* largest SDRAM of one chip */
  uint32_t cores;         /* application cores available */
  uint64_t floor;         /* loss and sink periods */
  /* the result of the last feasibility check */
  config_t *cfg;
  uint32_t n_sources;
  uint32_t total_cores;
  int missing;            /* stage with no config, or -1 */
  int *group;             /* group[si]: first stage of the core si shares */
  /* A Dense tail after convolutions (partition_conv.c): stages start at
   * model layer first_layer, the first stage sends dX upstream, and no
   * period below min_period is sought (the convolutions are slower). */
  int first_layer;
  bool dx_first;
  uint64_t min_period;
} search_t;

static inline uint32_t spd__ceil_div(uint64_t a, uint64_t b) {
  return (uint32_t)((a + b - 1) / b);
}
static inline uint64_t spd__max64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/** Do stages a and b share one core (fuse_small)? */
static inline bool spd__same_core(const search_t *S, int a, int b) {
  return b >= 0 && b < S->n && S->group[a] == S->group[b];
}

/** The shape of a rows x cols block of stage @p si cut into @p R row
 *  blocks in @p mem, given the column count of the next stage's cut
 *  (@p c_next, 0 for the last stage). */
spd__tile_shape_t spd__stage_shape(const search_t *S, int si, uint32_t rows, uint32_t cols,
                                   spd_tile_memory_t mem, uint32_t R, uint32_t c_next);

/** Build the graph of the chosen cuts (S->cfg, S->n_sources, S->group).
 *  @return 0, SPD_ENOFIT (SDRAM), SPD_ENOMEM; on failure *out untouched. */
int spd__partition_build(search_t *S, spd_machine_graph_t **out);

/** The checks every partitioner starts with: model, machine and output
 *  given, the model built. A NULL *opts is pointed at @p defaults, filled
 *  with spd_partition_opts_default. @return 0 or SPD_EINVAL (named). */
int spd__partition_args(spd_ctx_t *ctx, const spd_model_t *model, const spd_machine_t *machine,
                        const spd_partition_opts_t **opts, spd_partition_opts_t *defaults,
                        spd_machine_graph_t **out);

/** The Dense layers from model layer @p first_layer on (after a Flatten)
 *  cut for at most @p cores cores, the first one sending dX upstream when
 *  training; its graph still has sources for the flattened input, which the
 *  caller replaces. */
int spd__partition_dense_tail(spd_ctx_t *ctx, const spd_model_t *model, int first_layer,
                              const spd_machine_t *machine, const spd_partition_opts_t *opts,
                              uint32_t cores, uint64_t min_period, spd_machine_graph_t **out);

#endif
