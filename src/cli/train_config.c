#include "cli/train_config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "spindle/fit_fixed.h"

static int refuse(const char *why) {
  fprintf(stderr, "spindle train: %s\n", why);
  return 2;
}

/* --optimizer, else the file's; the file's hyperparameters apply only to
 * the optimizer it names. */
static int choose_optimizer(const spd_cli_options_t *o, const spd_compile_config_t *file,
                            spd_optimizer_config_t *out) {
  const spd_optimizer_config_t *stated = file && file->has_optimizer ? &file->optimizer : NULL;
  int kind = o->optimizer >= 0 ? o->optimizer : stated ? (int)stated->kind : (int)SPD_OPT_SGD;
  if (stated && (int)stated->kind == kind)
    *out = *stated;
  else
    spd_optimizer_config_defaults(out, (spd_optimizer_kind_t)kind);
  if (!isnan(o->momentum) && o->momentum != 0 && kind == SPD_OPT_ADAM)
    return refuse("--momentum does not apply to adam (it has beta_1)");
  if (!isnan(o->momentum) && kind != SPD_OPT_ADAM)
    out->momentum = (float)o->momentum;
  if (o->nesterov)
    out->nesterov = true;
  if (out->nesterov && (kind != SPD_OPT_SGD || out->momentum == 0))
    return refuse("Nesterov momentum (--nesterov or the model file's) needs sgd and a "
                  "momentum > 0");
  return 0;
}

/* --lr-schedule builds a schedule from --lr (else the rate already chosen)
 * and its arguments; --lr alone makes the rate constant. */
static int choose_schedule(const spd_cli_options_t *o, double run_steps, spd_lr_schedule_t *lr) {
  bool has_args = o->decay_steps || !isnan(o->decay_rate) || !isnan(o->alpha);
  if (o->lr_schedule < 0) {
    if (has_args)
      return refuse("--decay-steps, --decay-rate and --alpha need --lr-schedule");
    if (!isnan(o->lr))
      spd_lr_schedule_constant(lr, o->lr);
    return 0;
  }
  spd_lr_schedule_kind_t kind = (spd_lr_schedule_kind_t)o->lr_schedule;
  const char *name = spd_lr_schedule_name(kind);
  spd_lr_schedule_constant(lr, isnan(o->lr) ? lr->initial_learning_rate : o->lr);
  if (kind == SPD_LR_CONSTANT)
    return has_args ? refuse("--lr-schedule constant takes no --decay-steps, --decay-rate "
                             "or --alpha") : 0;
  if (!isnan(o->alpha) && kind != SPD_LR_COSINE_DECAY)
    return refuse("--alpha applies to --lr-schedule cosine only");
  if (kind == SPD_LR_COSINE_DECAY && !isnan(o->decay_rate))
    return refuse("--decay-rate applies to --lr-schedule exponential and inverse-time, "
                  "not cosine");
  if (kind != SPD_LR_COSINE_DECAY && isnan(o->decay_rate)) {
    fprintf(stderr, "spindle train: --lr-schedule %s needs --decay-rate\n", name);
    return 2;
  }
  lr->kind = kind;
  lr->decay_steps = o->decay_steps ? (double)o->decay_steps : run_steps;
  lr->decay_rate = isnan(o->decay_rate) ? 0 : o->decay_rate;
  lr->alpha = isnan(o->alpha) ? 0 : o->alpha;
  return 0;
}

int spd_cli_train_config(const spd_cli_session_t *s, spd_fit_config_t *cfg) {
  const spd_cli_options_t *o = s->opt;
  spd_fit_config_defaults(cfg);
  cfg->epochs = o->epochs;
  cfg->batch_size = (size_t)o->batch_size;
  cfg->seed = o->seed;
  cfg->shuffle = o->shuffle;
  cfg->loss = s->loss;
  cfg->from_logits = s->from_logits;
  size_t steps = (s->train.n + cfg->batch_size - 1) / cfg->batch_size;
  int rc = choose_optimizer(o, s->model->compile, &cfg->optimizer);
  if (!rc)
    rc = choose_schedule(o, (double)steps * o->epochs, &cfg->optimizer.learning_rate);
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  bool fixed = strcmp(o->numeric, "fixed") == 0;
  if (!rc && (spd_optimizer_config_check(&ctx, &cfg->optimizer) ||
              (fixed && spd_fx_optimizer_check(&ctx, &cfg->optimizer,
                                               (int64_t)steps * o->epochs)))) {
    fprintf(stderr, "spindle train: %s\n", spd_ctx_message(&ctx));
    rc = 2;
  }
  return rc;
}
