/* Optimizers and learning-rate schedules with Keras 3's update rules and
 * defaults (keras/src/optimizers/{sgd,adam,rmsprop}.py and
 * schedules/learning_rate_schedule.py). An optimizer updates (parameter,
 * gradient) pairs of float32 tensors, so it serves the host reference
 * executor now and states the rule the SpiNNaker tiles implement later
 * (docs/training.md gives the formulas). */
#ifndef SPINDLE_OPTIM_H
#define SPINDLE_OPTIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spindle/context.h"

#define SPD_LR_MAX_BOUNDARIES 16

typedef enum spd_lr_schedule_kind {
  SPD_LR_CONSTANT = 0,
  SPD_LR_EXPONENTIAL_DECAY,   /* lr0 * rate^(step / decay_steps) */
  SPD_LR_INVERSE_TIME_DECAY,  /* lr0 / (1 + rate * step / decay_steps) */
  SPD_LR_PIECEWISE_CONSTANT,  /* values[i] for boundaries[i-1] < step <= boundaries[i] */
  SPD_LR_COSINE_DECAY,        /* lr0 * ((1-alpha) * 0.5 (1 + cos(pi min(step,T)/T)) + alpha) */
  SPD_LR_SCHEDULE_COUNT
} spd_lr_schedule_kind_t;

/** spindle's name of a schedule kind: "constant", "exponential",
 *  "inverse-time", "piecewise", "cosine". */
const char *spd_lr_schedule_name(spd_lr_schedule_kind_t kind);
/** Keras's class name: "ExponentialDecay", "InverseTimeDecay",
 *  "PiecewiseConstantDecay", "CosineDecay"; NULL for a constant rate. */
const char *spd_lr_schedule_class(spd_lr_schedule_kind_t kind);
/** Accepts spindle's name or Keras's class name (exact); -1 if unknown. */
int spd_lr_schedule_parse(const char *name);

/** A learning rate as a function of the optimizer step (the number of
 *  updates already made: 0 for the first batch), as Keras evaluates
 *  `learning_rate(optimizer.iterations)`. */
typedef struct spd_lr_schedule {
  spd_lr_schedule_kind_t kind;
  double initial_learning_rate;
  double decay_steps;           /* > 0 for the decays */
  double decay_rate;            /* exponential and inverse-time decay */
  bool staircase;               /* floor(step / decay_steps) */
  double alpha;                 /* cosine decay floor, fraction of lr0 */
  int n_boundaries;             /* piecewise: values has n_boundaries + 1 */
  int64_t boundaries[SPD_LR_MAX_BOUNDARIES];
  double values[SPD_LR_MAX_BOUNDARIES + 1];
} spd_lr_schedule_t;

/** A constant learning rate. */
void spd_lr_schedule_constant(spd_lr_schedule_t *s, double lr);
/** The schedule's learning rate at @p step (Keras's formula, in double). */
double spd_lr_schedule_at(const spd_lr_schedule_t *s, int64_t step);
/** Check a schedule's arguments as Keras's constructors do (decay_steps > 0,
 *  boundaries strictly increasing, finite values).
 *  @return 0 or SPD_EINVAL with a diagnostic naming the argument. */
int spd_lr_schedule_check(spd_ctx_t *ctx, const spd_lr_schedule_t *s);

#define SPD_OPTIMIZERS(X)                                                     \
  X(SGD, "sgd", "SGD")                                                        \
  X(ADAM, "adam", "Adam")                                                     \
  X(RMSPROP, "rmsprop", "RMSprop")

typedef enum spd_optimizer_kind {
#define SPD_OPTIMIZER_ENUM_(id, name, cls) SPD_OPT_##id,
  SPD_OPTIMIZERS(SPD_OPTIMIZER_ENUM_)
#undef SPD_OPTIMIZER_ENUM_
  SPD_OPT_COUNT
} spd_optimizer_kind_t;

/** "sgd", "adam", "rmsprop". */
const char *spd_optimizer_name(spd_optimizer_kind_t kind);
/** Accepts the Keras string ("sgd") or class name ("SGD"), any case;
 *  -1 if unknown. */
int spd_optimizer_parse(const char *name);

/** Hyperparameters; fields not used by a kind are ignored. */
typedef struct spd_optimizer_config {
  spd_optimizer_kind_t kind;
  spd_lr_schedule_t learning_rate;
  float momentum;     /* SGD (0), RMSprop (0) */
  bool nesterov;      /* SGD (false) */
  float beta_1;       /* Adam (0.9) */
  float beta_2;       /* Adam (0.999) */
  float epsilon;      /* Adam, RMSprop (1e-7) */
  float rho;          /* RMSprop (0.9) */
  bool centered;      /* RMSprop (false) */
} spd_optimizer_config_t;

/** Keras's defaults for @p kind: SGD lr 0.01; Adam and RMSprop lr 0.001. */
void spd_optimizer_config_defaults(spd_optimizer_config_t *cfg,
                                   spd_optimizer_kind_t kind);

/** Check hyperparameters as spd_optimizer_new does (momentum, betas and rho
 *  in [0, 1), epsilon > 0, the schedule's arguments).
 *  @return 0 or SPD_EINVAL with a diagnostic naming the argument. */
int spd_optimizer_config_check(spd_ctx_t *ctx, const spd_optimizer_config_t *cfg);

#define SPD_OPTIM_MAX_SLOTS 3

/** State of one parameter tensor: up to three slot arrays of its size
 *  (SGD momentum; Adam m, v; RMSprop velocity, momentum, average gradient),
 *  zero at the start as in Keras. */
typedef struct spd_optim_slots {
  size_t size;
  float *slot[SPD_OPTIM_MAX_SLOTS];
} spd_optim_slots_t;

/** An optimizer over a fixed list of parameter tensors. Owned by its
 *  creator; free with spd_optimizer_free. */
typedef struct spd_optimizer {
  spd_ctx_t *ctx;
  spd_optimizer_config_t config;
  int64_t iterations;           /* completed steps (Keras's `iterations`) */
  int n_tensors;
  spd_optim_slots_t *tensors;
} spd_optimizer_t;

/** Create an optimizer for @p n_tensors parameter tensors of @p sizes
 *  elements each, allocating its state through @p ctx. *out is owned by the
 *  caller (spd_optimizer_free); it does not keep @p sizes.
 *  @return 0, SPD_EINVAL (bad hyperparameter, named), SPD_ENOMEM. */
int spd_optimizer_new(spd_ctx_t *ctx, const spd_optimizer_config_t *cfg,
                      const size_t *sizes, int n_tensors, spd_optimizer_t **out);
void spd_optimizer_free(spd_optimizer_t *opt);

/** The learning rate the current step uses (the schedule at `iterations`). */
double spd_optimizer_learning_rate(const spd_optimizer_t *opt);

/** Update tensor @p index in place from its gradient with the current step's
 *  learning rate; does not advance the step. @p param and @p grad hold the
 *  size given at creation. */
void spd_optimizer_update(spd_optimizer_t *opt, int index, float *param,
                          const float *grad);

/** Finish a step: iterations += 1 (after every tensor was updated). */
void spd_optimizer_finish_step(spd_optimizer_t *opt);

/** One whole step: update every tensor i from grads[i], then finish. */
void spd_optimizer_step(spd_optimizer_t *opt, float *const *params,
                        const float *const *grads);

/** Zero the state and the step counter (a fresh optimizer). */
void spd_optimizer_reset(spd_optimizer_t *opt);

#endif
