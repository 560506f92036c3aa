/* The dense tile kernels (docs/dense-on-machine.md, "Core roles"): a block
 * of W (rows x cols). When every input value of a sample slot has arrived,
 * the tile forms its partial sums exactly (spd_fx_dense_forward_block, the
 * reference's own function) and sends them to its reducer, two words per
 * int64 sum, low first; a full tile (R = 1) reduces itself: bias, one
 * rounding, activation, and sends y on (z to the loss core when it feeds
 * it). Float tiles do the same in float32.
 *
 * Training (fixed point): when a slot's dZ has arrived (a full tile that
 * does not feed the loss forms it itself from the next layer's dX sums and
 * its kept y), the tile adds x dZ^T into its exact batch gradient, sends
 * its dX partial sums W dZ to the producers of the layer below (a first-
 * layer tile sends the sources a credit instead), and after a batch's last
 * sample updates its block (train_block.c); forwards of the next batch wait
 * for that update. A full tile whose y a Dropout reads applies its mask
 * as the reducer does (kernels/dropout.h). */
#include <string.h>

#include "base/fx_dense.h"
#include "base/tile_mem.h"
#include "kernels/dropout.h"
#include "kernels/kernels.h"
#include "kernels/train_block.h"
#include "spindle/error.h"
#include "spindle/fixed_math.h"

#define STREAM_BYTES SPD_TM_STREAM_BYTES /* one SDRAM chunk of a streamed block */

typedef struct tile {
  spd_kc_t kc;
  bool fixed, full;
  uint32_t a, b, words;    /* rows, cols, words per sent value */
  int16_t *w16, *x16;      /* fixed: weights (NULL if streamed), x per slot */
  float *wf, *xf;          /* float */
  int32_t *bias32;         /* fixed master bias (full tiles) */
  float *biasf;
  int64_t *acc;            /* fixed: b accumulators */
  float *accf;
  int32_t *z;              /* fixed: b pre-activations */
  void *stream;            /* streamed weights chunk */
  uint32_t *out;           /* slots x b x words */
  spd_fx_act_params_t act;
  uint32_t saturations;
  spd_kc_drop_t drop;
  /* training */
  bool train, last;
  int16_t *dz16, *y16;     /* slots x b */
  uint64_t *dyacc;         /* full, not last: slots x b dX sums from above */
  int64_t *dx;             /* a */
  uint32_t *dxw;           /* slots x a x 2 */
  uint32_t zero;
  uint32_t *dxstage, dxstage_n; /* slots x the dX partitions' words, gathered
                                   when one of them is a feature map's */
  spd_kc_params_t kernel, bias;
  float *dzf, *yf, *dyaccf;  /* float training: slots x b */
  spd_kc_fparams_t fkernel, fbias;
  uint32_t next_fwd, next_bwd, batches_done;
  uint8_t *pending;
  /* A first layer's column leader (it receives credits: tile (0, j) of a
   * grid with R > 1 row blocks, map/partition_build.c) credits the
   * sources once its own backward and the column's other tiles' credits
   * of a slot are in: bit s of each mask (slots <= 64). */
  uint64_t own_done, column_done;
} tile_t;

static void store(spd_kc_t *kc, uint32_t in, uint32_t slot, uint32_t v, uint32_t word,
                  uint32_t payload) {
  tile_t *t = kc->role;
  uint32_t kind = kc->in[in].kind;
  if (kind == SPD_DS_KIND_CREDIT)
    return; /* a column tile's credit (a leader's): counted, nothing to store */
  if (kind == SPD_DS_KIND_DZ || kind == SPD_DS_KIND_DXPSUM) {
    if (v >= t->b)
      return;
    uint32_t i = slot * t->b + v;
    if (kind == SPD_DS_KIND_DZ && SPD_KC_FIXED(t->fixed))
      t->dz16[i] = (int16_t)(int32_t)payload;
    else if (kind == SPD_DS_KIND_DZ)
      t->dzf[i] = spd_kc_u2f(payload);
    else if (SPD_KC_FIXED(t->fixed))
      t->dyacc[i] += word ? (uint64_t)payload << 32 : (uint64_t)payload;
    else
      t->dyaccf[i] += spd_kc_u2f(payload);
    return;
  }
  if (v >= t->a)
    return;
  if (SPD_KC_FIXED(t->fixed))
    t->x16[slot * t->a + v] = (int16_t)(int32_t)payload;
  else
    t->xf[slot * t->a + v] = spd_kc_u2f(payload);
}

/* Partial sums over the block, the weights from DTCM or streamed from
 * SDRAM in chunks of whole rows (integer sums do not care about order). */
static void forward_fixed(tile_t *t, const int16_t *x) {
  memset(t->acc, 0, t->b * sizeof *t->acc);
  if (t->w16) {
    spd_fx_dense_forward_block(t->acc, x, t->w16, (int)t->a, (int)t->b, (int)t->b);
    return;
  }
  uint32_t chunk = STREAM_BYTES / (t->b * 2u);
  for (uint32_t r = 0; r < t->a; r += chunk) {
    uint32_t n = t->a - r < chunk ? t->a - r : chunk;
    spd_core_sdram_read(t->kc.core, t->kc.params + t->kc.h.data_offset + r * t->b * 2u, t->stream,
                        n * t->b * 2u);
    spd_fx_dense_forward_block(t->acc, x + r, t->stream, (int)n, (int)t->b, (int)t->b);
  }
}

static void forward_float(tile_t *t, const float *x) {
  memset(t->accf, 0, t->b * sizeof *t->accf);
  uint32_t chunk = t->wf ? t->a : STREAM_BYTES / (t->b * 4u);
  for (uint32_t r0 = 0; r0 < t->a; r0 += chunk) {
    uint32_t n = t->a - r0 < chunk ? t->a - r0 : chunk;
    const float *w = t->wf ? t->wf : t->stream;
    if (!t->wf)
      spd_core_sdram_read(t->kc.core, t->kc.params + t->kc.h.data_offset + r0 * t->b * 4u, t->stream,
                          n * t->b * 4u);
    for (uint32_t r = 0; r < n; r++) {
      float xr = x[r0 + r];
      if (xr == 0.0f)
        continue;
      for (uint32_t c = 0; c < t->b; c++)
        t->accf[c] += xr * w[r * t->b + c];
    }
  }
}

static uint32_t nonzero(const tile_t *t, uint32_t slot) {
  uint32_t n = 0;
  for (uint32_t r = 0; r < t->a; r++)
    n += SPD_KC_FIXED(t->fixed) ? t->x16[slot * t->a + r] != 0 : t->xf[slot * t->a + r] != 0.0f;
  return n;
}

/* A full tile: bias, one rounding, the activation (or z for the loss). */
static void finish_full(tile_t *t, uint32_t slot, uint32_t seq, uint32_t *out) {
  const spd_ds_config_t *c = &t->kc.cfg;
  spd_core_t *core = t->kc.core;
  bool last = c->flags & SPD_DS_LAST;
  if (SPD_KC_FIXED(t->fixed)) {
    spd_fx_dense_reduce(t->z, t->acc, t->bias32, (int)t->b, c->acc_frac, c->bias_frac,
                        &t->saturations);
    for (uint32_t j = 0; j < t->b; j++) {
      int16_t y = last ? 0 : spd_fx_act_forward(&t->act, t->z[j], &t->saturations);
      bool keep = spd_kc_drop_keep(&t->drop, core, seq, c->col_lo + j);
      out[j] = last ? (uint32_t)t->z[j]
                    : (uint32_t)(int32_t)spd_kc_drop_fixed(&t->drop, keep, y, &t->saturations);
      if (t->y16)
        t->y16[slot * t->b + j] = y;
    }
  } else {
    float alpha = spd_kc_u2f((uint32_t)c->act_alpha);
    for (uint32_t j = 0; j < t->b; j++) {
      float z = t->accf[j] + (t->biasf ? t->biasf[j] : 0.0f);
      float y = last ? z : spd_kc_act_float(c->act_kind, alpha, z);
      bool keep = spd_kc_drop_keep(&t->drop, core, seq, c->col_lo + j);
      out[j] = spd_kc_f2u(spd_kc_drop_float(&t->drop, keep, y));
      if (t->yf)
        t->yf[slot * t->b + j] = y;
    }
  }
  uint32_t per = last ? SPD_COST_PER_VALUE : spd_kc_act_cycles(SPD_KC_FIXED(t->fixed), c->act_kind);
  spd_core_charge(core, t->b * (per + (SPD_KC_FIXED(t->fixed) ? SPD_COST_ADD_FIXED : SPD_COST_ADD_FLOAT)));
}

static void forward(tile_t *t, uint32_t slot) {
  spd_kc_t *kc = &t->kc;
  uint32_t seq = t->next_fwd++, rows = nonzero(t, slot);
  spd_core_charge(kc->core, t->a * SPD_COST_PER_VALUE +
                                rows * t->b * (SPD_KC_FIXED(t->fixed) ? SPD_COST_MAC_FIXED : SPD_COST_MAC_FLOAT));
  if (SPD_KC_FIXED(t->fixed))
    forward_fixed(t, t->x16 + slot * t->a);
  else
    forward_float(t, t->xf + slot * t->a);
  uint32_t *out = t->out + slot * t->b * t->words;
  if (t->full) {
    finish_full(t, slot, seq, out);
  } else if (SPD_KC_FIXED(t->fixed)) {
    for (uint32_t j = 0; j < t->b; j++) {
      uint64_t v = (uint64_t)t->acc[j];
      out[2 * j] = (uint32_t)v;
      out[2 * j + 1] = (uint32_t)(v >> 32);
    }
  } else {
    for (uint32_t j = 0; j < t->b; j++)
      out[j] = spd_kc_f2u(t->accf[j]);
  }
  if (spd_kc_send_kind(kc, t->full ? SPD_DS_KIND_Y : SPD_DS_KIND_PSUM, slot, out)) {
    spd_kc_fail(kc, SPD_EQUEUE);
    return;
  }
  if (!t->train)
    spd_kc_sample_done(kc);
}

/* A full tile below the output layer: dZ from the dX sums of the layer
 * above, rounded once (and once more through a Dropout's mask), times
 * f'(y). */
static void own_dz(tile_t *t, uint32_t slot, uint32_t seq) {
  const spd_ds_config_t *c = &t->kc.cfg;
  int64_t *acc = (int64_t *)(t->dyacc + slot * t->b);
  for (uint32_t j = 0; j < t->b; j++) {
    int16_t dy = spd_fx_to16(acc[j], c->dy_from_frac, c->grad_frac, &t->saturations);
    bool keep = spd_kc_drop_keep(&t->drop, t->kc.core, seq, c->col_lo + j);
    dy = spd_kc_drop_fixed(&t->drop, keep, dy, &t->saturations);
    t->dz16[slot * t->b + j] = spd_fx_act_backward(&t->act, t->y16[slot * t->b + j], dy,
                                                   &t->saturations);
  }
  memset(acc, 0, t->b * sizeof *acc);
  spd_core_charge(t->kc.core, t->b * spd_kc_act_cycles(true, c->act_kind));
}

/* The dX partial sums @p w (own order) of a slot: gathered when they go
 * into a convolution's channel blocks (feature-map partitions). */
static int send_dxpsum(tile_t *t, uint32_t slot, const uint32_t *w) {
  spd_kc_t *kc = &t->kc;
  if (t->dxstage)
    return spd_kc_send_gathered(kc, SPD_DS_KIND_DXPSUM, slot, w,
                                t->dxstage + slot * t->dxstage_n) == UINT32_MAX
               ? SPD_EQUEUE
               : 0;
  return spd_kc_send_kind(kc, SPD_DS_KIND_DXPSUM, slot, w);
}

/* Staging for send_dxpsum when a dX partition is a feature map's. */
static int alloc_dxstage(tile_t *t) {
  spd_kc_t *kc = &t->kc;
  bool fm = false;
  for (uint32_t p = 0; p < kc->h.n_out; p++)
    if (kc->out[p].kind == SPD_DS_KIND_DXPSUM) {
      t->dxstage_n += kc->out[p].n * kc->out[p].words;
      fm |= kc->out[p].fm.width != 0;
    }
  if (fm && !(t->dxstage = spd_kc_alloc(kc, kc->h.slots * t->dxstage_n * 4u)))
    return SPD_ENOMEM;
  return 0;
}

static bool leads_column(const tile_t *t) { return t->kc.expected[SPD_KC_CREDIT] != 0; }

/* A first-layer tile's credit: to its column's leader, or from the leader
 * to the sources (with the sample counted done) once the slot is done
 * here and at the column's other tiles, in whichever order. */
static int credit(tile_t *t, uint32_t slot, uint32_t phase) {
  spd_kc_t *kc = &t->kc;
  if (!leads_column(t))
    return spd_kc_send_kind(kc, SPD_DS_KIND_CREDIT, slot, &t->zero);
  uint64_t bit = 1ull << slot;
  if (phase == SPD_KC_CREDIT)
    t->column_done |= bit;
  else
    t->own_done |= bit;
  if (!(t->own_done & t->column_done & bit))
    return 0;
  t->own_done &= ~bit;
  t->column_done &= ~bit;
  int err = spd_kc_send_kind(kc, SPD_DS_KIND_CREDIT, slot, &t->zero);
  if (!err)
    spd_kc_sample_done(kc);
  return err;
}

/* dX partial sums to the layer below, or a credit to the sources. */
static int send_dx(tile_t *t, uint32_t slot, const int16_t *dz) {
  spd_kc_t *kc = &t->kc;
  bool below = false;
  for (uint32_t p = 0; p < kc->h.n_out; p++)
    below |= kc->out[p].kind == SPD_DS_KIND_DXPSUM;
  if (!below)
    return credit(t, slot, SPD_KC_BACKWARD);
  memset(t->dx, 0, t->a * sizeof *t->dx);
  spd_fx_dense_backward_input_block(t->dx, dz, t->w16, (int)t->a, (int)t->b, (int)t->b);
  spd_core_charge(kc->core, t->a * t->b * SPD_COST_MAC_FIXED);
  uint32_t *w = t->dxw + slot * t->a * 2u;
  for (uint32_t r = 0; r < t->a; r++) {
    w[2 * r] = (uint32_t)(uint64_t)t->dx[r];
    w[2 * r + 1] = (uint32_t)((uint64_t)t->dx[r] >> 32);
  }
  return send_dxpsum(t, slot, w);
}

static void batch_update(tile_t *t, uint32_t seq) {
  spd_kc_t *kc = &t->kc;
  uint32_t step = spd_kc_batch_of(kc, seq);
  if (spd_kc_params_update(kc, &t->kernel, step, &t->saturations) ||
      (t->bias.grad && spd_kc_params_update(kc, &t->bias, step, &t->saturations))) {
    spd_kc_fail(kc, SPD_EINVAL);
    return;
  }
  t->batches_done++;
  uint32_t n = t->a * t->b * 4u, bytes = n + (t->bias32 ? t->b * 4u : 0u);
  uint32_t at = spd_kc_result_at(kc, seq, bytes);
  if (at && (spd_kc_params_save(kc, &t->kernel, at) ||
             (t->bias32 && spd_core_sdram_write(kc->core, at + n, t->bias32, t->b * 4u)) ||
             spd_kc_state_save(kc, seq, &t->kernel, t->bias32 ? &t->bias : NULL) ||
             spd_kc_result_seal(kc, seq, at, bytes))) {
    spd_kc_fail(kc, SPD_EINVAL);
    return;
  }
  if (spd_kc_snapshot(kc, seq, &t->kernel, t->bias32 ? &t->bias : NULL)) {
    spd_kc_fail(kc, SPD_EINVAL);
    return;
  }
  spd_kc_release(&t->kc, t->pending, &t->next_fwd, t->batches_done);
}

/* Float: dZ (own for a full tile below the output), the batch gradient,
 * dX partial sums or a credit. */
static int backward_float(tile_t *t, uint32_t slot, uint32_t seq) {
  spd_kc_t *kc = &t->kc;
  const spd_ds_config_t *c = &kc->cfg;
  float *dz = t->dzf + slot * t->b;
  const float *x = t->xf + slot * t->a;
  if (t->full && !t->last) {
    float alpha = spd_kc_u2f((uint32_t)c->act_alpha), *dy = t->dyaccf + slot * t->b;
    for (uint32_t j = 0; j < t->b; j++) {
      bool keep = spd_kc_drop_keep(&t->drop, kc->core, seq, c->col_lo + j);
      dz[j] = spd_kc_act_grad_float(c->act_kind, alpha, t->yf[slot * t->b + j],
                                    spd_kc_drop_float(&t->drop, keep, dy[j]));
      dy[j] = 0.0f;
    }
  }
  for (uint32_t r = 0; r < t->a; r++)
    for (uint32_t j = 0; x[r] != 0.0f && j < t->b; j++)
      t->fkernel.grad[r * t->b + j] += x[r] * dz[j];
  for (uint32_t j = 0; t->fbias.grad && j < t->b; j++)
    t->fbias.grad[j] += dz[j];
  spd_core_charge(kc->core, nonzero(t, slot) * t->b * SPD_COST_MAC_FLOAT);
  bool below = false;
  for (uint32_t p = 0; p < kc->h.n_out; p++)
    below |= kc->out[p].kind == SPD_DS_KIND_DXPSUM;
  if (!below)
    return credit(t, slot, SPD_KC_BACKWARD);
  uint32_t *w = t->dxw + slot * t->a;
  for (uint32_t r = 0; r < t->a; r++) {
    float sum = 0.0f;
    for (uint32_t j = 0; j < t->b; j++)
      sum += t->wf[r * t->b + j] * dz[j];
    w[r] = spd_kc_f2u(sum);
  }
  spd_core_charge(kc->core, t->a * t->b * SPD_COST_MAC_FLOAT);
  return send_dxpsum(t, slot, w);
}

static void batch_update_float(tile_t *t, uint32_t seq) {
  spd_kc_t *kc = &t->kc;
  uint32_t step = spd_kc_batch_of(kc, seq);
  if (spd_kc_fparams_update(kc, &t->fkernel, step) ||
      (t->fbias.grad && spd_kc_fparams_update(kc, &t->fbias, step))) {
    spd_kc_fail(kc, SPD_EINVAL);
    return;
  }
  t->batches_done++;
  uint32_t n = t->a * t->b * 4u, bytes = n + (t->biasf ? t->b * 4u : 0u);
  uint32_t at = spd_kc_result_at(kc, seq, bytes);
  if (at && (spd_core_sdram_write(kc->core, at, t->wf, n) ||
             (t->biasf && spd_core_sdram_write(kc->core, at + n, t->biasf, t->b * 4u)) ||
             spd_kc_fstate_save(kc, seq, &t->fkernel, t->biasf ? &t->fbias : NULL) ||
             spd_kc_result_seal(kc, seq, at, bytes))) {
    spd_kc_fail(kc, SPD_EINVAL);
    return;
  }
  if (spd_kc_fsnapshot(kc, seq, &t->fkernel, t->biasf ? &t->fbias : NULL)) {
    spd_kc_fail(kc, SPD_EINVAL);
    return;
  }
  spd_kc_release(&t->kc, t->pending, &t->next_fwd, t->batches_done);
}

static void backward(tile_t *t, uint32_t slot) {
  spd_kc_t *kc = &t->kc;
  uint32_t seq = t->next_bwd++;
  if (!SPD_KC_FIXED(t->fixed)) {
    if (backward_float(t, slot, seq)) {
      spd_kc_fail(kc, SPD_EQUEUE);
      return;
    }
    if (spd_kc_batch_end(kc, seq))
      batch_update_float(t, seq);
    if (!leads_column(t)) /* a leader's sample is done when it credits */
      spd_kc_sample_done(kc);
    return;
  }
  if (t->full && !t->last)
    own_dz(t, slot, seq);
  const int16_t *dz = t->dz16 + slot * t->b, *x = t->x16 + slot * t->a;
  if (spd_kc_params_accumulate(kc, &t->kernel, x, dz)) {
    spd_kc_fail(kc, SPD_EINVAL);
    return;
  }
  spd_core_charge(kc->core, nonzero(t, slot) * t->b * SPD_COST_MAC_FIXED);
  if (t->bias.grad)
    spd_fx_bias_grad(t->bias.grad, dz, (int)t->b);
  if (send_dx(t, slot, dz)) {
    spd_kc_fail(kc, SPD_EQUEUE);
    return;
  }
  if (spd_kc_batch_end(kc, seq))
    batch_update(t, seq);
  if (!leads_column(t))
    spd_kc_sample_done(kc);
}

static void slot_done(spd_kc_t *kc, uint32_t slot, uint32_t phase) {
  tile_t *t = kc->role;
  if (phase == SPD_KC_CREDIT) {
    if (credit(t, slot, phase))
      spd_kc_fail(kc, SPD_EQUEUE);
    return;
  }
  if (phase == SPD_KC_BACKWARD) {
    backward(t, slot);
    return;
  }
  if (t->train && spd_kc_batch_of(kc, t->next_fwd) > t->batches_done) {
    t->pending[slot] = 1;
    return;
  }
  forward(t, slot);
}

/* Training state: the master block follows the MAC copy and bias in the
 * data region. */
static int train_init_float(tile_t *t) {
  spd_kc_t *kc = &t->kc;
  uint32_t s = kc->h.slots;
  if (!t->wf)
    return SPD_EINVAL; /* streamed weights do not train yet */
  if (alloc_dxstage(t))
    return SPD_ENOMEM;
  t->dzf = spd_kc_alloc(kc, s * t->b * 4u);
  t->dxw = spd_kc_alloc(kc, s * t->a * 4u);
  t->pending = spd_kc_alloc(kc, s);
  if (!t->dzf || !t->dxw || !t->pending)
    return SPD_ENOMEM;
  if (t->full && !t->last) {
    t->yf = spd_kc_alloc(kc, s * t->b * 4u);
    t->dyaccf = spd_kc_alloc(kc, s * t->b * 4u);
    if (!t->yf || !t->dyaccf)
      return SPD_ENOMEM;
  }
  int err = spd_kc_fparams_init(kc, &t->fkernel, t->a * t->b, t->wf, 0);
  if (!err && t->biasf)
    err = spd_kc_fparams_init(kc, &t->fbias, t->b, t->biasf, 1);
  return err;
}

static int train_init(tile_t *t) {
  spd_kc_t *kc = &t->kc;
  uint32_t s = kc->h.slots, n = t->a * t->b;
  int err = 0;
  if (!SPD_KC_FIXED(t->fixed))
    return train_init_float(t);
  if (!t->w16)
    return SPD_EINVAL; /* streamed weights do not train yet */
  if ((err = alloc_dxstage(t)))
    return err;
  t->dz16 = spd_kc_alloc(kc, s * t->b * 2u);
  t->dx = spd_kc_alloc(kc, t->a * 8u);
  t->dxw = spd_kc_alloc(kc, s * t->a * 8u);
  t->pending = spd_kc_alloc(kc, s);
  if (!t->dz16 || !t->dx || !t->dxw || !t->pending)
    return SPD_ENOMEM;
  if (t->full && !t->last) {
    t->y16 = spd_kc_alloc(kc, s * t->b * 2u);
    t->dyacc = spd_kc_alloc(kc, s * t->b * 8u);
    if (!t->y16 || !t->dyacc)
      return SPD_ENOMEM;
  }
  if (t->bias32 && (err = spd_kc_params_init(kc, &t->bias, 1, t->b, t->bias32, NULL, 1)))
    return err;
  uint32_t off = n * 2u + (t->bias32 ? t->b * 4u : 0u);
  /* Master, slabs and an int64 gradient per weight: in DTCM, or in SDRAM a
   * row at a time when the partitioner split the tile's memory. */
  if (kc->cfg.flags & SPD_DS_SPLIT)
    return spd_kc_params_init_sdram(kc, &t->kernel, t->a, t->b,
                                    kc->params + kc->h.data_offset + off, t->w16);
  int32_t *master = spd_kc_alloc(kc, n * 4u);
  if (!master)
    return SPD_ENOMEM;
  err = spd_kc_read_data(kc, off, master, n * 4u);
  if (!err)
    err = spd_kc_params_init(kc, &t->kernel, t->a, t->b, master, t->w16, 0);
  return err;
}

static int load_weights(tile_t *t) {
  const spd_ds_config_t *c = &t->kc.cfg;
  uint32_t vb = SPD_KC_FIXED(t->fixed) ? 2u : 4u, bytes = t->a * t->b * vb;
  int err = 0;
  if (c->flags & SPD_DS_STREAMED) {
    t->stream = spd_kc_alloc(&t->kc, STREAM_BYTES);
    if (!t->stream || t->b * vb > STREAM_BYTES)
      return SPD_ENOMEM;
  } else {
    void *w = spd_kc_alloc(&t->kc, bytes);
    if (!w)
      return SPD_ENOMEM;
    if (SPD_KC_FIXED(t->fixed))
      t->w16 = w;
    else
      t->wf = w;
    err = spd_kc_read_data(&t->kc, 0, w, bytes);
  }
  if (err || !(c->flags & SPD_DS_BIAS))
    return err;
  uint32_t off = bytes; /* the bias follows the weights, streamed or not */
  void *bias = spd_kc_alloc(&t->kc, t->b * 4u);
  if (!bias)
    return SPD_ENOMEM;
  if (SPD_KC_FIXED(t->fixed))
    t->bias32 = bias;
  else
    t->biasf = bias;
  return spd_kc_read_data(&t->kc, off, bias, t->b * 4u);
}

static int tile_main(spd_core_t *core, uint32_t params, uint32_t role) {
  tile_t *t = spd_core_dtcm_alloc(core, sizeof *t);
  if (!t)
    return SPD_ENOMEM;
  spd_kc_t *kc = &t->kc;
  int err = spd_kc_init(kc, core, params, role);
  if (err)
    return err;
  kc->role = t;
  kc->store = store;
  kc->slot_done = slot_done;
  const spd_ds_config_t *c = &kc->cfg;
  t->fixed = kc->h.numeric == SPD_DS_FIXED;
  t->full = role == SPD_DS_ROLE_TILE_FULL;
  t->a = c->rows;
  t->b = c->cols;
  t->words = t->full || !SPD_KC_FIXED(t->fixed) ? 1u : 2u;
  t->act = (spd_fx_act_params_t){(spd_fx_act_t)c->act_kind, c->act_out_frac, c->act_alpha};
  spd_kc_drop_init(&t->drop, kc);
  uint32_t s = kc->h.slots, vb = SPD_KC_FIXED(t->fixed) ? 2u : 4u, free0 = spd_core_dtcm_free(core);
  if (SPD_KC_FIXED(t->fixed)) {
    t->x16 = spd_kc_alloc(kc, s * t->a * vb);
    t->acc = spd_kc_alloc(kc, t->b * 8u);
    t->z = spd_kc_alloc(kc, t->b * 4u);
  } else {
    t->xf = spd_kc_alloc(kc, s * t->a * vb);
    t->accf = spd_kc_alloc(kc, t->b * 4u);
  }
  t->out = spd_kc_alloc(kc, s * t->b * t->words * 4u);
  if ((SPD_KC_FIXED(t->fixed) ? !t->x16 || !t->acc || !t->z : !t->xf || !t->accf) || !t->out)
    return SPD_ENOMEM;
  if ((err = load_weights(t)))
    return err;
  t->train = c->flags & SPD_DS_TRAIN;
  t->last = c->flags & SPD_DS_LAST;
  if (t->train && (err = train_init(t)))
    return err;
  /* The partitioner planned this core with the same size function: a
   * difference is a bug in one of them (base/tile_mem.h). */
  spd_tile_mem_t m = {.rows = t->a, .cols = t->b, .slots = s, .fixed = SPD_KC_FIXED(t->fixed),
                      .full = t->full, .last = t->last, .bias = c->flags & SPD_DS_BIAS,
                      .streamed = c->flags & SPD_DS_STREAMED, .train = t->train,
                      .split = c->flags & SPD_DS_SPLIT, .state = c->state,
                      .dxstage = t->dxstage ? t->dxstage_n : 0};
  if (free0 - spd_core_dtcm_free(core) != spd_tile_mem_dtcm(&m))
    return SPD_EINVAL;
  return spd_kc_start(kc);
}

static int tile_entry(spd_core_t *core, uint32_t params) {
  return tile_main(core, params, SPD_DS_ROLE_TILE);
}

static int tile_full_entry(spd_core_t *core, uint32_t params) {
  return tile_main(core, params, SPD_DS_ROLE_TILE_FULL);
}

const spd_kernel_t spd_kernel_dense_tile = {"spindle_tile", tile_entry};
const spd_kernel_t spd_kernel_dense_tile_full = {"spindle_tile_full", tile_full_entry};
