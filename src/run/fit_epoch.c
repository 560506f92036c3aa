#include "run/fit_epoch.h"

#include <time.h>

static double seconds_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int spd__fit_run_epoch(spd_ctx_t *ctx, const spd_fit_config_t *cfg, size_t n, int epoch,
                       spd__fit_batch_fn train_batch, void *trainer, size_t *batch,
                       spd_mean_t *loss, spd_mean_t *acc, spd_epoch_logs_t *logs) {
  const spd_fit_callbacks_t *cb = &cfg->callbacks;
  size_t steps = (n + cfg->batch_size - 1) / cfg->batch_size;
  if (cb->on_epoch_begin_cb)
    cb->on_epoch_begin_cb(cb->ud, epoch, cfg->epochs, steps);
  double start = seconds_now();
  for (size_t s = *batch; s < steps; s++) {
    if (cb->should_stop_cb && cb->should_stop_cb(cb->ud))
      return SPD_EINTERRUPTED;
    size_t first = s * cfg->batch_size;
    size_t count = n - first < cfg->batch_size ? n - first : cfg->batch_size;
    int rc = train_batch(trainer, first, count, loss, acc);
    if (rc)
      return rc;
    *batch = s + 1;
    if (cb->on_batch_cb &&
        cb->on_batch_cb(cb->ud, s + 1, steps, spd_mean_value(loss), spd_mean_value(acc)))
      return spd_ctx_fail(ctx, SPD_ESTATE,
                          "training stopped by a callback in epoch %d at batch %zu", epoch + 1,
                          s + 1);
  }
  *logs = (spd_epoch_logs_t){.epoch = epoch, .loss = spd_mean_value(loss),
                             .accuracy = spd_mean_value(acc),
                             .seconds = seconds_now() - start};
  return 0;
}

static int save_checkpoint(spd__ckpt_run_t *run, const spd__fit_ops_t *ops, void *trainer) {
  spd__blob_t state;
  spd__blob_init(&state, run->model->ctx);
  int rc = ops->save_state_cb(trainer, &state);
  if (!rc)
    rc = spd__checkpoint_save(run, &state);
  spd__blob_free(&state);
  return rc;
}

static int resume(spd__ckpt_run_t *run, const spd__fit_ops_t *ops, void *trainer) {
  spd__blob_reader_t state;
  int rc = spd__checkpoint_resume(run, &state);
  if (!rc)
    rc = ops->load_state_cb(trainer, &state);
  if (!rc && state.pos != state.len)
    rc = spd_ctx_fail(run->model->ctx, SPD_EFORMAT, "'%s' holds %zu bytes more than this "
                      "run's state (a checkpoint of another run?)", state.file,
                      state.len - state.pos);
  return rc;
}

int spd__fit_loop(spd__ckpt_run_t *run, const spd__fit_ops_t *ops, void *trainer) {
  const spd_fit_config_t *cfg = run->cfg;
  spd_ctx_t *ctx = run->model->ctx;
  run->pos = (spd__ckpt_pos_t){0};
  int rc = cfg->resume ? resume(run, ops, trainer) : 0;
  while (!rc && run->pos.epoch < cfg->epochs) {
    spd__ckpt_pos_t *p = &run->pos;
    spd_epoch_logs_t *logs = &run->history[p->epoch];
    /* a carried optimizer's fit goes on with the shuffle streams after its */
    ops->order_cb(trainer, (int)(p->epoch + run->base.epochs));
    rc = spd__fit_run_epoch(ctx, cfg, run->train->n, p->epoch, ops->train_batch, trainer,
                            &p->batch, &p->loss, &p->accuracy, logs);
    p->step = ops->step_cb(trainer);
    if (!rc && cfg->validation)
      rc = ops->validate_cb(trainer, logs);
    if (rc)
      break;
    *p = (spd__ckpt_pos_t){.epoch = p->epoch + 1, .step = p->step};
    /* The epoch's checkpoint first, so on_epoch_end finds it on disk (a
     * caller's ModelCheckpoint copies it). */
    if (cfg->checkpoint_dir && (rc = save_checkpoint(run, ops, trainer)))
      break;
    if (cfg->callbacks.on_epoch_end_cb)
      cfg->callbacks.on_epoch_end_cb(cfg->callbacks.ud, logs);
  }
  if (rc != SPD_EINTERRUPTED)
    return rc;
  if (cfg->checkpoint_dir && (rc = save_checkpoint(run, ops, trainer)))
    return rc;
  return spd__checkpoint_interrupted(run);
}
