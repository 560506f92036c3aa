/* What `train`, `evaluate` and `predict` share: the model (and initial
 * weights), the dataset turned into fit data of the model's input shape,
 * the loss, the progress bar callbacks and the checks of output paths, all
 * done before any long work so a bad input fails at once. */
#ifndef SPINDLE_CLI_SESSION_H
#define SPINDLE_CLI_SESSION_H

#include <stdbool.h>

#include "cli/options.h"
#include "cli/progress.h"
#include "spindle/api.h"
#include "spindle/board.h"
#include "spindle/compile.h"
#include "spindle/dataset.h"
#include "spindle/fit.h"
#include "spindle/fit_fixed.h"
#include "spindle/machine_run.h"

/* The kernels' provenance of the machine run the report describes
 * (docs/provenance.md): every core of its last attempt, and each
 * attempt's sums (a run that recovered had several). */
#define SPD_CLI_PROV_ATTEMPTS 16u
typedef struct spd_cli_provenance {
  spd_core_provenance_t *cores;
  uint32_t n;
  uint32_t attempts;
  spd_provenance_summary_t attempt[SPD_CLI_PROV_ATTEMPTS];
} spd_cli_provenance_t;

typedef struct spd_cli_session {
  spd_ctx_t ctx;
  const char *command;
  const spd_cli_options_t *opt;
  spd_model_t *model;
  spd_dataset_t *dataset;
  spd_fit_data_t train, test;
  float *input_x;                /* --input: the samples, channels last (owned) */
  int32_t *input_y;              /* --input: placeholder labels, all 0 (owned) */
  spd_loss_kind_t loss;          /* --loss, the model file's, or Keras's choice */
  bool from_logits;              /* the model file's loss takes raw scores */
  double start;                  /* monotonic seconds when the command began */
  spd_progress_t bar;            /* the current Keras-style bar */
  int epochs;
  spd_fixed_run_t *fixed_run;    /* --numeric fixed: the trained fixed-point net */
  spd_machine_t *machine;        /* --backend machine: the emulated machine */
  bool has_hardware;             /* hardware holds the machine run's figures */
  bool kill_spent;               /* --kill-core was the training run's (train
                                    evaluates its test split on a new machine) */
  spd_machine_stats_t hardware;
  spd_udp_opts_t board;          /* --board: how the runs reach the board */
  spd_cli_provenance_t prov;     /* the machine run's provenance (cli/provenance.c) */
} spd_cli_session_t;

/** Check the options, output paths and backend, load the model (weights)
 *  and the data. Prints the problem on stderr.
 *  @return 0, or the exit status (1 bad input, 2 bad usage); on failure the
 *  session holds nothing to close. */
int spd_cli_session_open(spd_cli_session_t *s, const char *command,
                         const spd_cli_options_t *opt);
void spd_cli_session_close(spd_cli_session_t *s);

/** Print "spindle CMD: <diagnostic of the context>" and return 1; after
 *  SIGINT or SIGTERM, spd_cli_session_interrupted's line and status. */
int spd_cli_session_fail(spd_cli_session_t *s);

/** End a bar left mid-line, print that the command was interrupted (where
 *  the training stopped, when the library said) and return 130 or 143. */
int spd_cli_session_interrupted(spd_cli_session_t *s);

/** Progress callbacks drawing Keras's bar on stdout for @p s; they stop
 *  the run at the next batch boundary after SIGINT or SIGTERM. */
spd_fit_callbacks_t spd_cli_session_progress(spd_cli_session_t *s);

/** What an inference batch callback returns: non-zero after a signal on
 *  the host executor, which polls only that; the machine polls
 *  should_stop_cb after every slice instead (and says where it stopped). */
int spd_cli_stop_inference(const spd_cli_session_t *s);

/** Evaluate on the test split with a bar (in fixed point with --numeric
 *  fixed, on the trained run if there is one; on the machine the bar
 *  follows the sink's records); prints nothing else. */
int spd_cli_session_evaluate(spd_cli_session_t *s, double *loss, double *accuracy);

/** Outputs for the test split (test.n x outputs floats) on the session's
 *  backend, @p cb's batch callback drawing the progress; prints the
 *  diagnostic on failure. @return 0 or the exit status. */
int spd_cli_session_predict(spd_cli_session_t *s, const spd_fit_callbacks_t *cb, float *out);

/** The machine's further options of the session: fault injection and how
 *  the runs reach the machine (--board). */
spd_machine_run_opts_t spd_cli_session_machine_opts(const spd_cli_session_t *s);

/** The options of spd_fit / spd_evaluate / spd_predict for the session:
 *  backend, numeric, machine, in flight, batch, loss, the trained fixed-point
 *  run, @p mo (borrowed) and @p cb's callbacks (NULL: none); the machine's
 *  figures go to s->hardware. */
spd_run_options_t spd_cli_session_run_options(spd_cli_session_t *s,
                                              const spd_machine_run_opts_t *mo,
                                              const spd_fit_callbacks_t *cb);
/* cli/provenance.c */
/** spd_machine_run_opts_t.on_provenance: keep the run's provenance in the
 *  session (@p ud). */
void spd_cli_keep_provenance(void *ud, spd_transceiver_t *tx, uint32_t attempt,
                             const spd_core_provenance_t *cores, uint32_t n);
void spd_cli_provenance_free(spd_cli_provenance_t *p);

/** Seconds since the session began. */
double spd_cli_session_seconds(const spd_cli_session_t *s);

#endif
