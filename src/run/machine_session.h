/* Inside a run on the machine (spindle/machine_run.h): the state shared by
 * the session (machine_session.c: weights, mapping, the phases in order)
 * and its phases, each one file and the same for every transceiver: load
 * (machine_load.c), start (machine_start.c), stream (machine_stream.c)
 * and read back (machine_readback.c); with recovery (machine_recover.c)
 * and checkpoints (machine_checkpoint.c). Not a public header. */
#ifndef SPINDLE_RUN_MACHINE_SESSION_H
#define SPINDLE_RUN_MACHINE_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "base/tile_mem.h"
#include "io/blob.h"
#include "nn/fx_net_internal.h"
#include "run/checkpoint.h"
#include "run/fit_fixed.h"
#include "map/dataspec.h"
#include "map/pacing.h"
#include "run/machine_pace_report.h"
#include "run/machine_progress.h"
#include "run/machine_updates.h"
#include "spindle/fixed.h"
#include "spindle/machine_run.h"
#include "spindle/emu.h"
#include "spindle/transceiver.h"

/* Simulated time the machine runs between two looks at the sink's records
 * (a sample of the MLP takes about 10 ms on a SpiNN-5). */
#define SLICE_PS 10000000000ull
/* Epochs of results (and optimizer state) kept in SDRAM at once. */
#define RESULT_RING 4u
/* Dead cores a run replaces before it gives up (each needs a spare). */
#define SPD__MAX_RECOVERIES 8u

/* A recovery's state payload: the run goes on from it as from a
 * checkpoint's (machine_recover.c). */
typedef struct spd__mrun_restart {
  spd__blob_t blob;
  spd__blob_reader_t reader;
} spd__mrun_restart_t;

/* One run on the machine: the model and its data, what was mapped and
 * loaded, the transceiver, and (training) the run's state. */
typedef struct mrun {
  spd_ctx_t *ctx;
  const spd_model_t *model;
  const spd_machine_t *machine;
  spd_machine_run_opts_t o;
  const spd_fit_data_t *data;
  uint32_t n, in_size, out_size;
  spd_numeric_plan_t *plan;     /* owned when no fx net */
  spd_fx_net_t *net;            /* fixed: quantised weights and the plan */
  const spd_fx_net_t *trained;  /* fixed inference: opts.fixed_run's net */
  const int16_t **w16;
  const int32_t **bias32;
  const float **wf, **biasf;
  spd_machine_graph_t *g;
  spd_placement_t place;
  spd_map_routing_t routing;
  bool routed;
  spd_transceiver_t *tx;
  uint32_t *addr;               /* per vertex: samples / labels / records */
  uint32_t sink;
  uint32_t ring;                /* records the sink's SDRAM ring holds */
  uint32_t *records;            /* the sink's records as read so far */
  spd__mprogress_t progress;
  /* training */
  const spd_fit_config_t *cfg;  /* NULL: inference */
  spd_model_t *target;          /* the model the results go into */
  uint32_t epochs, steps;       /* steps of the whole run */
  uint32_t *order;              /* epochs x n: the sample of each sequence number */
  uint32_t *update_addr, *result_addr, *order_addr; /* per vertex */
  uint32_t *snap_addr;          /* per vertex: its recovery snapshots */
  uint32_t *prov_addr;          /* per vertex: its provenance region */
  uint32_t attempt;             /* 0, then one more after each recovery */
  uint32_t snap_every;          /* steps between snapshots */
  uint64_t paced_cycles;        /* the slowest vertex's sends of a sample */
  uint32_t *pace;               /* o.pace_report: the loaded paces */
  spd__ds_pace_why_t *why;      /* ... and what set them */
  const int32_t **master;
  /* training checkpoints (docs/training.md "Checkpoints on the machine") */
  uint32_t first_epoch;         /* epochs trained before the run (resumed) */
  uint32_t skip;                /* samples of epoch first_epoch trained before
                                   the run (resumed mid-epoch: a batch
                                   boundary); the run starts there */
  spd__blob_reader_t *resume;   /* the checkpoint's state payload, or NULL */
  spd__ckpt_base_t base;        /* a carried optimizer's steps, shuffle
                                   epochs and samples before this fit */
  float *(*fslab)[2];           /* float: per layer x {kernel, bias}, m and v */
  uint32_t (*state_in)[2], (*state_out)[2]; /* per vertex x {kernel, bias} */
  spd_epoch_logs_t *logs;       /* every epoch's, the checkpoint's history */
  /* recovery from a dead core (machine_recover.c, docs/recovery.md) */
  bool dead;                    /* the watch found core dead_at dead */
  bool stalled;                 /* ... or the run lost packets for good and stalled */
  bool after_stall;             /* this run went on after a stall */
  spd_place_loc_t dead_at;
  spd_placement_t kept;         /* a recovery: the placement to keep (loc
                                   NULL: place afresh) */
  spd_map_tables_t loaded;      /* a recovery: what the routers hold */
  bool has_loaded;
  uint32_t tables_loaded;       /* chips whose table the last load wrote */
  spd__mrun_restart_t *restart; /* a recovery's state (r->resume reads it) */
} mrun_t;

/** Training keeps every epoch's results (SPD_DS_EPOCH_RESULTS) with the
 *  optimizer slabs: validation and checkpoints read them, and a run that
 *  loses a core goes on from the last whole epoch's (machine_recover.c). */
static inline bool spd__mrun_epoch_results(const mrun_t *r) { return r->cfg != NULL; }

/** Does @p m end in the output the loss core's cross-entropy takes: a
 *  softmax, or a linear layer whose logits it takes the softmax of
 *  (@p from_logits)? Training and evaluation ask the same. */
bool spd__mrun_loss_output_ok(const spd_model_t *m, bool from_logits);

/** The linear output layer gives logits and the loss core takes their
 *  softmax (training: the fit's from_logits; inference: the options'). */
bool spd__mrun_from_logits(const mrun_t *r);

/** Samples the run processes: every epoch's (training) or each once. */
static inline uint32_t spd__mrun_samples(const mrun_t *r) {
  return r->cfg ? r->epochs * r->n - r->skip : r->n;
}

/** The numeric plan the run computes with (fixed point). */
static inline const spd_numeric_plan_t *spd__mrun_plan(const mrun_t *r) {
  return r->net ? spd__fx_net_plan(r->net) : r->trained ? spd__fx_net_plan(r->trained) : r->plan;
}

/* machine_session.c */
int spd__mrun_state_read_whole(spd_ctx_t *ctx, const spd__blob_reader_t *s);
uint32_t spd__mrun_epoch_steps(const mrun_t *r);
int spd__mrun_make_order(mrun_t *r);
void spd__mrun_free(mrun_t *r);

/* machine_load.c: phase 1 */
/** Open the transceiver (a recovery keeps its own), load the routing
 *  tables that changed, every vertex's data, data specification and
 *  kernel. */
int spd__mrun_load(mrun_t *r);
uint32_t spd__mrun_result_blocks(const mrun_t *r);
uint32_t spd__mrun_result_stride(const mrun_t *r, const spd_vertex_t *vx);
uint32_t spd__mrun_result_bytes(const mrun_t *r, const spd_vertex_t *vx);
uint32_t spd__mrun_optimizer_state(const mrun_t *r);
int spd__mrun_alloc_write(mrun_t *r, uint32_t v, const void *data, size_t bytes, uint32_t *addr);

/* machine_start.c: phase 2 */
/** The transceiver through the caller's open function (NULL: the
 *  in-process emulated board), with the core kill asked for. */
int spd__mrun_open(mrun_t *r);
/** Start every loaded core. */
int spd__mrun_start(mrun_t *r);

/* machine_stream.c: phase 3 */
/** The run's limit of simulated time. */
uint64_t spd__mrun_timeout_ps(const mrun_t *r);
/** Let the started machine run to the end: records read as they come,
 *  lost packets, dead cores and interrupts acted on. */
int spd__mrun_stream(mrun_t *r);
/** The sink's records completed since the last look into the progress
 *  (@p all: every remaining one, the run is over). */
int spd__mrun_read_records(mrun_t *r, bool all);
/** Records [@p first, @p first + @p count) of the sink's ring into @p out
 *  (count at most the ring's; a slot holds the record its tag names). */
int spd__mrun_sink_read(mrun_t *r, uint32_t first, uint32_t count, uint32_t *out);

/* machine_readback.c: phase 4 */
/** After the stream ended with @p err: a timeout explained, the counters
 *  into @p stats; on success every core must have finished its samples
 *  and the last records are read. @return @p err or the first failure. */
int spd__mrun_read_back(mrun_t *r, int err, spd_machine_stats_t *stats);
/** Every loaded core's provenance region read back into @p stats' summary
 *  and handed to opts.on_provenance. */
int spd__mrun_read_provenance(mrun_t *r, spd_machine_stats_t *stats);
/** The sink's records as outputs, losses and predictions. */
void spd__mrun_decode(const mrun_t *r, spd_machine_results_t *res);
/** Whether every vertex with results has sealed (local) epoch @p epoch's
 *  block; *overwritten gets a later epoch's marker found there (0: none),
 *  the ring having moved past it. */
int spd__mrun_epoch_sealed(mrun_t *r, uint32_t epoch, bool *sealed, uint32_t *overwritten);
int spd__mrun_wait_sealed(mrun_t *r, uint32_t epoch);
int spd__mrun_read_results(mrun_t *r, spd_model_t *m, uint32_t epoch);
/** One block's trained masters (@p which 0 kernel, 1 bias) into the model
 *  and, in fixed point, the net. */
void spd__mrun_keep_block(mrun_t *r, spd_model_t *m, const spd_vertex_t *vx, int which,
                          const int32_t *w);

/* machine_checkpoint.c */
int spd__mrun_alloc_state(mrun_t *r, uint32_t v);
uint32_t spd__mrun_state_bytes(const mrun_t *r, const spd_vertex_t *vx, int which);
int spd__mrun_machine_resume(mrun_t *r, spd_numeric_t numeric, spd__blob_reader_t *state);
int spd__mrun_float_slabs(mrun_t *r);
int spd__mrun_float_get_state(mrun_t *r, spd__blob_reader_t *in);
int spd__mrun_checkpoint_epoch(void *ud, uint32_t epoch);
int spd__mrun_epoch_state(mrun_t *r, uint32_t epoch, spd__blob_t *state);
/** Bytes of a vertex's snapshot (masters and slabs of its blocks, without
 *  the seal; 0: it trains nothing). */
uint32_t spd__mrun_snap_bytes(const mrun_t *r, const spd_vertex_t *vx);
/** The state after @p steps local steps from the snapshots into the
 *  model, the host's tensors and @p state (initialised here), as
 *  spd__mrun_epoch_state does from an epoch's results. */
int spd__mrun_snapshot_state(mrun_t *r, uint32_t steps, spd__blob_t *state);

/* machine_recover.c */
/** The watch found core r->dead_at dead (or the run stalled on packets
 *  lost for good) and stopped the machine: @p next becomes the run that
 *  goes on from the last epoch whose results every core sealed (from the
 *  start when none has), with the dead core's vertices on a spare core and
 *  the rest where they were, on the same machine; @p r is freed (its transceiver and tables go to @p next).
 *  @p note gets where the work went and where the run goes on from.
 *  @return 0; SPD_ENOFIT when no spare core is left; SPD_ENOMEM. */
int spd__mrun_recover(mrun_t *r, mrun_t *next, char *note, size_t note_size);

#endif
