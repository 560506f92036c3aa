/* Keras's mini-batch loop (Model.fit / evaluate / predict) on the host
 * reference executor. One epoch: order = the seeded permutation of the
 * sample indices; for each run of batch_size indices (the last one
 * shorter): gather the samples, forward, loss and dL/dy averaged over the
 * batch, backward, one optimizer step. Loss and accuracy are averaged over
 * samples (Keras's Mean with sample_weight = batch size). */
#include "spindle/fit.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "spindle/reference.h"
#include "spindle/rng.h"

#include "nn/ref_exec.h"
#include "run/fit_epoch.h"

void spd_fit_config_defaults(spd_fit_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->epochs = 1;
  cfg->batch_size = 32;
  cfg->shuffle = true;
  cfg->loss = SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
  spd_optimizer_config_defaults(&cfg->optimizer, SPD_OPT_SGD);
}

void spd_history_free(spd_history_t *h) {
  if (!h)
    return;
  spd_free(h->ctx, h->epochs);
  h->epochs = NULL;
  h->n_epochs = 0;
}

void spd_fit_epoch_order(uint64_t seed, int epoch, uint32_t *order, uint32_t n) {
  for (uint32_t i = 0; i < n; i++)
    order[i] = i;
  spd_rng_t rng;
  spd_rng_init(&rng, seed, SPD_FIT_SHUFFLE_STREAM + (uint32_t)epoch);
  spd_rng_shuffle_u32(&rng, order, n);
}

/* Buffers of one batch: gathered samples, targets and dL/dy. */
typedef struct batch_buffers {
  size_t in_size, out_units;
  float *x;
  int32_t *labels;       /* sparse targets for the metrics */
  float *ref_labels;     /* the same targets as the executor reads them */
  spd_targets_t y;
} batch_buffers_t;

static void free_buffers(spd_ctx_t *ctx, batch_buffers_t *b) {
  spd_free(ctx, b->x);
  spd_free(ctx, b->labels);
  spd_free(ctx, b->ref_labels);
}

static int alloc_buffers(spd_ctx_t *ctx, const spd_model_t *m, const spd_fit_data_t *d,
                         size_t batch, batch_buffers_t *b) {
  memset(b, 0, sizeof *b);
  b->in_size = spd_shape_size(&d->sample_shape);
  b->out_units = spd_shape_size(&m->layers[m->output].output_shape);
  b->x = spd_calloc(ctx, batch * b->in_size, sizeof(float));
  b->labels = spd_calloc(ctx, batch, sizeof(int32_t));
  b->ref_labels = spd_calloc(ctx, batch * (d->y.width ? d->y.width : 1), sizeof(float));
  if (!b->x || !b->labels || !b->ref_labels) {
    free_buffers(ctx, b);
    return spd_ctx_fail(ctx, SPD_ENOMEM, "batch buffers for %zu samples of %zu values",
                        batch, b->in_size);
  }
  return 0;
}

static void gather_sample(const spd_fit_data_t *d, size_t src, float *dst, size_t size) {
  if (d->x) {
    memcpy(dst, d->x + src * size, size * sizeof(float));
    return;
  }
  const uint8_t *row = d->x_u8 + src * size;
  for (size_t k = 0; k < size; k++)
    dst[k] = (float)row[k] * d->x_scale;
}

/* Copy samples order[first .. first+count) (or first.. when order is NULL)
 * into the batch buffers. */
static void gather(const spd_fit_data_t *d, const uint32_t *order, size_t first,
                   size_t count, batch_buffers_t *b) {
  size_t w = d->y.width;
  for (size_t i = 0; i < count; i++) {
    size_t src = order ? order[first + i] : first + i;
    gather_sample(d, src, b->x + i * b->in_size, b->in_size);
    if (d->y.n == 0)
      continue;
    if (w == 0) {
      b->labels[i] = d->y.labels[src];
      b->ref_labels[i] = (float)d->y.labels[src];
    } else {
      memcpy(b->ref_labels + i * w, d->y.values + src * w, w * sizeof(float));
    }
  }
  b->y = (spd_targets_t){.n = count, .width = w, .labels = b->labels,
                         .values = b->ref_labels};
}

static int check_data(spd_ctx_t *ctx, const spd_model_t *m, const spd_fit_data_t *d,
                      const char *what, bool need_targets) {
  const spd_shape_t *in = &m->layers[0].output_shape;
  char want[64], got[64];
  if (!m->built)
    return spd_ctx_fail(ctx, SPD_ESTATE, "the model is not built");
  if (!spd_shape_equal(in, &d->sample_shape)) {
    spd_shape_format(in, want, sizeof want);
    spd_shape_format(&d->sample_shape, got, sizeof got);
    return spd_ctx_fail(ctx, SPD_ESHAPE, "the model's input is %s but the %s samples "
                        "are %s", want, what, got);
  }
  if (!d->x == !d->x_u8)
    return spd_ctx_fail(ctx, SPD_EINVAL, "%s data: give exactly one of x and x_u8", what);
  if (d->n == 0)
    return spd_ctx_fail(ctx, SPD_EINVAL, "%s data has no samples", what);
  if (need_targets && d->y.n != d->n)
    return spd_ctx_fail(ctx, SPD_ESHAPE, "%s data: %zu samples but %zu targets", what,
                        d->n, d->y.n);
  return 0;
}

static int check_config(spd_ctx_t *ctx, const spd_model_t *m, const spd_fit_config_t *c,
                        const spd_fit_data_t *train) {
  if (c->epochs < 1)
    return spd_ctx_fail(ctx, SPD_EINVAL, "epochs must be >= 1 (got %d)", c->epochs);
  if (c->batch_size < 1)
    return spd_ctx_fail(ctx, SPD_EINVAL, "batch_size must be >= 1");
  if (train->n > UINT32_MAX)
    return spd_ctx_fail(ctx, SPD_EINVAL, "%zu samples: at most 2^32-1", train->n);
  int rc = check_data(ctx, m, train, "training", true);
  if (!rc)
    rc = spd_loss_check(ctx, c->loss, m, &train->y);
  if (!rc && c->validation) {
    rc = check_data(ctx, m, c->validation, "validation", true);
    if (!rc)
      rc = spd_loss_check(ctx, c->loss, m, &c->validation->y);
  }
  return rc;
}

static spd_metric_kind_t accuracy_kind(const spd_model_t *m, spd_loss_kind_t loss,
                                       const spd_targets_t *y) {
  size_t units = spd_shape_size(&m->layers[m->output].output_shape);
  return spd_metric_resolve_accuracy(units, y->width == 0,
                                     loss == SPD_LOSS_BINARY_CROSSENTROPY);
}

/* The state of one training run: the executor, and the trainable
 * parameters with their gradient views, in layer then parameter order (the
 * optimizer's tensor order). */
typedef struct trainer {
  spd_ctx_t *ctx;
  spd_model_t *model;
  const spd_fit_config_t *cfg;
  const spd_fit_data_t *data;
  spd_ref_t *ref;
  spd_optimizer_t *opt;
  batch_buffers_t buf;
  uint32_t *order;
  int n_params;
  float **params;
  const float **grads;
  size_t *sizes;
  spd_metric_kind_t metric;
} trainer_t;

static int count_trainable(const spd_model_t *m) {
  int n = 0;
  for (int l = 0; l < m->n_layers; l++)
    for (int p = 0; p < m->layers[l].n_params; p++)
      n += m->layers[l].params[p].trainable;
  return n;
}

/* Collect the trainable tensors, their gradient views and sizes. */
static int collect_params(trainer_t *t) {
  spd_model_t *m = t->model;
  size_t n = (size_t)count_trainable(m);
  t->params = spd_calloc(t->ctx, n ? n : 1, sizeof *t->params);
  t->grads = spd_calloc(t->ctx, n ? n : 1, sizeof *t->grads);
  t->sizes = spd_calloc(t->ctx, n ? n : 1, sizeof *t->sizes);
  if (!t->params || !t->grads || !t->sizes)
    return spd_ctx_fail(t->ctx, SPD_ENOMEM, "parameter list of %zu tensors", n);
  for (int l = 0; l < m->n_layers; l++)
    for (int p = 0; p < m->layers[l].n_params; p++) {
      spd_param_t *param = &m->layers[l].params[p];
      if (!param->trainable)
        continue;
      t->params[t->n_params] = param->value.data;
      t->grads[t->n_params] = spd_ref_grad(t->ref, l, p).data;
      t->sizes[t->n_params++] = spd_shape_size(&param->value.shape);
    }
  return 0;
}

static void trainer_free(trainer_t *t) {
  spd_optimizer_free(t->opt);
  spd_ref_free(t->ref);
  free_buffers(t->ctx, &t->buf);
  spd_free(t->ctx, t->order);
  spd_free(t->ctx, t->params);
  spd_free(t->ctx, t->grads);
  spd_free(t->ctx, t->sizes);
}

static int new_ref(spd_model_t *m, size_t batch, uint64_t seed, spd_ref_t **out) {
  spd_ref_options_t opts;
  spd_ref_options_default(&opts);
  opts.seed = seed;
  return spd_ref_new(m, (int)batch, &opts, out);
}

static int trainer_init(trainer_t *t, spd_model_t *m, const spd_fit_config_t *cfg,
                        const spd_fit_data_t *d) {
  *t = (trainer_t){.ctx = m->ctx, .model = m, .cfg = cfg, .data = d,
                   .metric = accuracy_kind(m, cfg->loss, &d->y)};
  size_t batch = cfg->batch_size < d->n ? cfg->batch_size : d->n;
  int rc = alloc_buffers(t->ctx, m, d, batch, &t->buf);
  if (rc)
    return rc;
  t->order = spd_calloc(t->ctx, d->n, sizeof *t->order);
  if (!t->order)
    rc = spd_ctx_fail(t->ctx, SPD_ENOMEM, "shuffle order of %zu samples", d->n);
  if (!rc)
    rc = new_ref(m, batch, cfg->seed, &t->ref);
  if (!rc)
    rc = collect_params(t);
  if (!rc)
    rc = spd_optimizer_new(t->ctx, &cfg->optimizer, t->sizes, t->n_params, &t->opt);
  if (rc)
    trainer_free(t);
  return rc;
}

/* One batch: forward, the batch-mean loss and its gradients (backward), one
 * optimizer step. Adds the batch's loss and correct count to the epoch's
 * means; accuracy uses the outputs before the step, as Keras's does. */
static int train_batch(void *trainer, size_t first, size_t count, spd_mean_t *loss,
                       spd_mean_t *acc) {
  trainer_t *t = trainer;
  gather(t->data, t->order, first, count, &t->buf);
  int rc = spd_ref_forward(t->ref, t->buf.x, (int)count, true);
  if (rc)
    return rc;
  const float *pred = spd_ref_output(t->ref, t->model->output);
  double correct = spd_metric_correct(t->metric, pred, t->buf.out_units, &t->buf.y);
  double batch_loss;
  rc = spd_ref_backward(t->ref, t->cfg->loss, t->cfg->from_logits, t->buf.ref_labels,
                        &batch_loss);
  if (rc)
    return rc;
  spd_optimizer_step(t->opt, t->params, t->grads);
  spd_mean_add(loss, batch_loss, (double)count);
  spd_mean_add(acc, correct / (double)count, (double)count);
  return 0;
}

static void draw_order(void *trainer, int epoch) {
  trainer_t *t = trainer;
  size_t n = t->data->n;
  if (t->cfg->shuffle)
    spd_fit_epoch_order(t->cfg->seed, epoch, t->order, (uint32_t)n);
  else
    for (size_t i = 0; i < n; i++)
      t->order[i] = (uint32_t)i;
}

static int validate_epoch(void *trainer, spd_epoch_logs_t *logs) {
  trainer_t *t = trainer;
  const spd_fit_config_t *c = t->cfg;
  logs->has_validation = true;
  return spd_evaluate_float(t->model, c->loss, c->from_logits, c->batch_size, c->validation,
                            NULL, &logs->val_loss, &logs->val_accuracy);
}

static int64_t optimizer_step(void *trainer) { return ((trainer_t *)trainer)->opt->iterations; }

/* The float trainer's state beyond the model's weights: the optimizer's step
 * and slots, and the Dropout layers' sample counters (their masks). */
static int save_state(void *trainer, spd__blob_t *b) {
  trainer_t *t = trainer;
  spd_optimizer_t *opt = t->opt;
  spd__blob_put(b, "optimizer.iterations", &opt->iterations, sizeof opt->iterations, 1);
  for (int i = 0; i < opt->n_tensors; i++)
    for (int k = 0; k < SPD_OPTIM_MAX_SLOTS; k++) {
      char name[64];
      snprintf(name, sizeof name, "optimizer.tensor%d.slot%d", i, k);
      if (opt->tensors[i].slot[k])
        spd__blob_put(b, name, opt->tensors[i].slot[k], sizeof(float), opt->tensors[i].size);
    }
  for (int l = 0; l < t->model->n_layers; l++)
    spd__blob_put(b, "layer.samples_seen", &t->ref->layers[l].samples_seen, sizeof(uint64_t), 1);
  return b->err;
}

static int load_state(void *trainer, spd__blob_reader_t *r) {
  trainer_t *t = trainer;
  spd_optimizer_t *opt = t->opt;
  int rc = spd__blob_get(r, "optimizer.iterations", &opt->iterations, sizeof opt->iterations, 1);
  for (int i = 0; i < opt->n_tensors && !rc; i++)
    for (int k = 0; k < SPD_OPTIM_MAX_SLOTS && !rc; k++) {
      char name[64];
      snprintf(name, sizeof name, "optimizer.tensor%d.slot%d", i, k);
      if (opt->tensors[i].slot[k])
        rc = spd__blob_get(r, name, opt->tensors[i].slot[k], sizeof(float),
                           opt->tensors[i].size);
    }
  for (int l = 0; l < t->model->n_layers && !rc; l++)
    rc = spd__blob_get(r, "layer.samples_seen", &t->ref->layers[l].samples_seen,
                       sizeof(uint64_t), 1);
  return rc;
}

static const spd__fit_ops_t float_ops = {
    .order_cb = draw_order, .train_batch = train_batch, .validate_cb = validate_epoch,
    .step_cb = optimizer_step, .save_state_cb = save_state, .load_state_cb = load_state};

int spd_fit_float(spd_model_t *m, const spd_fit_config_t *cfg, const spd_fit_data_t *train,
                  spd_history_t *history) {
  int rc = check_config(m->ctx, m, cfg, train);
  if (rc)
    return rc;
  spd_epoch_logs_t *logs = spd_calloc(m->ctx, (size_t)cfg->epochs, sizeof *logs);
  if (!logs)
    return spd_ctx_fail(m->ctx, SPD_ENOMEM, "history of %d epochs", cfg->epochs);
  trainer_t t;
  if ((rc = trainer_init(&t, m, cfg, train))) {
    spd_free(m->ctx, logs);
    return rc;
  }
  spd__ckpt_run_t run = {.backend = "reference", .numeric = SPD_NUMERIC_FLOAT, .model = m,
                         .cfg = cfg, .train = train, .history = logs};
  rc = spd__fit_loop(&run, &float_ops, &t);
  trainer_free(&t);
  if (rc || !history) {
    spd_free(m->ctx, logs);
    return rc;
  }
  *history = (spd_history_t){.ctx = m->ctx, .n_epochs = cfg->epochs, .epochs = logs};
  return 0;
}

/* Forward the samples in order, batch by batch, calling @p each with every
 * batch's outputs. Shared by evaluate and predict. */
typedef int (*batch_fn)(void *ud, spd_ref_t *ref, const batch_buffers_t *b,
                        size_t first, size_t count);

static int infer(spd_model_t *m, size_t batch_size, const spd_fit_data_t *d,
                 const spd_fit_callbacks_t *cb, batch_fn each, void *ud) {
  size_t batch = batch_size < d->n ? batch_size : d->n;
  batch_buffers_t b;
  spd_ref_t *ref = NULL;
  int rc = alloc_buffers(m->ctx, m, d, batch, &b);
  if (rc)
    return rc;
  if ((rc = new_ref(m, batch, 0, &ref))) {
    free_buffers(m->ctx, &b);
    return rc;
  }
  size_t steps = (d->n + batch - 1) / batch;
  for (size_t s = 0; s < steps && !rc; s++) {
    size_t first = s * batch, count = d->n - first < batch ? d->n - first : batch;
    gather(d, NULL, first, count, &b);
    rc = spd_ref_forward(ref, b.x, (int)count, false);
    if (!rc)
      rc = each(ud, ref, &b, first, count);
    if (!rc && cb && cb->on_batch_cb && cb->on_batch_cb(cb->ud, s + 1, steps, NAN, NAN))
      rc = spd_ctx_fail(m->ctx, SPD_ESTATE, "stopped by a callback at batch %zu", s + 1);
  }
  spd_ref_free(ref);
  free_buffers(m->ctx, &b);
  return rc;
}

typedef struct eval_state {
  spd_model_t *model;
  spd_loss_kind_t loss;
  bool from_logits;
  spd_metric_kind_t metric;
  spd_mean_t loss_mean, acc_mean;
  const spd_fit_callbacks_t *cb;
} eval_state_t;

static int eval_batch(void *ud, spd_ref_t *ref, const batch_buffers_t *b, size_t first,
                      size_t count) {
  (void)first;
  eval_state_t *s = ud;
  double loss;
  int rc = spd_ref_loss(ref, s->loss, s->from_logits, b->ref_labels, &loss);
  if (rc)
    return rc;
  const float *pred = spd_ref_output(ref, s->model->output);
  double correct = spd_metric_correct(s->metric, pred, b->out_units, &b->y);
  spd_mean_add(&s->loss_mean, loss, (double)count);
  spd_mean_add(&s->acc_mean, correct / (double)count, (double)count);
  return 0;
}

/* Progress for evaluate carries the running means, as Keras's bar does. */
static int eval_progress(void *ud, size_t step, size_t steps, double loss, double acc) {
  (void)loss;
  (void)acc;
  eval_state_t *s = ud;
  return s->cb->on_batch_cb(s->cb->ud, step, steps, spd_mean_value(&s->loss_mean),
                            spd_mean_value(&s->acc_mean));
}

int spd_evaluate_float(spd_model_t *m, spd_loss_kind_t loss, bool from_logits,
                       size_t batch_size, const spd_fit_data_t *data,
                       const spd_fit_callbacks_t *callbacks, double *loss_out,
                       double *accuracy_out) {
  if (batch_size < 1)
    return spd_ctx_fail(m->ctx, SPD_EINVAL, "batch_size must be >= 1");
  int rc = check_data(m->ctx, m, data, "evaluation", true);
  if (!rc)
    rc = spd_loss_check(m->ctx, loss, m, &data->y);
  if (rc)
    return rc;
  eval_state_t s = {.model = m, .loss = loss, .from_logits = from_logits,
                    .metric = accuracy_kind(m, loss, &data->y), .cb = callbacks};
  spd_mean_reset(&s.loss_mean);
  spd_mean_reset(&s.acc_mean);
  spd_fit_callbacks_t wrapped = {.ud = &s, .on_batch_cb = eval_progress};
  rc = infer(m, batch_size, data, callbacks && callbacks->on_batch_cb ? &wrapped : NULL,
             eval_batch, &s);
  if (rc)
    return rc;
  *loss_out = spd_mean_value(&s.loss_mean);
  *accuracy_out = spd_mean_value(&s.acc_mean);
  return 0;
}

typedef struct predict_state {
  spd_model_t *model;
  float *out;
} predict_state_t;

static int predict_batch(void *ud, spd_ref_t *ref, const batch_buffers_t *b, size_t first,
                         size_t count) {
  predict_state_t *s = ud;
  memcpy(s->out + first * b->out_units, spd_ref_output(ref, s->model->output),
         count * b->out_units * sizeof(float));
  return 0;
}

int spd_predict_float(spd_model_t *m, size_t batch_size, const spd_fit_data_t *data,
                      const spd_fit_callbacks_t *callbacks, float *out) {
  if (batch_size < 1)
    return spd_ctx_fail(m->ctx, SPD_EINVAL, "batch_size must be >= 1");
  int rc = check_data(m->ctx, m, data, "prediction", false);
  if (rc)
    return rc;
  predict_state_t s = {.model = m, .out = out};
  return infer(m, batch_size, data, callbacks, predict_batch, &s);
}
