/* Which optimizer hyperparameters the fixed-point update can carry out
 * (docs/numerics.md, "Optimizer hyperparameters"). Master weights are s7.24:
 * an update lr * g with |g| below the format's 2^7 moves a weight by at
 * least one LSB (2^-24) only when lr >= 2^-31, and with lr above 2^7 one
 * unit gradient crosses the whole range of a weight. Outside [2^-31, 2^7]
 * a fixed-point run cannot follow float training (tiny rates round every
 * step away, huge ones saturate every weight), so both are refused before
 * training starts rather than run to a silently wrong model. */
#include "spindle/fit_fixed.h"

#include <math.h>
#include <stdio.h>

#define LR_MIN_LOG2 (-31)
#define LR_MAX_LOG2 7
/* Adam adds epsilon at frac 24 and RMSprop at frac 48, both in int64;
 * 2^7 keeps either far from its limit. */
#define EPS_MAX_LOG2 7

/* "fixed point: WHAT V (WHERE) is outside ...": @p where may be "". */
static int out_of_range(spd_ctx_t *ctx, const char *what, double v, const char *where, int lo,
                        int hi) {
  return spd_ctx_fail(ctx, SPD_EINVAL,
                      "fixed point: %s %g%s is outside the representable range "
                      "[2^%d, 2^%d] = [%g, %g] (or 0)",
                      what, v, where, lo, hi, ldexp(1.0, lo), ldexp(1.0, hi));
}

/* A rate of 0 (a schedule decayed to its end) updates nothing, which the
 * format represents exactly. */
static int check_rate(spd_ctx_t *ctx, double lr, const char *where) {
  if (lr == 0.0)
    return 0;
  if (!(lr >= ldexp(1.0, LR_MIN_LOG2) && lr <= ldexp(1.0, LR_MAX_LOG2)))
    return out_of_range(ctx, "learning rate", lr, where, LR_MIN_LOG2, LR_MAX_LOG2);
  return 0;
}

/* Every schedule spindle has is monotonic between its first and last step
 * (cosine decay is flat after decay_steps), except piecewise constant,
 * whose values are checked one by one. */
static int check_schedule(spd_ctx_t *ctx, const spd_lr_schedule_t *s, int64_t steps) {
  char where[96];
  if (s->kind == SPD_LR_PIECEWISE_CONSTANT) {
    for (int i = 0; i <= s->n_boundaries; i++) {
      snprintf(where, sizeof where, " (PiecewiseConstantDecay value %d)", i);
      int rc = check_rate(ctx, s->values[i], where);
      if (rc)
        return rc;
    }
    return 0;
  }
  int rc = check_rate(ctx, spd_lr_schedule_at(s, 0), "");
  if (rc || s->kind == SPD_LR_CONSTANT || steps <= 1)
    return rc;
  snprintf(where, sizeof where, " (the %s schedule's, at step %lld)",
           spd_lr_schedule_name(s->kind), (long long)steps - 1);
  return check_rate(ctx, spd_lr_schedule_at(s, steps - 1), where);
}

int spd_fx_optimizer_check(spd_ctx_t *ctx, const spd_optimizer_config_t *o, int64_t steps) {
  int rc = check_schedule(ctx, &o->learning_rate, steps);
  if (rc)
    return rc;
  /* Momentum scales a velocity held at frac 24: below 2^-31 even the
   * largest velocity times it rounds to nothing. */
  if (o->momentum != 0.0f && !(o->momentum >= ldexp(1.0, LR_MIN_LOG2)))
    return out_of_range(ctx, "momentum", o->momentum, "", LR_MIN_LOG2, 0);
  if (o->kind != SPD_OPT_SGD && !(o->epsilon <= ldexp(1.0, EPS_MAX_LOG2)))
    return spd_ctx_fail(ctx, SPD_EINVAL,
                        "fixed point: epsilon %g is above the representable 2^%d = %g",
                        o->epsilon, EPS_MAX_LOG2, ldexp(1.0, EPS_MAX_LOG2));
  return 0;
}
