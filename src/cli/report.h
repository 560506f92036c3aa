/* The report JSON of `train` and `evaluate` (--report FILE): what ran, on
 * which backend, with which hyperparameters, and what it measured. Written
 * atomically, after everything else succeeded, so a failed run leaves no
 * report. The machine backend adds its hardware fields (issue 4) through
 * spd_cli_report_number / _string on the same object. */
#ifndef SPINDLE_CLI_REPORT_H
#define SPINDLE_CLI_REPORT_H

#include <cjson/cJSON.h>

#include "cli/session.h"

/** A report object with the session's common fields (command, model, data,
 *  backend, seed, batch_size, samples, loss_function), or NULL (no memory). */
cJSON *spd_cli_report_new(const spd_cli_session_t *s);

/** Add per-epoch history arrays (train_loss, train_accuracy and, with
 *  validation, val_loss, val_accuracy) and the epoch count. */
void spd_cli_report_history(cJSON *r, const spd_history_t *h);

/** The machine backend's hardware fields (machine, chips_used, cores_used,
 *  max_router_entries, packets_sent, packets_dropped, simulated_seconds,
 *  simulated_samples_per_second, energy_joules) when the session ran one. */
void spd_cli_report_hardware(cJSON *r, const spd_cli_session_t *s);
/** The same figures as two lines on stdout. */
void spd_cli_print_hardware(const spd_cli_session_t *s);

/** The optimizer a run used: optimizer, learning_rate (the initial rate),
 *  lr_schedule (spindle's name), final_learning_rate (the rate of the last
 *  of @p steps steps), momentum, and optimizer_config with every
 *  hyperparameter of its kind and the schedule's arguments. */
void spd_cli_report_optimizer(cJSON *r, const spd_optimizer_config_t *o, int64_t steps);

/** The kernels' provenance (docs/provenance.md): "provenance" with the
 *  totals, the core with the deepest receive queue, each attempt's sums
 *  and every core; printed, the totals and that core (cli/provenance.c). */
void spd_cli_report_provenance(cJSON *r, const spd_cli_session_t *s);
void spd_cli_print_provenance(const spd_cli_session_t *s);

void spd_cli_report_number(cJSON *r, const char *key, double value);
void spd_cli_report_string(cJSON *r, const char *key, const char *value);

/** Write @p r to the session's --report path (if any) atomically and free
 *  it. @return 0 or 1 after a message on stderr. */
int spd_cli_report_write(spd_cli_session_t *s, cJSON *r);

/** A machine run that did not finish: say why (the session's diagnostic),
 *  print the hardware figures it reached and, with --report, write the
 *  report with "completed": false, the error and those figures.
 *  @return the exit status: 1, or 130/143 when a signal stopped it. */
int spd_cli_report_failed_run(spd_cli_session_t *s);

#endif
