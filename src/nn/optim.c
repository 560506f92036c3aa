/* The optimizer object: configuration, per-tensor state and the step
 * counter; the update rules live in optim_<kind>.c. */
#include "spindle/optim.h"

#include <math.h>
#include <string.h>
#include <strings.h>

#include "nn/optim_rules.h"

static const char *const names[] = {
#define SPD_OPTIMIZER_NAME_(id, name, cls) name,
    SPD_OPTIMIZERS(SPD_OPTIMIZER_NAME_)
#undef SPD_OPTIMIZER_NAME_
};

static const char *const class_names[] = {
#define SPD_OPTIMIZER_CLASS_(id, name, cls) cls,
    SPD_OPTIMIZERS(SPD_OPTIMIZER_CLASS_)
#undef SPD_OPTIMIZER_CLASS_
};

const char *spd_optimizer_name(spd_optimizer_kind_t kind) {
  return (unsigned)kind < SPD_OPT_COUNT ? names[kind] : "unknown";
}

int spd_optimizer_parse(const char *name) {
  for (int k = 0; k < SPD_OPT_COUNT; k++)
    if (!strcasecmp(name, names[k]) || !strcasecmp(name, class_names[k]))
      return k;
  return -1;
}

void spd_optimizer_config_defaults(spd_optimizer_config_t *cfg,
                                   spd_optimizer_kind_t kind) {
  memset(cfg, 0, sizeof *cfg);
  cfg->kind = kind;
  spd_lr_schedule_constant(&cfg->learning_rate, kind == SPD_OPT_SGD ? 0.01 : 0.001);
  cfg->beta_1 = 0.9f;
  cfg->beta_2 = 0.999f;
  cfg->epsilon = 1e-7f;
  cfg->rho = 0.9f;
}

unsigned spd__optim_slot_mask(const spd_optimizer_config_t *cfg) {
  switch (cfg->kind) {
  case SPD_OPT_SGD:
    return cfg->momentum != 0.0f ? 1u : 0u;
  case SPD_OPT_ADAM:
    return 3u;
  case SPD_OPT_RMSPROP:
    return 1u | (cfg->momentum > 0.0f ? 2u : 0u) | (cfg->centered ? 4u : 0u);
  default:
    return 0;
  }
}

static bool in_unit(float x) { return x >= 0.0f && x < 1.0f; }

int spd_optimizer_config_check(spd_ctx_t *ctx, const spd_optimizer_config_t *cfg) {
  if ((unsigned)cfg->kind >= SPD_OPT_COUNT)
    return spd_ctx_fail(ctx, SPD_EINVAL, "unknown optimizer kind %d", (int)cfg->kind);
  const char *name = names[cfg->kind];
  if (!in_unit(cfg->momentum) && !(cfg->kind == SPD_OPT_SGD && cfg->momentum == 0))
    return spd_ctx_fail(ctx, SPD_EINVAL, "%s: momentum must be in [0, 1) (got %g)",
                        name, cfg->momentum);
  if (cfg->kind == SPD_OPT_ADAM && (!in_unit(cfg->beta_1) || !in_unit(cfg->beta_2)))
    return spd_ctx_fail(ctx, SPD_EINVAL, "adam: beta_1 and beta_2 must be in [0, 1) "
                        "(got %g, %g)", cfg->beta_1, cfg->beta_2);
  if (cfg->kind == SPD_OPT_RMSPROP && !in_unit(cfg->rho))
    return spd_ctx_fail(ctx, SPD_EINVAL, "rmsprop: rho must be in [0, 1) (got %g)",
                        cfg->rho);
  if (cfg->kind != SPD_OPT_SGD && !(cfg->epsilon > 0.0f && isfinite(cfg->epsilon)))
    return spd_ctx_fail(ctx, SPD_EINVAL, "%s: epsilon must be > 0 (got %g)", name,
                        cfg->epsilon);
  return spd_lr_schedule_check(ctx, &cfg->learning_rate);
}

static void free_tensors(spd_ctx_t *ctx, spd_optim_slots_t *tensors, int n) {
  for (int i = 0; i < n; i++)
    for (int k = 0; k < SPD_OPTIM_MAX_SLOTS; k++)
      spd_free(ctx, tensors[i].slot[k]);
  spd_free(ctx, tensors);
}

static int alloc_slots(spd_ctx_t *ctx, unsigned mask, spd_optim_slots_t *t) {
  for (int k = 0; k < SPD_OPTIM_MAX_SLOTS; k++) {
    if (!(mask & (1u << k)))
      continue;
    t->slot[k] = spd_calloc(ctx, t->size ? t->size : 1, sizeof(float));
    if (!t->slot[k])
      return spd_ctx_fail(ctx, SPD_ENOMEM, "optimizer state: %zu floats", t->size);
  }
  return 0;
}

int spd_optimizer_new(spd_ctx_t *ctx, const spd_optimizer_config_t *cfg,
                      const size_t *sizes, int n_tensors, spd_optimizer_t **out) {
  int rc = spd_optimizer_config_check(ctx, cfg);
  if (rc)
    return rc;
  if (n_tensors < 0)
    return spd_ctx_fail(ctx, SPD_EINVAL, "optimizer: %d parameter tensors", n_tensors);
  spd_optimizer_t *opt = spd_calloc(ctx, 1, sizeof *opt);
  spd_optim_slots_t *tensors = spd_calloc(ctx, n_tensors ? (size_t)n_tensors : 1,
                                          sizeof *tensors);
  if (!opt || !tensors) {
    spd_free(ctx, opt);
    spd_free(ctx, tensors);
    return spd_ctx_fail(ctx, SPD_ENOMEM, "optimizer for %d tensors", n_tensors);
  }
  unsigned mask = spd__optim_slot_mask(cfg);
  for (int i = 0; i < n_tensors; i++) {
    tensors[i].size = sizes[i];
    if ((rc = alloc_slots(ctx, mask, &tensors[i]))) {
      free_tensors(ctx, tensors, n_tensors);
      spd_free(ctx, opt);
      return rc;
    }
  }
  *opt = (spd_optimizer_t){.ctx = ctx, .config = *cfg, .n_tensors = n_tensors,
                           .tensors = tensors};
  *out = opt;
  return 0;
}

void spd_optimizer_free(spd_optimizer_t *opt) {
  if (!opt)
    return;
  free_tensors(opt->ctx, opt->tensors, opt->n_tensors);
  spd_free(opt->ctx, opt);
}

double spd_optimizer_learning_rate(const spd_optimizer_t *opt) {
  return spd_lr_schedule_at(&opt->config.learning_rate, opt->iterations);
}

void spd_optimizer_update(spd_optimizer_t *opt, int index, float *param,
                          const float *grad) {
  spd_optim_slots_t *s = &opt->tensors[index];
  float lr = (float)spd_optimizer_learning_rate(opt);
  switch (opt->config.kind) {
  case SPD_OPT_SGD:
    spd__sgd_update(&opt->config, lr, s, param, grad);
    break;
  case SPD_OPT_ADAM:
    spd__adam_update(&opt->config, lr, opt->iterations, s, param, grad);
    break;
  case SPD_OPT_RMSPROP:
    spd__rmsprop_update(&opt->config, lr, s, param, grad);
    break;
  default:
    break;
  }
}

void spd_optimizer_finish_step(spd_optimizer_t *opt) { opt->iterations++; }

void spd_optimizer_step(spd_optimizer_t *opt, float *const *params,
                        const float *const *grads) {
  for (int i = 0; i < opt->n_tensors; i++)
    spd_optimizer_update(opt, i, params[i], grads[i]);
  spd_optimizer_finish_step(opt);
}

void spd_optimizer_reset(spd_optimizer_t *opt) {
  opt->iterations = 0;
  for (int i = 0; i < opt->n_tensors; i++)
    for (int k = 0; k < SPD_OPTIM_MAX_SLOTS; k++)
      if (opt->tensors[i].slot[k])
        memset(opt->tensors[i].slot[k], 0, opt->tensors[i].size * sizeof(float));
}
