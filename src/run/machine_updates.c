/* Update tables for the machine's training cores (machine_updates.h). */
#include "run/machine_updates.h"

#include <math.h>

#include "run/fit_fixed.h"
#include "spindle/dataspec.h"

int spd__mupdate_fixed_table(spd_ctx_t *ctx, const spd_fit_config_t *cfg,
                             const spd_numeric_plan_t *plan, const spd_model_t *m,
                             const spd_fx_net_t *net, int layer, uint32_t n, uint32_t epochs,
                             uint32_t steps, int64_t base, void **out, size_t *bytes) {
  spd_fx_update_t *t = spd_calloc(ctx, (size_t)steps * 2u, sizeof *t);
  if (!t)
    return spd_ctx_fail(ctx, SPD_ENOMEM, "update table of %u steps", steps);
  const fx_layer_t *fl = &net->layers[layer];
  int gf = plan->layers[layer].grad_frac;
  int in_frac = spd_numeric_input_frac(plan, m, layer);
  uint32_t per_epoch = steps / epochs, b = (uint32_t)cfg->batch_size;
  for (uint32_t step = 0; step < steps; step++) {
    uint32_t first = step % per_epoch * b;
    spd_fx_hyper_t h = spd__fx_hyper_of(&cfg->optimizer, base + (int64_t)step);
    h.batch = (int)(n - first < b ? n - first : b); /* the epoch's last batch may be short */
    spd_fx_update_prepare(&t[step * 2u], &h, in_frac + gf, cfg->seed, fl->kernel.stream,
                          fl->kernel.n);
    if (fl->bias.master)
      spd_fx_update_prepare(&t[step * 2u + 1u], &h, gf, cfg->seed, fl->bias.stream,
                            fl->bias.n);
  }
  *out = t;
  *bytes = (size_t)steps * 2u * sizeof *t;
  return 0;
}

int spd__mupdate_float_table(spd_ctx_t *ctx, const spd_optimizer_config_t *o, uint32_t steps,
                             int64_t base, void **out, size_t *bytes) {
  spd_ds_fupdate_t *t = spd_calloc(ctx, steps, sizeof *t);
  if (!t)
    return spd_ctx_fail(ctx, SPD_ENOMEM, "update table of %u steps", steps);
  for (uint32_t step = 0; step < steps; step++) {
    float lr = (float)spd_lr_schedule_at(&o->learning_rate, base + (int64_t)step);
    spd_ds_fupdate_t *u = &t[step];
    *u = (spd_ds_fupdate_t){.adam = o->kind == SPD_OPT_ADAM, .lr = lr,
                            .momentum = o->momentum, .nesterov = o->nesterov,
                            .one_minus_b1 = 1.0f - o->beta_1, .one_minus_b2 = 1.0f - o->beta_2,
                            .epsilon = o->epsilon};
    if (u->adam) {
      double k = (double)(base + (int64_t)step) + 1.0;
      u->lr = (float)(lr * sqrt(1.0 - pow(o->beta_2, k)) / (1.0 - pow(o->beta_1, k)));
    }
  }
  *out = t;
  *bytes = (size_t)steps * sizeof *t;
  return 0;
}
