/* spd_fit, spd_evaluate and spd_predict (spindle/api.h): the options choose
 * one of the engines (float or fixed point on the host, the machine in
 * either) and the three calls hand the work to it unchanged. */
#include "spindle/api.h"

#include <string.h>

const char *spd_version(void) { return SPINDLE_VERSION_STRING; }
int spd_version_major(void) { return SPINDLE_VERSION_MAJOR; }

const char *spd_backend_name(spd_backend_t b) {
  return b == SPD_BACKEND_REFERENCE ? "reference" : "machine";
}

int spd_backend_parse(const char *name) {
  if (name && !strcmp(name, "machine"))
    return SPD_BACKEND_MACHINE;
  if (name && !strcmp(name, "reference"))
    return SPD_BACKEND_REFERENCE;
  return -1;
}

void spd_run_options_defaults(spd_run_options_t *o) {
  *o = (spd_run_options_t){.backend = SPD_BACKEND_MACHINE, .numeric = SPD_NUMERIC_FLOAT,
                           .batch_size = 32,
                           .loss = SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY};
}

/* One call's view of its options: the context diagnostics go to, the
 * machine (borrowed or made for the call) and the machine's options. */
typedef struct call {
  spd_ctx_t *ctx;
  spd_model_t *model;
  const spd_run_options_t *o;
  spd_machine_t *machine;
  bool own_machine;
  spd_machine_run_opts_t mo;
  spd_machine_stats_t stats;
} call_t;

static bool any_callback(const spd_fit_callbacks_t *cb) {
  return cb->on_epoch_begin_cb || cb->on_batch_cb || cb->on_epoch_end_cb || cb->should_stop_cb;
}

static int open_call(call_t *c, spd_ctx_t *ctx, spd_model_t *m, const spd_run_options_t *o) {
  memset(c, 0, sizeof *c);
  c->ctx = ctx ? ctx : m ? m->ctx : spd_ctx_default();
  c->model = m;
  c->o = o;
  if (!m || !o)
    return spd_ctx_fail(c->ctx, SPD_EINVAL, "spindle: %s is NULL", !m ? "the model" : "the options");
  if (!m->built)
    return spd_ctx_fail(c->ctx, SPD_ESTATE, "the model is not built");
  if (o->backend != SPD_BACKEND_MACHINE && o->backend != SPD_BACKEND_REFERENCE)
    return spd_ctx_fail(c->ctx, SPD_EINVAL, "unknown backend %d (machine or reference)",
                        (int)o->backend);
  if (o->numeric != SPD_NUMERIC_FLOAT && o->numeric != SPD_NUMERIC_FIXED)
    return spd_ctx_fail(c->ctx, SPD_EINVAL, "unknown numeric mode %d (float or fixed)",
                        (int)o->numeric);
  if (o->backend != SPD_BACKEND_MACHINE)
    return 0;
  c->machine = o->machine;
  if (!c->machine) {
    int rc = spd_machine_new(c->ctx, o->machine_name ? o->machine_name : "spinn5", &c->machine);
    if (rc)
      return rc;
    c->own_machine = true;
  }
  if (o->machine_opts)
    c->mo = *o->machine_opts;
  c->mo.numeric = o->numeric;
  c->mo.slots = o->in_flight;
  c->mo.batch_size = o->batch_size;
  c->mo.fixed_run = o->fixed_run ? *o->fixed_run : NULL;
  c->mo.progress = any_callback(&o->callbacks) ? &o->callbacks : NULL;
  c->mo.from_logits = o->from_logits;
  return 0;
}

/* The host engines report to the model's context: the diagnostic moves to
 * the caller's when it is another. */
static int close_call(call_t *c, int rc) {
  if (c->own_machine)
    spd_machine_free(c->machine);
  c->machine = NULL;
  if (rc && c->model && c->model->ctx && c->ctx != c->model->ctx &&
      c->model->ctx->last_error == rc) {
    c->ctx->last_error = rc;
    memcpy(c->ctx->diag, c->model->ctx->diag, sizeof c->ctx->diag);
  }
  return rc;
}

static spd_machine_stats_t *stats_of(call_t *c) {
  return c->o->stats ? c->o->stats : &c->stats;
}

int spd_fit(spd_ctx_t *ctx, spd_model_t *m, const spd_fit_data_t *train,
            const spd_fit_config_t *cfg, const spd_run_options_t *opts,
            spd_history_t *history) {
  call_t c;
  int rc = open_call(&c, ctx, m, opts);
  if (!rc && (!train || !cfg))
    rc = spd_ctx_fail(c.ctx, SPD_EINVAL, "spd_fit: %s is NULL",
                      !train ? "the training data" : "the fit config");
  if (rc)
    return close_call(&c, rc);
  spd_fit_config_t run = *cfg;
  if (any_callback(&opts->callbacks))
    run.callbacks = opts->callbacks;
  bool fixed = opts->numeric == SPD_NUMERIC_FIXED;
  spd_fixed_run_t *trained = NULL;
  spd_fixed_run_t **keep = fixed && opts->fixed_run ? &trained : NULL;
  if (opts->backend == SPD_BACKEND_MACHINE) {
    c.mo.progress = NULL; /* training reports through the config's callbacks */
    c.mo.fixed_run = NULL;
    c.mo.batch_size = run.batch_size;
    rc = spd_machine_fit_run(c.ctx, m, c.machine, &c.mo, &run, train, history, stats_of(&c),
                             keep);
  } else if (fixed) {
    rc = spd_fit_fixed(m, &run, train, history, keep);
  } else {
    rc = spd_fit_float(m, &run, train, history);
  }
  if (opts->fixed_run && (!rc || trained)) {
    spd_fixed_run_free(*opts->fixed_run);
    *opts->fixed_run = trained;
  }
  return close_call(&c, rc);
}

int spd_evaluate(spd_ctx_t *ctx, spd_model_t *m, const spd_fit_data_t *data,
                 const spd_run_options_t *opts, double *loss, double *accuracy) {
  call_t c;
  int rc = open_call(&c, ctx, m, opts);
  if (!rc && (!data || !loss || !accuracy))
    rc = spd_ctx_fail(c.ctx, SPD_EINVAL, "spd_evaluate: %s is NULL",
                      !data ? "the data" : "an output");
  if (rc)
    return close_call(&c, rc);
  size_t batch = opts->batch_size ? opts->batch_size : 32;
  const spd_fit_callbacks_t *cb = any_callback(&opts->callbacks) ? &opts->callbacks : NULL;
  if (opts->backend == SPD_BACKEND_MACHINE) {
    rc = spd_evaluate_check(c.ctx, opts);
    if (!rc)
      rc = spd_machine_evaluate(c.ctx, m, c.machine, &c.mo, data, loss, accuracy,
                                stats_of(&c));
  } else if (opts->numeric == SPD_NUMERIC_FIXED) {
    rc = spd_evaluate_fixed(m, opts->fixed_run ? *opts->fixed_run : NULL, opts->loss,
                            opts->from_logits, batch, data, cb, loss, accuracy);
  } else {
    rc = spd_evaluate_float(m, opts->loss, opts->from_logits, batch, data, cb, loss, accuracy);
  }
  return close_call(&c, rc);
}

int spd_evaluate_check(spd_ctx_t *ctx, const spd_run_options_t *opts) {
  /* The loss core computes sparse cross-entropy of the softmax output (its
   * own softmax of a linear one's logits, from_logits; spd_machine_evaluate
   * checks the output layer). */
  if (opts && opts->backend == SPD_BACKEND_MACHINE &&
      opts->loss != SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY)
    return spd_ctx_fail(ctx ? ctx : spd_ctx_default(), SPD_EUNSUPPORTED,
                        "the machine computes sparse_categorical_crossentropy, not %s",
                        spd_loss_name(opts->loss));
  return 0;
}

int spd_predict(spd_ctx_t *ctx, spd_model_t *m, const spd_fit_data_t *data,
                const spd_run_options_t *opts, float *out) {
  call_t c;
  int rc = open_call(&c, ctx, m, opts);
  if (!rc && (!data || !out))
    rc = spd_ctx_fail(c.ctx, SPD_EINVAL, "spd_predict: %s is NULL",
                      !data ? "the data" : "the output");
  if (rc)
    return close_call(&c, rc);
  size_t batch = opts->batch_size ? opts->batch_size : 32;
  const spd_fit_callbacks_t *cb = any_callback(&opts->callbacks) ? &opts->callbacks : NULL;
  if (opts->backend == SPD_BACKEND_MACHINE)
    rc = spd_machine_predict(c.ctx, m, c.machine, &c.mo, data, out, stats_of(&c));
  else if (opts->numeric == SPD_NUMERIC_FIXED)
    rc = spd_predict_fixed(m, opts->fixed_run ? *opts->fixed_run : NULL, batch, data, cb, out);
  else
    rc = spd_predict_float(m, batch, data, cb, out);
  return close_call(&c, rc);
}
