/* Learning-rate schedules with the formulas of Keras 3's
 * keras/src/optimizers/schedules/learning_rate_schedule.py. */
#include "spindle/optim.h"

#include <math.h>
#include <string.h>

#define PI 3.14159265358979323846

static const char *const names[SPD_LR_SCHEDULE_COUNT] = {
    [SPD_LR_CONSTANT] = "constant",
    [SPD_LR_EXPONENTIAL_DECAY] = "exponential",
    [SPD_LR_INVERSE_TIME_DECAY] = "inverse-time",
    [SPD_LR_PIECEWISE_CONSTANT] = "piecewise",
    [SPD_LR_COSINE_DECAY] = "cosine",
};

static const char *const classes[SPD_LR_SCHEDULE_COUNT] = {
    [SPD_LR_EXPONENTIAL_DECAY] = "ExponentialDecay",
    [SPD_LR_INVERSE_TIME_DECAY] = "InverseTimeDecay",
    [SPD_LR_PIECEWISE_CONSTANT] = "PiecewiseConstantDecay",
    [SPD_LR_COSINE_DECAY] = "CosineDecay",
};

const char *spd_lr_schedule_name(spd_lr_schedule_kind_t kind) {
  return (unsigned)kind < SPD_LR_SCHEDULE_COUNT ? names[kind] : "unknown";
}

const char *spd_lr_schedule_class(spd_lr_schedule_kind_t kind) {
  return (unsigned)kind < SPD_LR_SCHEDULE_COUNT ? classes[kind] : NULL;
}

int spd_lr_schedule_parse(const char *name) {
  for (int k = 0; k < SPD_LR_SCHEDULE_COUNT; k++)
    if (!strcmp(name, names[k]) || (classes[k] && !strcmp(name, classes[k])))
      return k;
  return -1;
}

void spd_lr_schedule_constant(spd_lr_schedule_t *s, double lr) {
  *s = (spd_lr_schedule_t){.kind = SPD_LR_CONSTANT, .initial_learning_rate = lr};
}

static double decay_progress(const spd_lr_schedule_t *s, int64_t step) {
  double p = (double)step / s->decay_steps;
  return s->staircase ? floor(p) : p;
}

/* Keras: values[0] while step <= boundaries[0], values[i] while
 * boundaries[i-1] < step <= boundaries[i], values[n] after the last. */
static double piecewise(const spd_lr_schedule_t *s, int64_t step) {
  int i = 0;
  while (i < s->n_boundaries && step > s->boundaries[i])
    i++;
  return s->values[i];
}

/* Without warm-up: the step is clipped at decay_steps, so the rate stays at
 * alpha * lr0 afterwards. */
static double cosine(const spd_lr_schedule_t *s, int64_t step) {
  double t = fmin((double)step, s->decay_steps);
  double cosine_decayed = 0.5 * (1.0 + cos(PI * t / s->decay_steps));
  return s->initial_learning_rate * ((1.0 - s->alpha) * cosine_decayed + s->alpha);
}

double spd_lr_schedule_at(const spd_lr_schedule_t *s, int64_t step) {
  switch (s->kind) {
  case SPD_LR_EXPONENTIAL_DECAY:
    return s->initial_learning_rate * pow(s->decay_rate, decay_progress(s, step));
  case SPD_LR_INVERSE_TIME_DECAY:
    return s->initial_learning_rate / (1.0 + s->decay_rate * decay_progress(s, step));
  case SPD_LR_PIECEWISE_CONSTANT:
    return piecewise(s, step);
  case SPD_LR_COSINE_DECAY:
    return cosine(s, step);
  case SPD_LR_CONSTANT:
  default:
    return s->initial_learning_rate;
  }
}

static int check_piecewise(spd_ctx_t *ctx, const spd_lr_schedule_t *s) {
  if (s->n_boundaries < 1 || s->n_boundaries > SPD_LR_MAX_BOUNDARIES)
    return spd_ctx_fail(ctx, SPD_EINVAL,
                        "PiecewiseConstantDecay: %d boundaries (1..%d allowed)",
                        s->n_boundaries, SPD_LR_MAX_BOUNDARIES);
  for (int i = 1; i < s->n_boundaries; i++)
    if (s->boundaries[i] <= s->boundaries[i - 1])
      return spd_ctx_fail(ctx, SPD_EINVAL,
                          "PiecewiseConstantDecay: boundaries must increase "
                          "strictly (boundary %d is %lld after %lld)",
                          i, (long long)s->boundaries[i],
                          (long long)s->boundaries[i - 1]);
  for (int i = 0; i <= s->n_boundaries; i++)
    if (!isfinite(s->values[i]) || s->values[i] < 0)
      return spd_ctx_fail(ctx, SPD_EINVAL,
                          "PiecewiseConstantDecay: value %d is %g", i, s->values[i]);
  return 0;
}

int spd_lr_schedule_check(spd_ctx_t *ctx, const spd_lr_schedule_t *s) {
  if (s->kind == SPD_LR_PIECEWISE_CONSTANT)
    return check_piecewise(ctx, s);
  if (!isfinite(s->initial_learning_rate) || s->initial_learning_rate < 0)
    return spd_ctx_fail(ctx, SPD_EINVAL,
                        "learning rate must be a finite number >= 0 (got %g)",
                        s->initial_learning_rate);
  if (s->kind == SPD_LR_CONSTANT)
    return 0;
  if (!(s->decay_steps > 0) || !isfinite(s->decay_steps))
    return spd_ctx_fail(ctx, SPD_EINVAL,
                        "learning-rate schedule: decay_steps must be > 0 (got %g)",
                        s->decay_steps);
  if (!isfinite(s->decay_rate) || !isfinite(s->alpha))
    return spd_ctx_fail(ctx, SPD_EINVAL,
                        "learning-rate schedule: decay_rate and alpha must be finite");
  return 0;
}
