#include "run/fit_epoch.h"

#include <time.h>

static double seconds_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int spd__fit_run_epoch(spd_ctx_t *ctx, const spd_fit_config_t *cfg, size_t n, int epoch,
                       spd__fit_batch_fn train_batch, void *trainer,
                       spd_epoch_logs_t *logs) {
  const spd_fit_callbacks_t *cb = &cfg->callbacks;
  size_t steps = (n + cfg->batch_size - 1) / cfg->batch_size;
  if (cb->on_epoch_begin_cb)
    cb->on_epoch_begin_cb(cb->ud, epoch, cfg->epochs, steps);
  double start = seconds_now();
  spd_mean_t loss, acc;
  spd_mean_reset(&loss);
  spd_mean_reset(&acc);
  for (size_t s = 0; s < steps; s++) {
    size_t first = s * cfg->batch_size;
    size_t count = n - first < cfg->batch_size ? n - first : cfg->batch_size;
    int rc = train_batch(trainer, first, count, &loss, &acc);
    if (rc)
      return rc;
    if (cb->on_batch_cb &&
        cb->on_batch_cb(cb->ud, s + 1, steps, spd_mean_value(&loss), spd_mean_value(&acc)))
      return spd_ctx_fail(ctx, SPD_ESTATE,
                          "training stopped by a callback in epoch %d at batch %zu", epoch + 1,
                          s + 1);
  }
  *logs = (spd_epoch_logs_t){.epoch = epoch, .loss = spd_mean_value(&loss),
                             .accuracy = spd_mean_value(&acc),
                             .seconds = seconds_now() - start};
  return 0;
}
