/* spindle's one way to train and run a model: spd_fit, spd_evaluate and
 * spd_predict, each taking a context, a model, data and the options that
 * choose where it runs (the emulated SpiNNaker machine or the host
 * reference executor) and in which arithmetic (float or the kernels' fixed
 * point). The command-line tool and the Python package call only these
 * three; the engines behind them (fit.h, fit_fixed.h, machine_run.h) are
 * internals the shared library does not export. docs/api.md describes the
 * library, its headers and its version. */
#ifndef SPINDLE_API_H
#define SPINDLE_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spindle/context.h"
#include "spindle/fit.h"
#include "spindle/fit_fixed.h"
#include "spindle/machine.h"
#include "spindle/machine_run.h"
#include "spindle/model.h"
#include "spindle/numerics.h"

/* The version of the public header set and of libspindle.so. A change that
 * breaks a caller compiled against an older header raises the major version,
 * which is the shared library's soname (libspindle.so.MAJOR) and its symbol
 * version (SPINDLE_MAJOR); an addition raises the minor. */
#define SPINDLE_VERSION_MAJOR 1
#define SPINDLE_VERSION_MINOR 1
#define SPINDLE_VERSION_PATCH 0
#define SPINDLE_VERSION_STRING "1.1.0"

/** The version of the library that is running (it may differ from the
 *  header's SPINDLE_VERSION_STRING in its minor and patch). */
const char *spd_version(void);
/** SPINDLE_VERSION_MAJOR of the library that is running. */
int spd_version_major(void);

/** Where a run happens. */
typedef enum spd_backend {
  SPD_BACKEND_MACHINE = 0,   /* an emulated SpiNNaker machine (the default) */
  SPD_BACKEND_REFERENCE = 1, /* the host reference executor */
} spd_backend_t;

/** "machine" / "reference"; parse returns -1 if unknown. */
const char *spd_backend_name(spd_backend_t b);
int spd_backend_parse(const char *name);

/** What spd_fit, spd_evaluate and spd_predict are told besides the model
 *  and the data. Zeroed options are valid after spd_run_options_defaults
 *  has set the loss; every pointer is borrowed. */
typedef struct spd_run_options {
  spd_backend_t backend;          /* machine (default) or reference */
  spd_numeric_t numeric;          /* float (default) or fixed */
  /** The machine to run on (SPD_BACKEND_MACHINE): @c machine if set, else
   *  one made for the call from @c machine_name (spd_machine_new's names;
   *  NULL: "spinn5"). */
  spd_machine_t *machine;
  const char *machine_name;
  uint32_t in_flight;             /* machine: samples in flight, a power of
                                     two (0: the machine's default, 2) */
  size_t batch_size;              /* evaluate / predict: samples per batch,
                                     progress step and, in fixed point, the
                                     calibration batch (0: 32); spd_fit takes
                                     its batch from the fit config */
  spd_loss_kind_t loss;           /* evaluate: the loss (fit: the config's) */
  bool from_logits;               /* evaluate: the model outputs raw scores */
  /** Progress (epoch begin, each batch, epoch end) and the stop poll
   *  (should_stop_cb: true stops the run with SPD_EINTERRUPTED, at a batch
   *  boundary on the host, after a slice of simulated time on the
   *  machine). spd_fit uses these when any is set, else the config's. */
  spd_fit_callbacks_t callbacks;
  /** Fixed point: spd_fit stores the trained network here (freeing the one
   *  it held; NULL after a float fit), and spd_evaluate / spd_predict run
   *  *fixed_run's integers with its plan when it is set, instead of
   *  quantising the model's float weights. NULL: none kept. */
  spd_fixed_run_t **fixed_run;
  /** The machine's further options: fault injection, the transceiver (a
   *  board over UDP), pacing, placement (NULL: defaults). Their numeric,
   *  slots, batch_size, progress and fixed_run are replaced by the fields
   *  above. */
  const spd_machine_run_opts_t *machine_opts;
  /** Filled by a machine run, on failure too (what it cost, dropped packets,
   *  recoveries; NULL: not wanted). Untouched on the reference backend. */
  spd_machine_stats_t *stats;
} spd_run_options_t;

/** The machine backend in float on "spinn5", 2 samples in flight, batch 32,
 *  sparse categorical cross-entropy, no callbacks. */
void spd_run_options_defaults(spd_run_options_t *o);

/** Train the built model @p m in place on @p train as Keras's Model.fit
 *  does (docs/training.md), with @p cfg's epochs, batch size, shuffle,
 *  seed, loss, optimizer, validation data, checkpoints and resume.
 *  Diagnostics go to @p ctx (NULL: the model's context).
 *  @param history  filled on success (may be NULL), freed with
 *                  spd_history_free
 *  @return 0; SPD_EINVAL (bad options or config: named), SPD_ESHAPE (data
 *          and model disagree), SPD_EUNSUPPORTED (a layer, loss or
 *          optimizer the chosen backend and numeric lack: named), SPD_ENOFIT
 *          (the model does not fit the machine), SPD_EDROPPED, SPD_EKERNEL,
 *          SPD_ETIMEOUT (machine runs), SPD_ESTATE (a batch callback
 *          stopped it), SPD_EINTERRUPTED (should_stop_cb stopped it: the
 *          weights hold the last completed step on the host, those the
 *          machine started with otherwise; the model stays usable),
 *          SPD_EIO, SPD_EFORMAT (checkpoints), SPD_ENOMEM. */
int spd_fit(spd_ctx_t *ctx, spd_model_t *m, const spd_fit_data_t *train,
            const spd_fit_config_t *cfg, const spd_run_options_t *opts,
            spd_history_t *history);

/** Mean loss and accuracy of @p m over @p data (labelled), inference mode.
 *  The machine computes sparse categorical cross-entropy of a softmax
 *  output: spd_evaluate_check refuses another loss first.
 *  @return as spd_fit. */
int spd_evaluate(spd_ctx_t *ctx, spd_model_t *m, const spd_fit_data_t *data,
                 const spd_run_options_t *opts, double *loss, double *accuracy);

/** Whether @p opts ask spd_evaluate for a loss its backend computes (the
 *  machine: sparse categorical cross-entropy on probabilities), checked
 *  before any run. @return 0 or SPD_EUNSUPPORTED naming the loss. */
int spd_evaluate_check(spd_ctx_t *ctx, const spd_run_options_t *opts);

/** The outputs of @p m for every sample of @p data (labels not needed) into
 *  @p out: data->n x size(output shape) floats, channels last, owned by the
 *  caller (unspecified after a failure). @return as spd_fit. */
int spd_predict(spd_ctx_t *ctx, spd_model_t *m, const spd_fit_data_t *data,
                const spd_run_options_t *opts, float *out);

#endif
