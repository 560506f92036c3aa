/* Keras's mini-batch loop in fixed point: the loop of run/fit.c (same
 * shuffle, batches, means and callbacks) driving the fixed-point reference
 * network (nn/fx_net) instead of the float executor. */
#include "spindle/fit_fixed.h"

#include <math.h>
#include <string.h>

#include "nn/fx_net.h"
#include "run/fit_epoch.h"
#include "run/fit_fixed.h"

struct spd_fixed_run {
  spd_ctx_t *ctx;
  spd_fx_net_t *net;
  int max_batch;
};

/* One batch gathered from the data: samples, sparse labels or target rows,
 * and the outputs for the metric. */
typedef struct fx_batch_buf {
  size_t in_size, out_units, width;
  bool has_targets;
  float *x, *targets, *out;
  int32_t *labels;
} fx_batch_buf_t;

static void buf_free(spd_ctx_t *ctx, fx_batch_buf_t *b) {
  spd_free(ctx, b->x);
  spd_free(ctx, b->targets);
  spd_free(ctx, b->out);
  spd_free(ctx, b->labels);
}

static int buf_alloc(spd_ctx_t *ctx, const spd_model_t *m, const spd_fit_data_t *d, size_t batch,
                     fx_batch_buf_t *b) {
  *b = (fx_batch_buf_t){.in_size = spd_shape_size(&d->sample_shape),
                        .out_units = spd_shape_size(&m->layers[m->output].output_shape),
                        .width = d->y.width, .has_targets = d->y.n != 0};
  b->x = spd_calloc(ctx, batch * b->in_size, sizeof *b->x);
  b->targets = spd_calloc(ctx, batch * (b->width ? b->width : 1), sizeof *b->targets);
  b->out = spd_calloc(ctx, batch * b->out_units, sizeof *b->out);
  b->labels = spd_calloc(ctx, batch, sizeof *b->labels);
  if (!b->x || !b->targets || !b->out || !b->labels) {
    buf_free(ctx, b);
    return spd_ctx_fail(ctx, SPD_ENOMEM, "fixed-point batch buffers for %zu samples", batch);
  }
  return 0;
}

static void gather(const spd_fit_data_t *d, const uint32_t *order, size_t first, size_t count,
                   fx_batch_buf_t *b) {
  for (size_t i = 0; i < count; i++) {
    size_t src = order ? order[first + i] : first + i;
    float *x = b->x + i * b->in_size;
    if (d->x)
      memcpy(x, d->x + src * b->in_size, b->in_size * sizeof *x);
    else
      for (size_t k = 0; k < b->in_size; k++)
        x[k] = (float)d->x_u8[src * b->in_size + k] * d->x_scale;
    if (d->y.n == 0)
      continue;
    if (b->width == 0)
      b->labels[i] = d->y.labels[src];
    else
      memcpy(b->targets + i * b->width, d->y.values + src * b->width, b->width * sizeof(float));
  }
}

static spd_fx_batch_t as_fx_batch(const fx_batch_buf_t *b, size_t count) {
  spd_fx_batch_t fb = {b->x, NULL, NULL, (int)count};
  if (b->has_targets && b->width == 0)
    fb.labels = b->labels;
  else if (b->has_targets)
    fb.targets = b->targets;
  return fb;
}

static spd_targets_t as_targets(const fx_batch_buf_t *b, size_t count) {
  return (spd_targets_t){.n = count, .width = b->width, .labels = b->labels,
                         .values = b->targets};
}

static spd_fx_loss_t fx_loss(spd_loss_kind_t k) {
  switch (k) {
  case SPD_LOSS_MSE:
    return SPD_FX_LOSS_MSE;
  case SPD_LOSS_BINARY_CROSSENTROPY:
    return SPD_FX_LOSS_BCE;
  case SPD_LOSS_CATEGORICAL_CROSSENTROPY:
    return SPD_FX_LOSS_CE;
  default:
    return SPD_FX_LOSS_SPARSE_CE;
  }
}

static spd_metric_kind_t accuracy_kind(const spd_model_t *m, spd_loss_kind_t loss,
                                       const spd_targets_t *y) {
  size_t units = spd_shape_size(&m->layers[m->output].output_shape);
  return spd_metric_resolve_accuracy(units, y->width == 0, loss == SPD_LOSS_BINARY_CROSSENTROPY);
}

int spd__fixed_run_adopt(spd_ctx_t *ctx, spd_fx_net_t *net, int max_batch,
                         spd_fixed_run_t **out) {
  spd_fixed_run_t *run = spd_calloc(ctx, 1, sizeof *run);
  if (!run)
    return spd_ctx_fail(ctx, SPD_ENOMEM, "fixed-point run: out of memory");
  *run = (spd_fixed_run_t){.ctx = ctx, .net = net, .max_batch = max_batch};
  *out = run;
  return 0;
}

const spd_fx_net_t *spd__fixed_run_net(const spd_fixed_run_t *run) { return run->net; }

spd_fx_net_t *spd__fixed_run_release(spd_fixed_run_t *run) {
  spd_fx_net_t *net = run->net;
  run->net = NULL;
  spd_fixed_run_free(run);
  return net;
}

void spd_fixed_run_free(spd_fixed_run_t *run) {
  if (!run)
    return;
  spd__fx_net_free(run->net);
  spd_free(run->ctx, run);
}

uint64_t spd_fixed_run_saturations(const spd_fixed_run_t *run) {
  return spd__fx_net_saturations(run->net);
}

void spd_fixed_run_layer_saturations(const spd_fixed_run_t *run, int layer, uint64_t *forward,
                                     uint64_t *backward) {
  spd__fx_net_layer_saturations(run->net, layer, forward, backward);
}

const spd_numeric_plan_t *spd_fixed_run_plan(const spd_fixed_run_t *run) {
  return spd__fx_net_plan(run->net);
}

/* A run over @p m with the default plan, calibrated on the first @p count
 * samples gathered in @p b. */
static int run_new(spd_model_t *m, spd_loss_kind_t loss, bool from_logits, size_t max_batch,
                   uint64_t seed, const fx_batch_buf_t *b, size_t count, spd_fixed_run_t **out) {
  spd_fixed_run_t *run = spd_calloc(m->ctx, 1, sizeof *run);
  if (!run)
    return spd_ctx_fail(m->ctx, SPD_ENOMEM, "fixed-point run: out of memory");
  *run = (spd_fixed_run_t){.ctx = m->ctx, .max_batch = (int)max_batch};
  spd_numeric_plan_t *plan = NULL;
  int rc = spd_numeric_plan_new(m->ctx, m, &plan);
  if (!rc)
    rc = spd__fx_net_new(m->ctx, m, plan, fx_loss(loss), from_logits, (int)max_batch, seed,
                         &run->net);
  spd_numeric_plan_free(plan);
  if (!rc) {
    spd_fx_batch_t first = as_fx_batch(b, count);
    rc = spd__fx_net_calibrate(run->net, &first, 2);
  }
  if (rc) {
    spd_fixed_run_free(run);
    return rc;
  }
  *out = run;
  return 0;
}

spd_fx_hyper_t spd__fx_hyper_of(const spd_optimizer_config_t *o, int64_t step) {
  spd_fx_opt_t kind = o->kind == SPD_OPT_ADAM      ? SPD_FX_OPT_ADAM
                      : o->kind == SPD_OPT_RMSPROP ? SPD_FX_OPT_RMSPROP
                                                   : SPD_FX_OPT_SGD;
  return (spd_fx_hyper_t){.kind = kind, .lr = spd_lr_schedule_at(&o->learning_rate, step),
                          .momentum = o->momentum, .nesterov = o->nesterov,
                          .centered = o->centered, .beta1 = o->beta_1, .beta2 = o->beta_2,
                          .rho = o->rho, .epsilon = o->epsilon, .step = step};
}

/* State of one fixed training run. */
typedef struct fx_trainer {
  spd_model_t *model;
  const spd_fit_config_t *cfg;
  const spd_fit_data_t *data;
  spd_fixed_run_t *run;
  fx_batch_buf_t buf;
  uint32_t *order;
  spd_metric_kind_t metric;
  int64_t step;
} fx_trainer_t;

static void epoch_order(const fx_trainer_t *t, int epoch) {
  if (t->cfg->shuffle)
    spd_fit_epoch_order(t->cfg->seed, epoch, t->order, (uint32_t)t->data->n);
  else
    for (size_t i = 0; i < t->data->n; i++)
      t->order[i] = (uint32_t)i;
}

static int trainer_init(fx_trainer_t *t, spd_model_t *m, const spd_fit_config_t *cfg,
                        const spd_fit_data_t *d) {
  *t = (fx_trainer_t){.model = m, .cfg = cfg, .data = d,
                      .metric = accuracy_kind(m, cfg->loss, &d->y)};
  size_t batch = cfg->batch_size < d->n ? cfg->batch_size : d->n;
  int rc = buf_alloc(m->ctx, m, d, batch, &t->buf);
  if (rc)
    return rc;
  t->order = spd_calloc(m->ctx, d->n, sizeof *t->order);
  if (!t->order)
    rc = spd_ctx_fail(m->ctx, SPD_ENOMEM, "shuffle order of %zu samples", d->n);
  if (!rc) { /* calibrate on the first batch the training will see */
    epoch_order(t, 0);
    gather(d, t->order, 0, batch, &t->buf);
    rc = run_new(m, cfg->loss, cfg->from_logits, batch, cfg->seed, &t->buf, batch, &t->run);
  }
  if (rc) {
    buf_free(m->ctx, &t->buf);
    spd_free(m->ctx, t->order);
  }
  return rc;
}

static void trainer_free(fx_trainer_t *t) {
  buf_free(t->model->ctx, &t->buf);
  spd_free(t->model->ctx, t->order);
}

static int train_batch(void *trainer, size_t first, size_t count, spd_mean_t *loss,
                       spd_mean_t *acc) {
  fx_trainer_t *t = trainer;
  gather(t->data, t->order, first, count, &t->buf);
  spd_fx_batch_t b = as_fx_batch(&t->buf, count);
  spd_fx_hyper_t h = spd__fx_hyper_of(&t->cfg->optimizer, t->step);
  spd_fx_result_t res = {0};
  int rc = spd__fx_net_train_batch(t->run->net, &b, &h, t->buf.out, &res);
  if (rc)
    return rc;
  t->step++;
  spd_targets_t y = as_targets(&t->buf, count);
  double correct = spd_metric_correct(t->metric, t->buf.out, t->buf.out_units, &y);
  spd_mean_add(loss, res.loss_sum / (double)count, (double)count);
  spd_mean_add(acc, correct / (double)count, (double)count);
  return 0;
}

static void draw_order(void *trainer, int epoch) { epoch_order(trainer, epoch); }

static int validate_epoch(void *trainer, spd_epoch_logs_t *logs) {
  fx_trainer_t *t = trainer;
  const spd_fit_config_t *c = t->cfg;
  logs->has_validation = true;
  return spd_evaluate_fixed(t->model, t->run, c->loss, c->from_logits, c->batch_size,
                            c->validation, NULL, &logs->val_loss, &logs->val_accuracy);
}

static int64_t fixed_step(void *trainer) { return ((fx_trainer_t *)trainer)->step; }

/* The weights a checkpoint's .weights.h5 shows are the masters; the state
 * holds the integers themselves (run/fit_fixed_state.c). */
static int save_state(void *trainer, spd__blob_t *b) {
  fx_trainer_t *t = trainer;
  spd__fx_net_export(t->run->net, t->model);
  spd__blob_put(b, "fixed.step", &t->step, sizeof t->step, 1);
  spd__fx_net_put_state(t->run->net, b);
  return b->err;
}

static int load_state(void *trainer, spd__blob_reader_t *r) {
  fx_trainer_t *t = trainer;
  int rc = spd__blob_get(r, "fixed.step", &t->step, sizeof t->step, 1);
  return rc ? rc : spd__fx_net_get_state(t->run->net, r);
}

static const spd__fit_ops_t fixed_ops = {
    .order_cb = draw_order, .train_batch = train_batch, .validate_cb = validate_epoch,
    .step_cb = fixed_step, .save_state_cb = save_state, .load_state_cb = load_state};

static int check(spd_model_t *m, const spd_fit_config_t *cfg, const spd_fit_data_t *d) {
  if (cfg->epochs < 1 || cfg->batch_size < 1)
    return spd_ctx_fail(m->ctx, SPD_EINVAL, "epochs and batch_size must be >= 1");
  if (!m->built || d->n == 0 || d->n > UINT32_MAX || !d->x == !d->x_u8 || d->y.n != d->n)
    return spd_ctx_fail(m->ctx, SPD_EINVAL,
                        "fixed-point fit: the model must be built and the data need "
                        "1..2^32-1 samples, one of x and x_u8, and one target each");
  if (!spd_shape_equal(&m->layers[0].output_shape, &d->sample_shape))
    return spd_ctx_fail(m->ctx, SPD_ESHAPE, "the model's input and the samples differ in shape");
  /* a carried optimizer's schedule goes on from its step */
  int rc = spd_fx_optimizer_check(m->ctx, &cfg->optimizer, spd__checkpoint_last_step(cfg, d->n));
  return rc ? rc : spd_loss_check(m->ctx, cfg->loss, m, &d->y);
}

int spd_fit_fixed(spd_model_t *m, const spd_fit_config_t *cfg, const spd_fit_data_t *train,
                  spd_history_t *history, spd_fixed_run_t **run_out) {
  int rc = check(m, cfg, train);
  if (rc)
    return rc;
  spd_epoch_logs_t *logs = spd_calloc(m->ctx, (size_t)cfg->epochs, sizeof *logs);
  if (!logs)
    return spd_ctx_fail(m->ctx, SPD_ENOMEM, "history of %d epochs", cfg->epochs);
  fx_trainer_t t;
  if ((rc = trainer_init(&t, m, cfg, train))) {
    spd_free(m->ctx, logs);
    return rc;
  }
  spd__ckpt_run_t run = {.backend = "reference", .numeric = SPD_NUMERIC_FIXED, .model = m,
                         .cfg = cfg, .train = train, .history = logs};
  rc = spd__fit_loop(&run, &fixed_ops, &t);
  trainer_free(&t);
  if (!rc)
    spd__fx_net_export(t.run->net, m);
  if (rc || !run_out)
    spd_fixed_run_free(t.run);
  else
    *run_out = t.run;
  if (rc || !history) {
    spd_free(m->ctx, logs);
    return rc;
  }
  *history = (spd_history_t){.ctx = m->ctx, .n_epochs = cfg->epochs, .epochs = logs};
  return 0;
}

typedef struct fx_eval {
  spd_fixed_run_t *run;
  fx_batch_buf_t buf;
  spd_metric_kind_t metric;
  spd_mean_t loss, acc;
} fx_eval_t;

/* Forward every sample in order; with @p predictions the outputs go there,
 * otherwise loss and accuracy are accumulated. */
static int eval_batches(spd_model_t *m, fx_eval_t *e, size_t batch, const spd_fit_data_t *data,
                        const spd_fit_callbacks_t *cb, float *predictions) {
  size_t steps = (data->n + batch - 1) / batch;
  for (size_t s = 0; s < steps; s++) {
    size_t first = s * batch, count = data->n - first < batch ? data->n - first : batch;
    gather(data, NULL, first, count, &e->buf);
    spd_fx_batch_t b = as_fx_batch(&e->buf, count);
    spd_fx_result_t res = {0};
    float *out = predictions ? predictions + first * e->buf.out_units : e->buf.out;
    int rc = spd__fx_net_evaluate(e->run->net, &b, out, &res);
    if (rc)
      return rc;
    if (predictions) {
      if (cb && cb->on_batch_cb && cb->on_batch_cb(cb->ud, s + 1, steps, NAN, NAN))
        return spd_ctx_fail(m->ctx, SPD_ESTATE, "stopped by a callback at batch %zu", s + 1);
      continue;
    }
    spd_targets_t y = as_targets(&e->buf, count);
    double correct = spd_metric_correct(e->metric, e->buf.out, e->buf.out_units, &y);
    spd_mean_add(&e->loss, res.loss_sum / (double)count, (double)count);
    spd_mean_add(&e->acc, correct / (double)count, (double)count);
    if (cb && cb->on_batch_cb &&
        cb->on_batch_cb(cb->ud, s + 1, steps, spd_mean_value(&e->loss), spd_mean_value(&e->acc)))
      return spd_ctx_fail(m->ctx, SPD_ESTATE, "stopped by a callback at batch %zu", s + 1);
  }
  return 0;
}

/* Evaluation or prediction over @p data (checked by the caller). */
static int infer(spd_model_t *m, spd_fixed_run_t *run, spd_loss_kind_t loss, bool from_logits,
                 size_t batch_size, const spd_fit_data_t *data,
                 const spd_fit_callbacks_t *callbacks, float *predictions, double *loss_out,
                 double *accuracy_out) {
  int rc = 0;
  size_t batch = batch_size < data->n ? batch_size : data->n;
  if (run && (int)batch > run->max_batch)
    batch = (size_t)run->max_batch;
  fx_eval_t e = {.run = run, .metric = accuracy_kind(m, loss, &data->y)};
  if ((rc = buf_alloc(m->ctx, m, data, batch, &e.buf)))
    return rc;
  if (!run) {
    gather(data, NULL, 0, batch, &e.buf);
    rc = run_new(m, loss, from_logits, batch, 0, &e.buf, batch, &e.run);
  }
  spd_mean_reset(&e.loss);
  spd_mean_reset(&e.acc);
  if (!rc)
    rc = eval_batches(m, &e, batch, data, callbacks, predictions);
  if (!rc && !predictions) {
    *loss_out = spd_mean_value(&e.loss);
    *accuracy_out = spd_mean_value(&e.acc);
  }
  if (!run)
    spd_fixed_run_free(e.run);
  buf_free(m->ctx, &e.buf);
  return rc;
}

int spd_evaluate_fixed(spd_model_t *m, spd_fixed_run_t *run, spd_loss_kind_t loss,
                       bool from_logits, size_t batch_size, const spd_fit_data_t *data,
                       const spd_fit_callbacks_t *callbacks, double *loss_out,
                       double *accuracy_out) {
  if (batch_size < 1)
    return spd_ctx_fail(m->ctx, SPD_EINVAL, "batch_size must be >= 1");
  spd_fit_config_t probe = {.epochs = 1, .batch_size = batch_size, .loss = loss};
  int rc = check(m, &probe, data);
  if (rc)
    return rc;
  return infer(m, run, loss, from_logits, batch_size, data, callbacks, NULL, loss_out,
               accuracy_out);
}

int spd_predict_fixed(spd_model_t *m, spd_fixed_run_t *run, size_t batch_size,
                      const spd_fit_data_t *data, const spd_fit_callbacks_t *callbacks,
                      float *out) {
  if (batch_size < 1)
    return spd_ctx_fail(m->ctx, SPD_EINVAL, "batch_size must be >= 1");
  if (!m->built || data->n == 0 || !data->x == !data->x_u8 ||
      !spd_shape_equal(&m->layers[0].output_shape, &data->sample_shape))
    return spd_ctx_fail(m->ctx, SPD_EINVAL,
                        "fixed-point predict: the model must be built and the data need "
                        "samples of the model's input shape (one of x and x_u8)");
  /* Any loss serves: without targets only the forward pass is calibrated. */
  spd_fit_data_t inputs = *data;
  inputs.y = (spd_targets_t){0};
  return infer(m, run, SPD_LOSS_MSE, false, batch_size, &inputs, callbacks, out, NULL, NULL);
}
