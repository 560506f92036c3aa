/* Building a machine graph (partition.h): growing arrays of vertices and
 * partitions, and the pacing of every partition once the graph is whole. */
#ifndef SPINDLE_MAP_MACHINE_GRAPH_H
#define SPINDLE_MAP_MACHINE_GRAPH_H

#include "spindle/partition.h"

/** An empty graph for @p opts. @return 0 or SPD_ENOMEM. */
int spd__graph_new(spd_ctx_t *ctx, const spd_partition_opts_t *opts, int n_dense,
                   spd_machine_graph_t **out);

/** Append a vertex; its index in @p index. @return 0 or SPD_ENOMEM. */
int spd__graph_add_vertex(spd_machine_graph_t *g, const spd_vertex_t *v, uint32_t *index);

/** Append a partition from @p source named @p name carrying @p values of
 *  layer @p layer's tensor, @p words packets per value, to @p n_targets
 *  vertices (copied). @return 0 or SPD_ENOMEM. */
int spd__graph_add_partition(spd_machine_graph_t *g, uint32_t source, const char *name, int layer,
                             spd_range_t values, uint32_t words, const uint32_t *targets,
                             uint32_t n_targets);

/** Entries of vertex @p v's incoming and outgoing partition tables: one
 *  per partition it receives and one per partition it sends. */
void spd__graph_tables(const spd_machine_graph_t *g, uint32_t v, uint32_t *n_in, uint32_t *n_out);

/** Add to every vertex's DTCM what spd_kc_init allocates for its partition
 *  tables (base/tile_mem.h); @return the largest vertex DTCM after, and in
 *  @p over_tables the largest tables of a vertex now above @p budget. */
uint32_t spd__graph_add_tables(spd_machine_graph_t *g, uint32_t budget, uint32_t *over_tables);

/* The end-to-end resend's requests (kernel_common.c): a "nack" partition
 * from every vertex that receives to every vertex that sends to it, one
 * packet when a receiver asks again. No traffic in a run that loses
 * nothing; the pacing counts none. */
int spd__graph_add_nacks(spd_machine_graph_t *g);

/** Run @p once (a partitioner) and, while a vertex's DTCM with its
 *  partition tables exceeds the budget, again with those tables kept back
 *  from every vertex's budget (four rounds at most; the placer names a
 *  vertex that still does not fit). */
typedef int (*spd__partition_fn)(spd_ctx_t *ctx, const spd_model_t *model,
                                 const spd_machine_t *machine, const spd_partition_opts_t *opts,
                                 spd_machine_graph_t **out);
int spd__partition_fit_tables(spd_ctx_t *ctx, const spd_model_t *model,
                              const spd_machine_t *machine, const spd_partition_opts_t *opts,
                              spd__partition_fn once, spd_machine_graph_t **out);

/** Set every partition's pace (least cycles between sends: the sender's own
 *  cost, a link's packet time, and each receiver's handling time for all
 *  packets of that kind spread over this partition's packets) and every
 *  vertex's period (the largest of its busy cycles, its DMA time and its
 *  paced sends).
 *  @return 0 or SPD_ENOMEM. */
int spd__graph_pace(spd_machine_graph_t *g, const uint64_t *dma_cycles);

#endif
