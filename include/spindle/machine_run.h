/* Running a model on a SpiNNaker machine (the emulator behind the
 * transceiver, docs/dense-on-machine.md): partition, place, route and
 * minimise, write every core's data specification (docs/dataspec.md) and
 * the samples through the transceiver, load the kernels, run, and read
 * the sink's records back. The host computes no forward pass: it writes
 * data and reads results. Every run checks and reports dropped packets. */
#ifndef SPINDLE_MACHINE_RUN_H
#define SPINDLE_MACHINE_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "spindle/context.h"
#include "spindle/fit.h"
#include "spindle/fit_fixed.h"
#include "spindle/machine.h"
#include "spindle/model.h"
#include "spindle/numerics.h"
#include "spindle/place.h"
#include "spindle/transceiver.h"

/** Fault injection: application core @c p of chip (x, y) dies once its
 *  kernel has finished @c after samples (spd_emu_kill_core). */
typedef struct spd_core_kill {
  bool on;
  int x, y, p;
  uint64_t after;
} spd_core_kill_t;

typedef struct spd_machine_run_opts {
  spd_numeric_t numeric;     /* float (0) or fixed */
  uint32_t slots;            /* samples in flight, a power of two (0: 2) */
  uint32_t pace_percent;     /* paces spread over the busiest shared core
                                and link, times this / 100 (0: 125) */
  uint32_t slack_percent;    /* the partitioner's slack (0: 400 inference,
                                100 training): the loaded paces, not the
                                grid, set the rate, and fewer cores send
                                fewer packets (docs/dense-on-machine.md) */
  size_t batch_size;         /* fixed: the calibration batch (0: 32) */
  spd_placer_fn placer;      /* NULL: spd_place */
  uint32_t max_cores;        /* cap on cores (0: the machine's) */
  const spd_fixed_run_t *fixed_run; /* fixed inference: run this trained
                                network's integers with its plan (as
                                spd_evaluate_fixed does with a run) instead
                                of quantising the model and calibrating a
                                plan on the first batch (NULL) */
  double inject_drops;       /* fault injection: each router drops one copy
                                of a packet it routes with this probability
                                (0: none), seeded by fault_seed; the monitors'
                                reinjection brings them back */
  uint64_t fault_seed;
  spd_core_kill_t kill;      /* fault injection: a core that dies mid-run;
                                the run finds it, moves its work to a
                                spare core and goes on (docs/recovery.md) */
  spd_transceiver_open_fn open_transceiver; /* how the run reaches its
                                machine (NULL: an in-process emulated board,
                                spd_transceiver_open_emulated), called with
                                open_ud (validation after each epoch
                                needs a second machine: refused with one) */
  void *open_ud;
  const spd_fit_callbacks_t *progress; /* inference: on_batch_cb after every
                                batch_size samples (0: 32) the sink has
                                recorded, with the running mean loss and
                                accuracy (NULL: none); non-zero stops the
                                run (SPD_ESTATE); should_stop_cb is polled
                                after every slice of simulated time (10 ms)
                                and true stops it (SPD_EINTERRUPTED) */
  void (*on_loaded)(void *ud, spd_transceiver_t *tx); /* called once every
                                kernel is loaded, before the machine starts
                                (NULL: not); make bench-calibrate watches the
                                emulator behind @p tx from there */
  void *on_loaded_ud;
  FILE *pace_report;         /* where each partition's pace and what set it
                                go after the run (docs/conv-on-machine.md,
                                "Where the time goes"; NULL: nowhere) */
  bool from_logits;          /* evaluate: the linear output layer gives logits
                                and the loss core takes their softmax for the
                                cross-entropy (Keras's from_logits=True); the
                                outputs recorded stay the logits. Training
                                takes it from spd_fit_config_t */
  void (*on_provenance)(void *ud, spd_transceiver_t *tx, uint32_t attempt,
                        const spd_core_provenance_t *cores, uint32_t n); /* called
                                at the end of every attempt (0, then 1 after
                                a recovery, ...) with every loaded core's
                                provenance as read back from its region
                                (docs/provenance.md; NULL: not), the
                                transceiver still open */
  void *on_provenance_ud;
  uint64_t slice_ps;         /* simulated time between two looks of the host
                                at the sink's records (0: 10 ms); the sink
                                waits when its ring of records is full of
                                ones the host has not read */
} spd_machine_run_opts_t;

/** What the run cost on the machine (the report's hardware fields). */
typedef struct spd_machine_stats {
  char machine[64];
  spd_numeric_t numeric;
  uint32_t chips_used, cores_used, max_router_entries;
  uint32_t samples_in_flight;        /* the slots the pipeline ran with */
  uint64_t samples;
  uint64_t packets_sent, packets_dropped;
  uint64_t packets_reinjected;       /* dropped and sent again by a monitor */
  uint64_t packets_lost;             /* copies dropped and not reinjected */
  uint64_t packets_resent;           /* sent again, end to end, as receivers asked */
  uint32_t cores_failed;             /* cores found dead while the run went on */
  uint32_t recoveries;               /* times the run went on after one, or
                                        after packets lost for good stalled it */
  char failure[320];                 /* the last recovery's cause: a dead
                                        core and where its work went, or a
                                        stall ("" if none) */
  bool completed;                    /* every core finished its samples */
  double simulated_seconds;          /* from start to the last core's exit */
  double simulated_samples_per_second;
  double energy_joules;
  double host_seconds;               /* wall time of the whole run */
  /* The board's roofline for this mapping (docs/emulator.md "Roofline"):
   * the least, over every core (compute and packet handling), router and
   * link, of the samples per second it could serve from the mapped
   * model's per-sample counts and the cost table's capacities, and the
   * resource that sets it, e.g. "link (2,3)->(3,3) E" ("" if none). */
  double roofline_samples_per_second;
  char binding_resource[96];
  double roofline_core_samples_per_second;   /* the busiest core's bound */
  double roofline_router_samples_per_second; /* the busiest router's */
  double roofline_link_samples_per_second;   /* the busiest link's */
  double host_samples_per_second;    /* samples per wall second of the run */
  double energy_per_sample_joules;
  spd_provenance_summary_t provenance; /* the kernels' counters, read back
                                        from their regions, summed */
} spd_machine_stats_t;

/** Per-sample results read from the sink. */
typedef struct spd_machine_results {
  float *outputs;      /* n x outputs, or NULL when not wanted */
  double *loss;        /* n: per-sample loss (sparse cross-entropy), or NULL */
  int32_t *predicted;  /* n: argmax of the outputs (first maximum), or NULL */
} spd_machine_results_t;

/** Run @p m forward over every sample of @p data on @p machine and fill
 *  @p res (arrays owned by the caller). Fixed point: the plan is calibrated
 *  on the first batch (min(batch_size, n) samples) as spd_evaluate_fixed
 *  does, so the outputs are bit-identical to the reference's fixed mode.
 *  @return 0; SPD_EUNSUPPORTED (a layer the machine path lacks, named);
 *  SPD_ENOFIT (mapping); SPD_EKERNEL (a core failed: its diagnostic);
 *  SPD_ETIMEOUT; SPD_EDROPPED when any packet was dropped (the count is
 *  in @p stats and the diagnostic; results are then not trusted);
 *  SPD_ENOMEM. */
int spd_machine_forward(spd_ctx_t *ctx, const spd_model_t *m, const spd_machine_t *machine,
                        const spd_machine_run_opts_t *opts, const spd_fit_data_t *data,
                        spd_machine_results_t *res, spd_machine_stats_t *stats);

/** Mean sparse categorical cross-entropy and accuracy over @p data (integer
 *  labels, softmax output). */
int spd_machine_evaluate(spd_ctx_t *ctx, const spd_model_t *m, const spd_machine_t *machine,
                         const spd_machine_run_opts_t *opts, const spd_fit_data_t *data,
                         double *loss, double *accuracy, spd_machine_stats_t *stats);

/** Outputs for every sample (data->n x output size floats, caller's). */
int spd_machine_predict(spd_ctx_t *ctx, const spd_model_t *m, const spd_machine_t *machine,
                        const spd_machine_run_opts_t *opts, const spd_fit_data_t *data,
                        float *out, spd_machine_stats_t *stats);

/** Train @p m on @p train on the machine in fixed point (sparse categorical
 *  cross-entropy after a softmax output; SGD with or without momentum,
 *  Adam, RMSprop): every epoch's shuffled order, forward, loss, backward
 *  and a batch-boundary update inside every tile and reducer, as
 *  spd_fit_fixed does on the host, whose trained weights it reproduces bit
 *  for bit. The trained master weights are written back into the model's
 *  float parameters; @p history gets per-epoch mean loss and accuracy. */
int spd_machine_fit(spd_ctx_t *ctx, spd_model_t *m, const spd_machine_t *machine,
                    const spd_machine_run_opts_t *opts, const spd_fit_config_t *cfg,
                    const spd_fit_data_t *train, spd_history_t *history,
                    spd_machine_stats_t *stats);

/** spd_machine_fit that, in fixed point and with @p run_out not NULL, also
 *  keeps the trained network (the training's plan, the trained master and
 *  MAC-loop weights) in *run_out, as spd_fit_fixed does: pass it as
 *  opts->fixed_run to evaluate on the machine, or to spd_evaluate_fixed, on
 *  exactly the trained integers.
 *
 *  cfg->callbacks are called while the machine runs, as the host reads the
 *  sink's records through the transceiver: epoch begin, each batch with the
 *  epoch's running mean loss and accuracy, epoch end with the epoch's logs
 *  (host seconds included). A batch callback returning non-zero stops the
 *  machine: SPD_ESTATE; should_stop_cb returning true after any slice of
 *  simulated time stops it too: SPD_EINTERRUPTED (the last epoch's
 *  checkpoint stays).
 *
 *  cfg->checkpoint_dir: after every epoch the cores' weights and optimizer
 *  slabs are read back and written as a checkpoint (docs/formats.md,
 *  "Training checkpoints", backend "machine"). cfg->resume: the run goes on
 *  from that checkpoint (whole epochs only: SPD_EUNSUPPORTED otherwise), its
 *  cores starting from its weights and slabs; in fixed point bit for bit,
 *  and from a fixed-point checkpoint of either backend. With cfg->validation, the validation samples run
 *  forward on the machine after each epoch with that epoch's weights (read
 *  from SDRAM), filling the logs' val_loss and val_accuracy as
 *  spd_fit_fixed / spd_fit do. */
int spd_machine_fit_run(spd_ctx_t *ctx, spd_model_t *m, const spd_machine_t *machine,
                        const spd_machine_run_opts_t *opts, const spd_fit_config_t *cfg,
                        const spd_fit_data_t *train, spd_history_t *history,
                        spd_machine_stats_t *stats, spd_fixed_run_t **run_out);

#endif
