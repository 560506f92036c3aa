#include "run/machine_progress.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "spindle/dataspec.h"
#include "spindle/fixed_math.h"

static double seconds_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float record_float(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

double spd__record_loss(const uint32_t *rec, uint32_t out_size, bool fixed) {
  uint64_t lw = (uint64_t)rec[out_size] | (uint64_t)rec[out_size + 1] << 32;
  if (fixed)
    return ldexp((double)(int64_t)lw, -SPD_FX_LOSS_FRAC);
  uint32_t label = rec[out_size + 3];
  if ((lw != SPD_DS_LOSS_XENT && lw != SPD_DS_LOSS_XENT_LOGITS) || label >= out_size)
    return 0.0;
  if (lw == SPD_DS_LOSS_XENT_LOGITS) { /* log(sum(exp(z))) - z[label], as the reference */
    double max = record_float(rec[0]), sum = 0;
    for (uint32_t j = 1; j < out_size; j++)
      max = fmax(max, (double)record_float(rec[j]));
    for (uint32_t j = 0; j < out_size; j++)
      sum += exp((double)record_float(rec[j]) - max);
    return max + log(sum) - (double)record_float(rec[label]);
  }
  /* The loss core's softmax outputs, summed in double in their order. */
  double total = 0;
  for (uint32_t j = 0; j < out_size; j++)
    total += (double)record_float(rec[j]);
  double p = (double)record_float(rec[label]) / total;
  return -log(p < 1e-7 ? 1e-7 : p > 1.0 - 1e-7 ? 1.0 - 1e-7 : p);
}

uint32_t spd__records_complete(const uint32_t *records, uint32_t first, uint32_t count,
                               uint32_t out_size) {
  uint32_t w = SPD_DS_RECORD_WORDS(out_size), k = 0;
  while (k < count && records[(size_t)k * w + w - 1] == first + k + 1u)
    k++;
  return k;
}

static void begin_epoch(spd__mprogress_t *p, uint32_t epoch) {
  const spd_fit_callbacks_t *cb = p->cb;
  p->loss_sum = 0;
  p->hits = 0;
  p->epoch_start = seconds_now();
  if (p->logs && cb && cb->on_epoch_begin_cb)
    cb->on_epoch_begin_cb(cb->ud, (int)epoch, (int)p->epochs, (p->n + p->batch - 1) / p->batch);
}

void spd__mprogress_begin(spd__mprogress_t *p) {
  if (!p->batch)
    p->batch = 32;
  if (!p->epochs)
    p->epochs = 1;
  begin_epoch(p, p->first_epoch);
  p->loss_sum = p->seed_loss; /* a run resumed mid-epoch */
  p->hits = p->seed_hits;
}

static int end_epoch(spd__mprogress_t *p, uint32_t epoch) {
  const spd_fit_callbacks_t *cb = p->cb;
  if (!p->logs)
    return 0;
  spd_epoch_logs_t *logs = &p->logs[epoch];
  *logs = (spd_epoch_logs_t){.epoch = (int)epoch, .loss = p->loss_sum / p->n,
                             .accuracy = (double)p->hits / p->n};
  int err = p->validate_cb ? p->validate_cb(p->validate_ud, epoch, logs) : 0;
  if (err)
    return err;
  logs->seconds = seconds_now() - p->epoch_start;
  if (p->checkpoint_cb && (err = p->checkpoint_cb(p->validate_ud, epoch)))
    return err;
  if (cb && cb->on_epoch_end_cb) /* after the checkpoint, as spd__fit_loop */
    cb->on_epoch_end_cb(cb->ud, logs);
  if (epoch + 1 < p->epochs)
    begin_epoch(p, epoch + 1);
  return 0;
}

/* One complete record, sample @p i of its epoch: a batch's last sample
 * reports the batch, an epoch's last one the epoch. */
static int take_one(spd_ctx_t *ctx, spd__mprogress_t *p, const uint32_t *rec, uint32_t epoch,
                    uint32_t i) {
  p->loss_sum += spd__record_loss(rec, p->out_size, p->fixed);
  p->hits += rec[p->out_size + 2] == rec[p->out_size + 3];
  size_t b = p->batch, steps = (p->n + b - 1) / b;
  const spd_fit_callbacks_t *cb = p->cb;
  if (((i + 1) % b == 0 || i + 1 == p->n) && cb && cb->on_batch_cb) {
    size_t step = i / b + 1;
    if (cb->on_batch_cb(cb->ud, step, steps, p->loss_sum / (i + 1), (double)p->hits / (i + 1)))
      return spd_ctx_fail(ctx, SPD_ESTATE, "the run was stopped by a callback in epoch %u at "
                          "batch %zu", epoch + 1, step);
  }
  return i + 1 == p->n ? end_epoch(p, epoch) : 0;
}

int spd__mprogress_take(spd_ctx_t *ctx, spd__mprogress_t *p, const uint32_t *records,
                        uint32_t upto) {
  uint32_t w = SPD_DS_RECORD_WORDS(p->out_size);
  for (; p->done < upto; p->done++) {
    uint32_t at = p->done + p->skip; /* within the run's first epoch on */
    int err = take_one(ctx, p, records + (size_t)p->done * w, p->first_epoch + at / p->n,
                       at % p->n);
    if (err) {
      p->done++;
      return err;
    }
  }
  return 0;
}
