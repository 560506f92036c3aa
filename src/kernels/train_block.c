#include "kernels/train_block.h"

#include <math.h>
#include <string.h>

#include "base/fx_dense.h"
#include "spindle/error.h"

/* Cycles per weight per update (machine/cost_table.h). */
static uint32_t update_cycles(const spd_fx_update_t *u) {
  if (u->kind == SPD_FX_OPT_ADAM)
    return SPD_COST_UPDATE_ADAM_FIXED;
  if (u->kind == SPD_FX_OPT_RMSPROP)
    return SPD_COST_UPDATE_RMSPROP_FIXED;
  return u->has_momentum ? SPD_COST_UPDATE_MOMENTUM_FIXED : SPD_COST_UPDATE_SGD_FIXED;
}

/* ---- Optimizer state in and out (spd_ds_config_t.state_in, state_out) ---- */

static int io(spd_kc_t *kc, bool in, uint32_t addr, void *buf, uint32_t bytes);

/* Copy @p bytes between SDRAM @p from and @p to through the @p buf of
 * @p row bytes. */
static int sdram_copy(spd_kc_t *kc, uint32_t from, uint32_t to, void *buf, uint32_t row,
                      uint32_t rows) {
  for (uint32_t r = 0; r < rows; r++) {
    int err = spd_core_sdram_read(kc->core, from + r * row, buf, row);
    if (!err)
      err = spd_core_sdram_write(kc->core, to + r * row, buf, row);
    if (err)
      return err;
  }
  return 0;
}

/* The block's slabs from (@p in) or to the region at @p addr: a, b, c one
 * after the other, as the state bits have them. */
static int slabs_io(spd_kc_t *kc, spd_kc_params_t *p, uint32_t addr, bool in) {
  uint32_t n = p->rows * p->cols, at = addr;
  void *slab[3] = {p->a, p->b, p->c};
  uint32_t size[3] = {4u, 8u, 4u}, sd[3] = {p->a_addr, p->b_addr, p->c_addr};
  for (int k = 0; k < 3; k++) {
    if (!slab[k])
      continue;
    int err = !p->in_sdram ? io(kc, in, at, slab[k], n * size[k])
              : in ? sdram_copy(kc, at, sd[k], slab[k], p->cols * size[k], p->rows)
                   : sdram_copy(kc, sd[k], at, slab[k], p->cols * size[k], p->rows);
    if (err)
      return err;
    at += n * size[k];
  }
  return 0;
}

static uint32_t slab_bytes(const spd_kc_t *kc, uint32_t n) {
  uint32_t st = kc->cfg.state;
  if (kc->h.numeric != SPD_DS_FIXED)
    return ((st & 1u) ? n * 4u : 0u) + ((st & 2u) ? n * 4u : 0u);
  return ((st & 1u) ? n * 4u : 0u) + ((st & 2u) ? n * 8u : 0u) + ((st & 4u) ? n * 4u : 0u);
}

/* The results' block of the epoch of @p seq (SPD_DS_EPOCH_RESULTS). */
static uint32_t epoch_block(const spd_ds_config_t *c, uint32_t seq) {
  if (!(c->flags & SPD_DS_EPOCH_RESULTS))
    return 0;
  uint32_t epoch = (seq + c->seq_offset) / c->epoch_samples;
  return c->result_ring ? epoch % c->result_ring : epoch;
}

/* Where block @p which's slabs go after the update of @p seq (0: none). */
static uint32_t state_at(const spd_kc_t *kc, uint32_t which, uint32_t seq, uint32_t n) {
  const spd_ds_config_t *c = &kc->cfg;
  if (!c->state_out[which])
    return 0;
  return c->state_out[which] + epoch_block(c, seq) * slab_bytes(kc, n);
}

int spd_kc_state_save(spd_kc_t *kc, uint32_t seq, spd_kc_params_t *kernel,
                      spd_kc_params_t *bias) {
  spd_kc_params_t *p[2] = {kernel, bias};
  for (uint32_t w = 0; w < 2; w++) {
    uint32_t at = p[w] ? state_at(kc, w, seq, p[w]->rows * p[w]->cols) : 0;
    int err = at ? slabs_io(kc, p[w], at, false) : 0;
    if (err)
      return err;
  }
  return 0;
}

int spd_kc_fstate_save(spd_kc_t *kc, uint32_t seq, const spd_kc_fparams_t *kernel,
                       const spd_kc_fparams_t *bias) {
  const spd_kc_fparams_t *p[2] = {kernel, bias};
  for (uint32_t w = 0; w < 2; w++) {
    uint32_t at = p[w] ? state_at(kc, w, seq, p[w]->n) : 0;
    int err = 0;
    if (at && p[w]->m)
      err = spd_core_sdram_write(kc->core, at, p[w]->m, p[w]->n * 4u);
    if (!err && at && p[w]->v)
      err = spd_core_sdram_write(kc->core, at + (p[w]->m ? p[w]->n * 4u : 0u), p[w]->v,
                                 p[w]->n * 4u);
    if (err)
      return err;
  }
  return 0;
}

/* Where the snapshot after the update of @p seq goes (0: none due), each
 * block taking @p bytes[w] (masters and slabs); *seal gets its word. */
static uint32_t snap_at(const spd_kc_t *kc, uint32_t seq, const uint32_t bytes[2],
                        uint32_t *seal) {
  const spd_ds_config_t *c = &kc->cfg;
  uint32_t done = spd_kc_batch_of(kc, seq) + 1;
  if (!c->snap_addr || !c->snap_every || done % c->snap_every)
    return 0;
  *seal = done;
  return c->snap_addr + done / c->snap_every % 2u * (bytes[0] + bytes[1] + 4u);
}

int spd_kc_snapshot(spd_kc_t *kc, uint32_t seq, spd_kc_params_t *kernel,
                    spd_kc_params_t *bias) {
  spd_kc_params_t *p[2] = {kernel, bias};
  uint32_t bytes[2] = {0, 0}, seal = 0;
  for (int w = 0; w < 2; w++)
    if (p[w])
      bytes[w] = p[w]->rows * p[w]->cols * 4u + slab_bytes(kc, p[w]->rows * p[w]->cols);
  uint32_t at = snap_at(kc, seq, bytes, &seal);
  if (!at)
    return 0;
  uint32_t start = at;
  for (int w = 0; w < 2; w++) {
    if (!p[w])
      continue;
    int err = spd_kc_params_save(kc, p[w], at);
    if (!err)
      err = slabs_io(kc, p[w], at + p[w]->rows * p[w]->cols * 4u, false);
    if (err)
      return err;
    at += bytes[w];
  }
  return spd_core_sdram_write(kc->core, start + bytes[0] + bytes[1], &seal, 4u);
}

int spd_kc_fsnapshot(spd_kc_t *kc, uint32_t seq, const spd_kc_fparams_t *kernel,
                     const spd_kc_fparams_t *bias) {
  const spd_kc_fparams_t *p[2] = {kernel, bias};
  uint32_t bytes[2] = {0, 0}, seal = 0;
  for (int w = 0; w < 2; w++)
    if (p[w])
      bytes[w] = p[w]->n * 4u + slab_bytes(kc, p[w]->n);
  uint32_t at = snap_at(kc, seq, bytes, &seal);
  if (!at)
    return 0;
  uint32_t start = at;
  for (int w = 0; w < 2; w++) {
    if (!p[w])
      continue;
    const float *part[3] = {p[w]->w, p[w]->m, p[w]->v};
    for (int k = 0; k < 3; k++) {
      int err = part[k] ? spd_core_sdram_write(kc->core, at, part[k], p[w]->n * 4u) : 0;
      if (err)
        return err;
      at += part[k] ? p[w]->n * 4u : 0u;
    }
  }
  return spd_core_sdram_write(kc->core, start + bytes[0] + bytes[1], &seal, 4u);
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
  return c->state_in[which] ? slabs_io(kc, p, c->state_in[which], true) : 0;
}

int spd_kc_params_init_sdram(spd_kc_t *kc, spd_kc_params_t *p, uint32_t rows, uint32_t cols,
                             uint32_t master_addr, int16_t *w16) {
  const spd_ds_config_t *c = &kc->cfg;
  uint32_t n = rows * cols;
  *p = (spd_kc_params_t){.rows = rows, .cols = cols, .row_lo = c->row_lo, .col_lo = c->col_lo,
                         .ld = c->ld, .w16 = w16, .weight_frac = c->weight_frac,
                         .in_sdram = true, .master_addr = master_addr};
  p->master = spd_kc_alloc(kc, cols * 4u);
  p->grad = spd_kc_alloc(kc, cols * 8u);
  int err = p->master && p->grad ? 0 : SPD_ENOMEM;
  if (!err)
    err = spd_core_sdram_alloc(kc->core, n * 8u, &p->grad_addr);
  if (!err && (c->state & 1u) && (p->a = spd_kc_alloc(kc, cols * 4u)))
    err = spd_core_sdram_alloc(kc->core, n * 4u, &p->a_addr);
  if (!err && (c->state & 2u) && (p->b = spd_kc_alloc(kc, cols * 8u)))
    err = spd_core_sdram_alloc(kc->core, n * 8u, &p->b_addr);
  if (!err && (c->state & 4u) && (p->c = spd_kc_alloc(kc, cols * 4u)))
    err = spd_core_sdram_alloc(kc->core, n * 4u, &p->c_addr);
  if (!err && (((c->state & 1u) && !p->a) || ((c->state & 2u) && !p->b) ||
               ((c->state & 4u) && !p->c)))
    err = SPD_ENOMEM;
  if (!err && c->state_in[0])
    err = slabs_io(kc, p, c->state_in[0], true);
  return err;
}

int spd_kc_params_accumulate(spd_kc_t *kc, spd_kc_params_t *p, const int16_t *x,
                             const int16_t *dz) {
  if (!p->in_sdram) {
    spd_fx_dense_grad_block(p->grad, x, dz, (int)p->rows, (int)p->cols, (int)p->cols);
    return 0;
  }
  uint32_t row = p->cols * 8u;
  for (uint32_t r = 0; r < p->rows; r++) {
    if (x[r] == 0)
      continue;
    int err = spd_core_sdram_read(kc->core, p->grad_addr + r * row, p->grad, row);
    spd_fx_dense_grad_block(p->grad, x + r, dz, 1, (int)p->cols, (int)p->cols);
    if (!err)
      err = spd_core_sdram_write(kc->core, p->grad_addr + r * row, p->grad, row);
    if (err)
      return err;
  }
  return 0;
}

int spd_kc_params_save(spd_kc_t *kc, const spd_kc_params_t *p, uint32_t addr) {
  uint32_t n = p->rows * p->cols * 4u;
  if (!p->in_sdram)
    return spd_core_sdram_write(kc->core, addr, p->master, n);
  for (uint32_t r = 0; r < p->rows; r++) {
    uint32_t row = p->cols * 4u;
    int err = spd_core_sdram_read(kc->core, p->master_addr + r * row, p->master, row);
    if (!err)
      err = spd_core_sdram_write(kc->core, addr + r * row, p->master, row);
    if (err)
      return err;
  }
  return 0;
}

uint32_t spd_kc_result_at(const spd_kc_t *kc, uint32_t seq, uint32_t bytes) {
  const spd_ds_config_t *c = &kc->cfg;
  if (!c->result_addr)
    return 0;
  if (!(c->flags & SPD_DS_EPOCH_RESULTS))
    return seq + 1 == kc->h.n_samples ? c->result_addr : 0;
  if ((seq + c->seq_offset + 1) % c->epoch_samples)
    return 0;
  return c->result_addr + epoch_block(c, seq) * (bytes + 4u);
}

int spd_kc_result_seal(spd_kc_t *kc, uint32_t seq, uint32_t at, uint32_t bytes) {
  if (!(kc->cfg.flags & SPD_DS_EPOCH_RESULTS))
    return 0;
  uint32_t mark = (seq + kc->cfg.seq_offset) / kc->cfg.epoch_samples + 1;
  return spd_core_sdram_write(kc->core, at + bytes, &mark, 4u);
}

static int io(spd_kc_t *kc, bool in, uint32_t addr, void *buf, uint32_t bytes) {
  return in ? spd_core_sdram_read(kc->core, addr, buf, bytes)
            : spd_core_sdram_write(kc->core, addr, buf, bytes);
}

/* Move row @p r of every SDRAM slab into (@p in) or out of the buffers. */
static int row_io(spd_kc_t *kc, spd_kc_params_t *p, uint32_t r, bool in) {
  uint32_t n = p->cols;
  int err = io(kc, in, p->master_addr + r * n * 4u, p->master, n * 4u);
  if (!err)
    err = io(kc, in, p->grad_addr + r * n * 8u, p->grad, n * 8u);
  if (!err && p->a)
    err = io(kc, in, p->a_addr + r * n * 4u, p->a, n * 4u);
  if (!err && p->b)
    err = io(kc, in, p->b_addr + r * n * 8u, p->b, n * 8u);
  if (!err && p->c)
    err = io(kc, in, p->c_addr + r * n * 4u, p->c, n * 4u);
  return err;
}

/* Update elements of row @p r (buffers hold that row when in SDRAM). */
static void update_row(const spd_fx_update_t *u, spd_kc_params_t *p, uint32_t r,
                       uint32_t *sat) {
  uint32_t base = p->in_sdram ? 0 : r * p->cols;
  for (uint32_t c = 0; c < p->cols; c++) {
    uint32_t e = base + c;
    uint64_t element = (uint64_t)(p->row_lo + r) * p->ld + p->col_lo + c;
    spd_fx_slot_ptrs_t s = {&p->master[e], p->a ? &p->a[e] : NULL, p->b ? &p->b[e] : NULL,
                            p->c ? &p->c[e] : NULL};
    spd_fx_update_one(u, s, element, p->grad[e], sat);
    p->grad[e] = 0;
    if (p->w16)
      p->w16[r * p->cols + c] = spd_fx_to16(p->master[e], SPD_FX_MASTER_FRAC, p->weight_frac,
                                            sat);
  }
}

int spd_kc_params_update(spd_kc_t *kc, spd_kc_params_t *p, uint32_t step, uint32_t *sat) {
  spd_fx_update_t u;
  uint32_t at = kc->cfg.update_addr + (step * 2u + p->which) * (uint32_t)sizeof u;
  int err = spd_core_sdram_read(kc->core, at, &u, sizeof u);
  if (err)
    return err;
  for (uint32_t r = 0; r < p->rows && p->in_sdram; r++) {
    if ((err = row_io(kc, p, r, true)))
      return err;
    update_row(&u, p, r, sat);
    if ((err = row_io(kc, p, r, false)))
      return err;
  }
  for (uint32_t r = 0; r < p->rows && !p->in_sdram; r++)
    update_row(&u, p, r, sat);
  spd_core_charge(kc->core, p->rows * p->cols * update_cycles(&u));
  return 0;
}

int spd_kc_fparams_init(spd_kc_t *kc, spd_kc_fparams_t *p, uint32_t n, float *w,
                        uint32_t which) {
  uint32_t st = kc->cfg.state, from = kc->cfg.state_in[which];
  *p = (spd_kc_fparams_t){.n = n, .w = w, .grad = spd_kc_alloc(kc, n * 4u)};
  if (st & 1u)
    p->m = spd_kc_alloc(kc, n * 4u);
  if (st & 2u)
    p->v = spd_kc_alloc(kc, n * 4u);
  if (!p->grad || ((st & 1u) && !p->m) || ((st & 2u) && !p->v))
    return SPD_ENOMEM;
  int err = from && p->m ? spd_core_sdram_read(kc->core, from, p->m, n * 4u) : 0;
  if (!err && from && p->v)
    err = spd_core_sdram_read(kc->core, from + (p->m ? n * 4u : 0u), p->v, n * 4u);
  return err;
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
  spd_core_charge(kc->core, p->n * (u.adam ? SPD_COST_UPDATE_ADAM_FLOAT
                                    : p->m ? SPD_COST_UPDATE_MOMENTUM_FLOAT
                                           : SPD_COST_UPDATE_SGD_FLOAT));
  return 0;
}
