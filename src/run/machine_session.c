/* A run on the machine (spindle/machine_run.h): the model's weights
 * (fixed: quantised exactly as the reference's fixed mode, plan calibrated
 * on the first batch) -> partition -> place -> keys, routes, minimised
 * tables, then the run's phases, each its own file and the same for every
 * transceiver: load (machine_load.c: data specifications, tables, data,
 * kernels), start (machine_start.c), stream (machine_stream.c: samples
 * in, the sink's records out while the machine runs) and read back
 * (machine_readback.c: the cores' states, counters and provenance, the
 * records and the trained results). A dead core or a stall goes on from
 * the last whole epoch (machine_recover.c); checkpoints are
 * machine_checkpoint.c's. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "map/partition_chain.h"
#include "run/machine_roofline.h"
#include "run/machine_session.h"

static double wall_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------- checks */

bool spd__mrun_from_logits(const mrun_t *r) {
  return r->cfg ? r->cfg->from_logits : r->o.from_logits;
}

static int check_model(mrun_t *r) {
  const spd_model_t *m = r->model;
  for (int i = 1; i < m->n_layers; i++) {
    const spd_layer_t *l = &m->layers[i];
    int folds = spd__layer_fold_target(m, i);
    if (spd__op_of(l)->machine == SPD_OPM_FOLD_ACT && folds < 0 &&
        spd__layer_add_folded_act(m, l->inbound[0]) != i)
      return spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED,
                          "layer '%s' (%s): the machine applies an activation layer in the "
                          "tiles of the Dense or convolution it follows, which must have a "
                          "linear activation and no other reader",
                          l->config.name, spd_layer_kind_name(l->config.kind));
    spd_activation_t a = l->config.activation;
    bool applies = l->config.kind == SPD_LAYER_DENSE || folds >= 0;
    if (applies && r->o.numeric == SPD_NUMERIC_FLOAT &&
        a == SPD_ACT_SOFTMAX && i != m->n_layers - 1)
      return spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED,
                          "layer '%s': softmax runs on the loss core, after the last layer only",
                          l->config.name);
  }
  return 0;
}

/* ------------------------------------------------------------- weights */

static void first_batch(const mrun_t *r, size_t count, float *x, int32_t *labels) {
  const spd_fit_data_t *d = r->data;
  for (size_t s = 0; s < count; s++) {
    size_t i = r->order ? r->order[s] : s;
    for (size_t k = 0; k < r->in_size; k++)
      x[s * r->in_size + k] = d->x ? d->x[i * r->in_size + k]
                                   : (float)d->x_u8[i * r->in_size + k] * d->x_scale;
    labels[s] = d->y.labels ? d->y.labels[i] : 0;
  }
}

static void refresh_mac_copies(mrun_t *r);

/* A checkpoint's state payload must hold this run's state and no more. */
int spd__mrun_state_read_whole(spd_ctx_t *ctx, const spd__blob_reader_t *s) {
  if (s->pos == s->len)
    return 0;
  return spd_ctx_fail(ctx, SPD_EFORMAT, "'%s' holds %zu bytes more than this run's state (a "
                      "checkpoint of another run?)", s->file, s->len - s->pos);
}

/* Steps per epoch of the training run. */
uint32_t spd__mrun_epoch_steps(const mrun_t *r) {
  return (uint32_t)((r->n + r->cfg->batch_size - 1) / r->cfg->batch_size);
}

/* A resumed fixed-point run: the net's plan, masters, optimizer slabs and
 * counters as the checkpoint has them (the reference's own state payload,
 * run/fit_fixed_state.c) instead of the calibration's. */
static int fixed_resume(mrun_t *r) {
  int64_t step = 0;
  int err = spd__blob_get(r->resume, "fixed.step", &step, sizeof step, 1);
  int64_t at = r->base.step + (int64_t)r->first_epoch * spd__mrun_epoch_steps(r) +
               (int64_t)(r->skip / r->cfg->batch_size);
  if (!err && step != at)
    err = spd_ctx_fail(r->ctx, SPD_EFORMAT, "'%s': its step %lld is not the checkpoint's "
                       "(damaged?)", r->resume->file, (long long)step);
  if (!err)
    err = spd__fx_net_get_state(r->net, r->resume);
  if (!err)
    err = spd__mrun_state_read_whole(r->ctx, r->resume);
  if (!err)
    refresh_mac_copies(r);
  return err;
}

/* Fixed point: the reference's own net quantises the weights and
 * calibrates the plan on the first batch (spd_evaluate_fixed's steps). */
static int fixed_weights(mrun_t *r) {
  if (r->o.fixed_run && !r->cfg) {
    r->trained = spd__fixed_run_net(r->o.fixed_run);
    for (int i = 0; i < r->model->n_layers; i++) {
      r->w16[i] = r->trained->layers[i].kernel.w16;
      r->bias32[i] = r->trained->layers[i].bias.master;
      r->master[i] = r->trained->layers[i].kernel.master;
    }
    return 0;
  }
  size_t batch = r->cfg ? r->cfg->batch_size : r->o.batch_size ? r->o.batch_size : 32;
  if (batch > r->n)
    batch = r->n;
  spd_numeric_plan_t *plan = NULL;
  int err = spd_numeric_plan_new(r->ctx, r->model, &plan);
  /* Training and evaluation have the loss core's cross-entropy after a
   * softmax; inference of any other output needs no loss, and takes any
   * Dense or Activation output as spd_predict_fixed does (MSE). */
  const spd_layer_t *out = &r->model->layers[r->model->n_layers - 1];
  bool logits = spd__mrun_from_logits(r);
  spd_fx_loss_t loss = r->cfg || out->config.activation == SPD_ACT_SOFTMAX || logits
                           ? SPD_FX_LOSS_SPARSE_CE
                           : SPD_FX_LOSS_MSE;
  if (!err)
    err = spd__fx_net_new(r->ctx, r->model, plan, loss, logits, (int)batch,
                          r->cfg ? r->cfg->seed : 0, &r->net);
  spd_numeric_plan_free(plan);
  if (err)
    return err;
  if (r->data->y.labels) {
    float *x = spd_malloc(r->ctx, batch * r->in_size * sizeof *x);
    int32_t *labels = spd_malloc(r->ctx, batch * sizeof *labels);
    err = x && labels ? 0 : spd_ctx_fail(r->ctx, SPD_ENOMEM, "calibration batch");
    if (!err) {
      first_batch(r, batch, x, labels);
      spd_fx_batch_t b = {.x = x, .labels = labels, .batch = (int)batch};
      err = spd__fx_net_calibrate(r->net, &b, 2);
    }
    spd_free(r->ctx, x);
    spd_free(r->ctx, labels);
  }
  if (!err && r->resume)
    err = fixed_resume(r);
  for (int i = 0; !err && i < r->model->n_layers; i++) {
    r->w16[i] = r->net->layers[i].kernel.w16;
    r->bias32[i] = r->net->layers[i].bias.master;
    r->master[i] = r->net->layers[i].kernel.master;
  }
  return err;
}

static int float_weights(mrun_t *r) {
  int err = spd_numeric_plan_new(r->ctx, r->model, &r->plan);
  for (int i = 0; !err && i < r->model->n_layers; i++) {
    const spd_layer_t *l = &r->model->layers[i];
    if (!spd__op_has(l, SPD_OP_WEIGHTS))
      continue;
    r->wf[i] = l->params[0].value.data;
    r->biasf[i] = l->n_params > 1 ? l->params[1].value.data : NULL;
  }
  return err;
}

/* ------------------------------------------------------------- mapping */

static int map(mrun_t *r) {
  spd_partition_opts_t po;
  spd_partition_opts_default(&po);
  po.numeric = r->o.numeric;
  po.training = r->cfg != NULL;
  if (r->cfg) {
    const spd_optimizer_config_t *oc = &r->cfg->optimizer;
    po.optimizer = oc->kind;
    po.momentum = oc->momentum != 0.0f;
    po.centered = oc->centered;
    po.batch_size = (uint32_t)r->cfg->batch_size;
  }
  po.slots = r->o.slots;
  po.dataset_samples = r->n;
  po.input_bytes = r->data->x_u8 ? 1u : 4u;
  po.max_cores = r->o.max_cores;
  po.slack_percent = r->o.slack_percent ? r->o.slack_percent : r->cfg ? 100u : 400u;
  int err = spd_partition_model(r->ctx, r->model, r->machine, &po, &r->g);
  if (!err && r->cfg)
    err = spd__ds_check_dropouts(r->ctx, r->model, r->g);
  if (!err && r->kept.loc) { /* a recovery keeps where everything was */
    r->place = r->kept;
    r->kept = (spd_placement_t){0};
  } else if (!err) {
    err = (r->o.placer ? r->o.placer : spd_place)(r->ctx, r->g, r->machine, &r->place);
  }
  spd_map_net_t *nets = NULL;
  spd_map_core_t *sinks = NULL;
  if (!err)
    err = spd_placement_nets(r->ctx, r->g, &r->place, &nets, &sinks);
  if (!err)
    err = spd_map_routing_build(r->ctx, r->machine, nets, r->g->n_partitions, NULL, &r->routing);
  r->routed = !err;
  spd_free(r->ctx, nets);
  spd_free(r->ctx, sinks);
  return err;
}

/* ------------------------------------------------------------- entry */

void spd__mrun_free(mrun_t *r) {
  spd_free(r->ctx, r->records);
  spd_free(r->ctx, r->pace);
  spd_free(r->ctx, r->why);
  spd_transceiver_free(r->tx);
  if (r->routed)
    spd_map_routing_free(r->ctx, &r->routing);
  spd_placement_free(&r->place);
  spd_machine_graph_free(r->g);
  spd__fx_net_free(r->net);
  spd_numeric_plan_free(r->plan);
  spd_free(r->ctx, r->addr);
  spd_free(r->ctx, r->update_addr);
  spd_free(r->ctx, r->result_addr);
  spd_free(r->ctx, r->order_addr);
  spd_free(r->ctx, r->snap_addr);
  spd_free(r->ctx, r->prov_addr);
  spd_free(r->ctx, r->state_in);
  spd_free(r->ctx, r->state_out);
  for (int i = 0; r->fslab && i < r->model->n_layers * 2; i++) {
    spd_free(r->ctx, r->fslab[i][0]);
    spd_free(r->ctx, r->fslab[i][1]);
  }
  spd_free(r->ctx, r->fslab);
  spd_free(r->ctx, r->order);
  spd_free(r->ctx, (void *)r->master);
  spd_free(r->ctx, (void *)r->w16);
  spd_free(r->ctx, (void *)r->bias32);
  spd_free(r->ctx, (void *)r->wf);
  spd_free(r->ctx, (void *)r->biasf);
  spd_placement_free(&r->kept);
  if (r->has_loaded)
    spd_map_tables_free(r->ctx, &r->loaded);
  if (r->restart)
    spd__blob_free(&r->restart->blob);
  spd_free(r->ctx, r->restart);
}

static int check_args(spd_ctx_t *ctx, const spd_model_t *m, const spd_machine_t *machine,
                      const spd_fit_data_t *data) {
  if (!m || !machine || !data || !m->built || data->n == 0 || data->n > UINT32_MAX / 64 ||
      !data->x == !data->x_u8)
    return spd_ctx_fail(ctx, SPD_EINVAL, "machine run: a built model, a machine and 1.. "
                        "samples (floats or bytes) are required");
  if (spd_shape_size(&m->layers[0].output_shape) != spd_shape_size(&data->sample_shape))
    return spd_ctx_fail(ctx, SPD_ESHAPE, "machine run: the model's input and the samples "
                        "differ in size");
  for (int i = 1; i < m->n_layers; i++)
    if (m->layers[i].config.kind == SPD_LAYER_BATCHNORM)
      return spd_ctx_fail(ctx, SPD_EUNSUPPORTED,
                          "layer '%s' (BatchNormalization): the machine does not run "
                          "BatchNormalization yet (docs/bn-on-machine.md); evaluate or predict "
                          "with --fold-bn to fold it into the Dense or convolution before it, "
                          "train with --backend reference", m->layers[i].config.name);
  for (int i = 1; i < m->n_layers; i++)
    if (spd__op_of(&m->layers[i])->machine == SPD_OPM_DENSE && m->layers[i].input_shape.rank > 1)
      return spd_ctx_fail(ctx, SPD_EUNSUPPORTED,
                          "layer '%s' (Dense): the machine runs Dense on rank-1 inputs only, "
                          "this one has rank %d (Dense on the last axis); add a Flatten "
                          "before it, or use --backend reference",
                          m->layers[i].config.name, m->layers[i].input_shape.rank);
  return 0;
}

static int prepare(mrun_t *r) {
  int nl = r->model->n_layers;
  r->w16 = spd_calloc(r->ctx, (size_t)nl, sizeof *r->w16);
  r->bias32 = spd_calloc(r->ctx, (size_t)nl, sizeof *r->bias32);
  r->wf = spd_calloc(r->ctx, (size_t)nl, sizeof *r->wf);
  r->biasf = spd_calloc(r->ctx, (size_t)nl, sizeof *r->biasf);
  r->master = spd_calloc(r->ctx, (size_t)nl, sizeof *r->master);
  if (!r->w16 || !r->bias32 || !r->wf || !r->biasf || !r->master)
    return spd_ctx_fail(r->ctx, SPD_ENOMEM, "machine run: weight tables");
  int err = check_model(r);
  if (!err)
    err = r->o.numeric == SPD_NUMERIC_FIXED ? fixed_weights(r) : float_weights(r);
  if (!err)
    err = map(r);
  if (!err) {
    r->addr = spd_calloc(r->ctx, r->g->n_vertices, sizeof *r->addr);
    r->update_addr = spd_calloc(r->ctx, r->g->n_vertices, sizeof *r->update_addr);
    r->result_addr = spd_calloc(r->ctx, r->g->n_vertices, sizeof *r->result_addr);
    r->order_addr = spd_calloc(r->ctx, r->g->n_vertices, sizeof *r->order_addr);
    r->snap_addr = spd_calloc(r->ctx, r->g->n_vertices, sizeof *r->snap_addr);
    r->prov_addr = spd_calloc(r->ctx, r->g->n_vertices, sizeof *r->prov_addr);
    if (r->cfg) {
      r->state_in = spd_calloc(r->ctx, r->g->n_vertices, sizeof *r->state_in);
      r->state_out = spd_calloc(r->ctx, r->g->n_vertices, sizeof *r->state_out);
    }
    if (!r->addr || !r->update_addr || !r->result_addr || !r->order_addr || !r->snap_addr ||
        !r->prov_addr ||
        (r->cfg && (!r->state_in || !r->state_out)))
      err = spd_ctx_fail(r->ctx, SPD_ENOMEM, "machine run: vertex addresses");
  }
  return err;
}

/* Training: the sequence of samples (each epoch's order, docs/training.md). */
int spd__mrun_make_order(mrun_t *r) {
  const spd_fit_config_t *c = r->cfg;
  r->epochs = (uint32_t)c->epochs - r->first_epoch;
  r->steps = r->epochs * (uint32_t)((r->n + c->batch_size - 1) / c->batch_size) -
             r->skip / (uint32_t)c->batch_size;
  r->order = spd_malloc(r->ctx, (size_t)r->epochs * r->n * sizeof *r->order);
  if (!r->order)
    return spd_ctx_fail(r->ctx, SPD_ENOMEM, "order of %u epochs", r->epochs);
  for (uint32_t e = 0; e < r->epochs; e++) {
    uint32_t *o = r->order + (size_t)e * r->n;
    if (c->shuffle)
      spd_fit_epoch_order(c->seed, (int)(r->base.epochs + r->first_epoch + e), o, r->n);
    else
      for (uint32_t i = 0; i < r->n; i++)
        o[i] = i;
  }
  /* A run resumed mid-epoch starts at its first epoch's skip-th sample. */
  memmove(r->order, r->order + r->skip, ((size_t)r->epochs * r->n - r->skip) * sizeof *r->order);
  return 0;
}

/* The MAC-loop copies re-derived from the trained masters, rounded to
 * nearest as after every update (base/fx_update.h). */
static void refresh_mac_copies(mrun_t *r) {
  const spd_numeric_plan_t *plan = spd__fx_net_plan(r->net);
  for (int i = 0; i < r->model->n_layers; i++) {
    fx_param_t *p = &r->net->layers[i].kernel;
    for (size_t e = 0; p->w16 && e < p->n; e++)
      p->w16[e] = spd_fx_to16(p->master[e], SPD_FX_MASTER_FRAC, plan->layers[i].weight_frac,
                              NULL);
  }
}

static int run_machine(mrun_t *r, const spd_machine_run_opts_t *opts,
                       spd_machine_results_t *res, spd_machine_stats_t *stats);

/* The validation split on the machine with the weights after @p epoch, as
 * the reference evaluates after each epoch: the results go into the model
 * (and in fixed point the net, with its MAC-loop copies, run as the trained
 * network with the training's plan) and a forward run of their own maps,
 * loads and runs them on another emulated machine of the same kind. */
static int validate_epoch(void *ud, uint32_t epoch, spd_epoch_logs_t *logs) {
  mrun_t *r = ud;
  epoch -= r->first_epoch; /* the run's own */
  int err = spd__mrun_wait_sealed(r, epoch);
  if (!err)
    err = spd__mrun_read_results(r, r->target, epoch);
  if (err)
    return err;
  if (r->o.open_transceiver)
    return spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED, "validation after each epoch runs on a "
                        "second machine beside the training one, and a board serves one: "
                        "train without validation data, then evaluate");
  spd_machine_run_opts_t vo = {.numeric = r->o.numeric, .batch_size = r->cfg->batch_size,
                               .placer = r->o.placer, .max_cores = r->o.max_cores,
                               .from_logits = r->cfg->from_logits,
                               .pace_report = r->o.pace_report};
  spd_fixed_run_t *run = NULL;
  if (r->net) {
    refresh_mac_copies(r);
    if ((err = spd__fixed_run_adopt(r->ctx, r->net, r->net->max_batch, &run)))
      return err;
    vo.fixed_run = run;
  }
  logs->has_validation = true;
  err = spd_machine_evaluate(r->ctx, r->target, r->machine, &vo, r->cfg->validation,
                             &logs->val_loss, &logs->val_accuracy, NULL);
  if (run)
    spd__fixed_run_release(run);
  return err;
}

int spd_machine_forward(spd_ctx_t *ctx, const spd_model_t *m, const spd_machine_t *machine,
                        const spd_machine_run_opts_t *opts, const spd_fit_data_t *data,
                        spd_machine_results_t *res, spd_machine_stats_t *stats) {
  int err = check_args(ctx, m, machine, data);
  if (err)
    return err;
  mrun_t r = {.ctx = ctx, .model = m, .machine = machine, .data = data,
              .n = (uint32_t)data->n,
              .in_size = (uint32_t)spd_shape_size(&m->layers[0].output_shape),
              .out_size = (uint32_t)spd_shape_size(&m->layers[m->n_layers - 1].output_shape)};
  err = run_machine(&r, opts, res, stats);
  spd__mrun_free(&r);
  return err;
}

int spd_machine_fit(spd_ctx_t *ctx, spd_model_t *m, const spd_machine_t *machine,
                    const spd_machine_run_opts_t *opts, const spd_fit_config_t *cfg,
                    const spd_fit_data_t *train, spd_history_t *history,
                    spd_machine_stats_t *stats) {
  return spd_machine_fit_run(ctx, m, machine, opts, cfg, train, history, stats, NULL);
}

/* The trained net as a fixed-point run (it leaves @p r). */
static int keep_run(mrun_t *r, spd_fixed_run_t **run_out) {
  refresh_mac_copies(r);
  int err = spd__fixed_run_adopt(r->ctx, r->net, r->net->max_batch, run_out);
  if (!err)
    r->net = NULL;
  return err;
}

int spd_machine_fit_run(spd_ctx_t *ctx, spd_model_t *m, const spd_machine_t *machine,
                        const spd_machine_run_opts_t *opts, const spd_fit_config_t *cfg,
                        const spd_fit_data_t *train, spd_history_t *history,
                        spd_machine_stats_t *stats, spd_fixed_run_t **run_out) {
  int err = check_args(ctx, m, machine, train);
  if (err)
    return err;
  if (!cfg || cfg->epochs < 1 || cfg->batch_size < 1 || !train->y.labels ||
      cfg->loss != SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY ||
      !spd__mrun_loss_output_ok(m, cfg->from_logits))
    return spd_ctx_fail(ctx, SPD_EUNSUPPORTED,
                        "machine training: sparse categorical cross-entropy after a softmax "
                        "output layer (or from the logits of a linear one, from_logits), "
                        "integer labels, epochs and batch size >= 1");
  if ((err = spd__partition_chain_check(ctx, m)))
    return err;
  for (int i = 1; i < m->n_layers; i++) {
    spd_layer_kind_t k = m->layers[i].config.kind;
    spd_op_machine_t role = spd__layer_op(k)->machine;
    if (role == SPD_OPM_FOLD_ACT && spd__layer_fold_target(m, i) < 0 &&
        spd__layer_add_folded_act(m, m->layers[i].inbound[0]) != i)
      return spd_ctx_fail(ctx, SPD_EUNSUPPORTED,
                          "layer '%s' (%s): machine training applies an activation layer in "
                          "the tiles of the Dense or convolution before it, which must have a "
                          "linear activation and no other reader; train it with --backend "
                          "reference", m->layers[i].config.name, spd_layer_kind_name(k));
    if (role == SPD_OPM_NONE || role == SPD_OPM_INPUT)
      return spd_ctx_fail(ctx, SPD_EUNSUPPORTED,
                          "layer '%s' (%s): machine training runs Dense layers, "
                          "convolutions, pooling, Dropout and activation layers after them; "
                          "train it with --backend reference",
                          m->layers[i].config.name, spd_layer_kind_name(k));
  }
  if (opts && opts->numeric == SPD_NUMERIC_FLOAT && cfg->optimizer.kind == SPD_OPT_RMSPROP)
    return spd_ctx_fail(ctx, SPD_EUNSUPPORTED,
                        "machine training in float: SGD and Adam (RMSprop runs in fixed point)");
  if ((!opts || opts->numeric != SPD_NUMERIC_FLOAT) &&
      (err = spd_fx_optimizer_check(ctx, &cfg->optimizer,
                                    spd__checkpoint_last_step(cfg, train->n))))
    return err;
  spd_epoch_logs_t *logs = spd_calloc(ctx, (size_t)cfg->epochs, sizeof *logs);
  if (!logs)
    return spd_ctx_fail(ctx, SPD_ENOMEM, "history of %d epochs", cfg->epochs);
  mrun_t r = {.ctx = ctx, .model = m, .machine = machine, .data = train,
              .n = (uint32_t)train->n, .cfg = cfg, .target = m, .logs = logs,
              .progress = {.cb = &cfg->callbacks, .logs = logs, .epochs = (uint32_t)cfg->epochs,
                           .batch = (uint32_t)cfg->batch_size},
              .in_size = (uint32_t)spd_shape_size(&m->layers[0].output_shape),
              .out_size = (uint32_t)spd_shape_size(&m->layers[m->n_layers - 1].output_shape)};
  if (opts)
    r.o.numeric = opts->numeric;
  spd__blob_reader_t state;
  if (cfg->resume)
    err = spd__mrun_machine_resume(&r, r.o.numeric, &state);
  r.progress.first_epoch = r.first_epoch;
  r.progress.skip = r.skip;
  if (!err && r.o.numeric == SPD_NUMERIC_FLOAT)
    err = spd__mrun_float_slabs(&r);
  if (!err && r.resume && r.o.numeric == SPD_NUMERIC_FLOAT)
    err = spd__mrun_float_get_state(&r, r.resume);
  if (!err)
    err = spd__mrun_make_order(&r);
  if (!err)
    err = run_machine(&r, opts, NULL, stats);
  if (!err)
    err = spd__mrun_read_results(&r, m, spd__mrun_epoch_results(&r) ? r.epochs - 1 : 0);
  if (!err && run_out && r.net)
    err = keep_run(&r, run_out);
  spd__mrun_free(&r);
  if (!err && history)
    *history = (spd_history_t){.ctx = ctx, .n_epochs = cfg->epochs, .epochs = logs};
  else
    spd_free(ctx, logs);
  return err;
}

/* One go of the run: map (a recovery keeps the placement), load, and
 * watch it to the end. */
static int attempt(mrun_t *r, spd_machine_stats_t *st) {
  /* Training's first epoch begins before mapping, so its time (and the
   * bar's first step, as Keras's first step includes tracing) counts the
   * mapping and loading as well. */
  r->progress.n = r->n;
  r->progress.out_size = r->out_size;
  r->progress.fixed = r->o.numeric == SPD_NUMERIC_FIXED;
  r->progress.first_epoch = r->first_epoch;
  r->progress.skip = r->skip;
  if (!r->cfg) {
    r->progress.cb = r->o.progress;
    r->progress.batch = (uint32_t)r->o.batch_size;
  }
  if (r->cfg && r->cfg->validation)
    r->progress.validate_cb = validate_epoch;
  if (r->cfg && r->cfg->checkpoint_dir)
    r->progress.checkpoint_cb = spd__mrun_checkpoint_epoch;
  r->progress.validate_ud = r;
  spd__mprogress_begin(&r->progress);
  int err = prepare(r);
  if (!err)
    err = spd__mrun_load(r);
  if (err)
    return err;
  st->chips_used = r->place.chips_used;
  st->cores_used = r->place.cores_used;
  st->samples_in_flight = r->o.slots;
  st->max_router_entries = spd_map_tables_max_entries(&r->routing.tables);
  err = spd__mrun_start(r);
  if (!err)
    err = spd__mrun_stream(r);
  return spd__mrun_read_back(r, err, st);
}

static int run_machine(mrun_t *r0, const spd_machine_run_opts_t *opts,
                       spd_machine_results_t *res, spd_machine_stats_t *stats) {
  double t0 = wall_seconds();
  mrun_t r = *r0;
  int err = 0;
  if (opts)
    r.o = *opts;
  if (!r.o.slots)
    r.o.slots = 2;
  if (!r.o.pace_percent)
    r.o.pace_percent = 125;
  spd_machine_stats_t st = {.numeric = r.o.numeric, .samples = spd__mrun_samples(&r),
                            .provenance = {.max_rx_x = -1, .max_rx_y = -1, .max_rx_p = -1}};
  snprintf(st.machine, sizeof st.machine, "%s", r.machine->name);
  err = attempt(&r, &st);
  /* A core died, or packets lost for good stalled the run: it goes on from
   * its last whole epoch, a dead core's work on a spare one
   * (machine_recover.c), as often as it takes; a stall again before a
   * whole epoch more is done would only repeat itself, and ends the run. */
  while (err && (r.dead || r.stalled) && st.recoveries < SPD__MAX_RECOVERIES &&
         !(r.stalled && r.after_stall && r.progress.done < r.n)) {
    st.cores_failed += r.dead;
    size_t at = (size_t)snprintf(st.failure, sizeof st.failure, "%s", spd_ctx_message(r.ctx));
    at = at < sizeof st.failure ? at : sizeof st.failure - 1;
    spd_ctx_clear(r.ctx);
    mrun_t next;
    err = spd__mrun_recover(&r, &next, st.failure + at, sizeof st.failure - at);
    r = next;
    if (err)
      break;
    st.recoveries++;
    err = attempt(&r, &st);
  }
  st.cores_failed += err && r.dead;
  if (!err && res)
    spd__mrun_decode(&r, res);
  *r0 = r;
  st.simulated_samples_per_second =
      st.simulated_seconds > 0 ? (double)st.samples / st.simulated_seconds : 0;
  st.host_seconds = wall_seconds() - t0;
  st.host_samples_per_second = st.host_seconds > 0 ? (double)st.samples / st.host_seconds : 0;
  st.energy_per_sample_joules = st.samples ? st.energy_joules / (double)st.samples : 0;
  if (!err && r.g && r.routing.trees)
    err = spd__mrun_roofline(&r, &st);
  if (stats)
    *stats = st;
  return err;
}
