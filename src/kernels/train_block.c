#include "kernels/train_block.h"

#include <math.h>
#include <string.h>

#include "spindle/error.h"

/* Cycles per weight per update (docs/dense-on-machine.md, "Cost model"). */
static uint32_t update_cycles(const spd_fx_update_t *u) {
  if (u->kind == SPD_FX_OPT_ADAM)
    return 600u;
  if (u->kind == SPD_FX_OPT_RMSPROP)
    return 500u;
  return u->has_momentum ? 220u : 150u;
}

int spd_kc_params_init(spd_kc_t *kc, spd_kc_params_t *p, uint32_t rows, uint32_t cols,
                       int32_t *master, int16_t *w16, uint32_t which) {
  const spd_ds_config_t *c = &kc->cfg;
  uint32_t n = rows * cols;
  *p = (spd_kc_params_t){.rows = rows, .cols = cols, .which = which, .master = master,
                         .w16 = w16, .weight_frac = c->weight_frac};
  if (which == 0) {
    p->row_lo = c->row_lo;
    p->col_lo = c->col_lo;
    p->ld = c->ld;
  } else {
    p->col_lo = c->col_lo;
  }
  p->grad = spd_kc_alloc(kc, n * 8u);
  if (c->state & 1u)
    p->a = spd_kc_alloc(kc, n * 4u);
  if (c->state & 2u)
    p->b = spd_kc_alloc(kc, n * 8u);
  if (c->state & 4u)
    p->c = spd_kc_alloc(kc, n * 4u);
  if (!p->grad || ((c->state & 1u) && !p->a) || ((c->state & 2u) && !p->b) ||
      ((c->state & 4u) && !p->c))
    return SPD_ENOMEM;
  return 0;
}

int spd_kc_params_update(spd_kc_t *kc, spd_kc_params_t *p, uint32_t step, uint32_t *sat) {
  spd_fx_update_t u;
  uint32_t at = kc->cfg.update_addr + (step * 2u + p->which) * (uint32_t)sizeof u;
  int err = spd_core_sdram_read(kc->core, at, &u, sizeof u);
  if (err)
    return err;
  for (uint32_t r = 0; r < p->rows; r++)
    for (uint32_t c = 0; c < p->cols; c++) {
      uint32_t e = r * p->cols + c;
      uint64_t element = (uint64_t)(p->row_lo + r) * p->ld + p->col_lo + c;
      spd_fx_slot_ptrs_t s = {&p->master[e], p->a ? &p->a[e] : NULL, p->b ? &p->b[e] : NULL,
                              p->c ? &p->c[e] : NULL};
      spd_fx_update_one(&u, s, element, p->grad[e], sat);
      p->grad[e] = 0;
      if (p->w16)
        p->w16[e] = spd_fx_to16(p->master[e], SPD_FX_MASTER_FRAC, p->weight_frac, sat);
    }
  spd_core_charge(kc->core, p->rows * p->cols * update_cycles(&u));
  return 0;
}

int spd_kc_fparams_init(spd_kc_t *kc, spd_kc_fparams_t *p, uint32_t n, float *w) {
  uint32_t st = kc->cfg.state;
  *p = (spd_kc_fparams_t){.n = n, .w = w, .grad = spd_kc_alloc(kc, n * 4u)};
  if (st & 1u)
    p->m = spd_kc_alloc(kc, n * 4u);
  if (st & 2u)
    p->v = spd_kc_alloc(kc, n * 4u);
  return !p->grad || ((st & 1u) && !p->m) || ((st & 2u) && !p->v) ? SPD_ENOMEM : 0;
}

int spd_kc_fparams_update(spd_kc_t *kc, spd_kc_fparams_t *p, uint32_t step) {
  spd_ds_fupdate_t u;
  int err = spd_core_sdram_read(kc->core, kc->cfg.update_addr + step * (uint32_t)sizeof u, &u,
                                sizeof u);
  if (err)
    return err;
  for (uint32_t i = 0; i < p->n; i++) {
    float g = p->grad[i];
    if (u.adam) {
      p->m[i] += (g - p->m[i]) * u.one_minus_b1;
      p->v[i] += (g * g - p->v[i]) * u.one_minus_b2;
      p->w[i] -= u.lr * p->m[i] / (sqrtf(p->v[i]) + u.epsilon);
    } else if (p->m) {
      p->m[i] = u.momentum * p->m[i] - u.lr * g;
      p->w[i] += u.nesterov ? u.momentum * p->m[i] - u.lr * g : p->m[i];
    } else {
      p->w[i] -= u.lr * g;
    }
    p->grad[i] = 0.0f;
  }
  spd_core_charge(kc->core, p->n * (u.adam ? 700u : p->m ? 200u : 80u));
  return 0;
}
