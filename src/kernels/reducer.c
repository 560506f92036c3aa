/* The reducer of one column block (docs/dense-on-machine.md, "Core roles"):
 * sums the partial sums of the block's R tiles as they arrive. In fixed
 * point an int64 sum travels as two words; adding the low words (as
 * unsigned) and the high words (shifted) separately is exact modulo 2^64,
 * and the true sum fits int64, so the order of arrival does not matter.
 * Then the bias, one rounding (spd_fx_dense_reduce), the activation, and y
 * goes on to the next layer (z to the loss core).
 *
 * Training (fixed point): the dX sums of the next layer's tiles are summed
 * the same way and rounded once to dY; dZ = dY f'(y) with the kept y goes
 * to the block's tiles and into the bias gradient (the output layer's dZ
 * comes from the loss core instead); the bias is updated at every batch
 * boundary, and a next batch's forward waits for that update.
 *
 * When a Dropout reads y (training), y goes out through its mask and the
 * received dY (the Dropout's) comes back through it before f'(y)
 * (kernels/dropout.h); the kept y is the unmasked one. */
#include <string.h>

#include "base/fx_dense.h"
#include "kernels/dropout.h"
#include "kernels/kernels.h"
#include "kernels/train_block.h"
#include "spindle/error.h"
#include "spindle/fixed_math.h"

typedef struct reducer {
  spd_kc_t kc;
  bool fixed, train, last;
  uint32_t b;
  uint64_t *acc;     /* fixed: slots x b, modulo 2^64 */
  float *accf;       /* float: slots x b */
  int32_t *bias32;
  float *biasf;
  int32_t *z;
  uint32_t *out;     /* slots x b */
  spd_fx_act_params_t act;
  uint32_t saturations;
  spd_kc_drop_t drop;
  /* training */
  int16_t *y16;      /* slots x b: kept for f'(y) */
  uint64_t *dyacc;   /* slots x b */
  int16_t *dz16;     /* slots x b */
  uint32_t *dzw;     /* slots x b */
  spd_kc_params_t bias;
  float *yf, *dyaccf, *dzf;  /* float training: slots x b */
  spd_kc_fparams_t fbias;
  uint32_t next_fwd, next_bwd, batches_done;
  uint8_t *pending;  /* per slot: forward complete, waiting for an update */
  uint32_t zero;     /* a credit's payload */
} reducer_t;

static void store(spd_kc_t *kc, uint32_t in, uint32_t slot, uint32_t v, uint32_t word,
                  uint32_t payload) {
  reducer_t *r = kc->role;
  if (v >= r->b)
    return;
  uint32_t kind = kc->in[in].kind, i = slot * r->b + v;
  if (kind == SPD_DS_KIND_CREDIT)
    return; /* only counted */
  if (kind == SPD_DS_KIND_DZ) {
    if (SPD_KC_FIXED(r->fixed))
      r->dz16[i] = (int16_t)(int32_t)payload;
    else
      r->dzf[i] = spd_kc_u2f(payload);
    return;
  }
  uint64_t part = word ? (uint64_t)payload << 32 : (uint64_t)payload;
  if (kind == SPD_DS_KIND_DXPSUM && !SPD_KC_FIXED(r->fixed))
    r->dyaccf[i] += spd_kc_u2f(payload);
  else if (kind == SPD_DS_KIND_DXPSUM)
    r->dyacc[i] += part;
  else if (SPD_KC_FIXED(r->fixed))
    r->acc[i] += part;
  else
    r->accf[i] += spd_kc_u2f(payload);
  spd_core_charge(kc->core, SPD_KC_FIXED(r->fixed) ? SPD_COST_ADD_FIXED : SPD_COST_ADD_FLOAT);
}

static void forward(reducer_t *r, uint32_t slot) {
  spd_kc_t *kc = &r->kc;
  const spd_ds_config_t *c = &kc->cfg;
  uint32_t *out = r->out + slot * r->b, seq = r->next_fwd++;
  if (SPD_KC_FIXED(r->fixed)) {
    int64_t *acc = (int64_t *)(r->acc + slot * r->b);
    spd_fx_dense_reduce(r->z, acc, r->bias32, (int)r->b, c->acc_frac, c->bias_frac,
                        &r->saturations);
    for (uint32_t j = 0; j < r->b; j++) {
      int16_t y = r->last ? 0 : spd_fx_act_forward(&r->act, r->z[j], &r->saturations);
      bool keep = spd_kc_drop_keep(&r->drop, kc->core, seq, c->col_lo + j);
      out[j] = r->last ? (uint32_t)r->z[j]
                       : (uint32_t)(int32_t)spd_kc_drop_fixed(&r->drop, keep, y, &r->saturations);
      if (r->y16)
        r->y16[slot * r->b + j] = y;
    }
    memset(acc, 0, r->b * sizeof *acc);
  } else {
    float alpha = spd_kc_u2f((uint32_t)c->act_alpha);
    float *acc = r->accf + slot * r->b;
    for (uint32_t j = 0; j < r->b; j++) {
      float z = acc[j] + (r->biasf ? r->biasf[j] : 0.0f);
      float y = r->last ? z : spd_kc_act_float(c->act_kind, alpha, z);
      bool keep = spd_kc_drop_keep(&r->drop, kc->core, seq, c->col_lo + j);
      out[j] = spd_kc_f2u(spd_kc_drop_float(&r->drop, keep, y));
      if (r->yf)
        r->yf[slot * r->b + j] = y;
    }
    memset(acc, 0, r->b * sizeof *acc);
  }
  uint32_t per = r->last ? SPD_COST_PER_VALUE : spd_kc_act_cycles(SPD_KC_FIXED(r->fixed), c->act_kind);
  spd_core_charge(kc->core, r->b * (per + (SPD_KC_FIXED(r->fixed) ? SPD_COST_ADD_FIXED : SPD_COST_ADD_FLOAT)));
  if (spd_kc_send_kind(kc, SPD_DS_KIND_Y, slot, out)) {
    spd_kc_fail(kc, SPD_EQUEUE);
    return;
  }
  if (!r->train)
    spd_kc_sample_done(kc);
}

/* Forwards that waited for the update, in sample order. */
/* Float: dZ = dY f'(y), the bias gradient, dZ to the tiles. */
static int backward_float(reducer_t *r, uint32_t slot, uint32_t seq) {
  spd_kc_t *kc = &r->kc;
  const spd_ds_config_t *c = &kc->cfg;
  float *dz = r->dzf + slot * r->b, alpha = spd_kc_u2f((uint32_t)c->act_alpha);
  if (!r->last) {
    float *dy = r->dyaccf + slot * r->b;
    for (uint32_t j = 0; j < r->b; j++) {
      bool keep = spd_kc_drop_keep(&r->drop, kc->core, seq, c->col_lo + j);
      dz[j] = spd_kc_act_grad_float(c->act_kind, alpha, r->yf[slot * r->b + j],
                                    spd_kc_drop_float(&r->drop, keep, dy[j]));
      r->dzw[slot * r->b + j] = spd_kc_f2u(dz[j]);
      dy[j] = 0.0f;
    }
    spd_core_charge(kc->core, r->b * spd_kc_act_cycles(false, c->act_kind));
    if (spd_kc_send_kind(kc, SPD_DS_KIND_DZ, slot, r->dzw + slot * r->b))
      return SPD_EQUEUE;
  }
  for (uint32_t j = 0; r->fbias.grad && j < r->b; j++)
    r->fbias.grad[j] += dz[j];
  return 0;
}

/* The trained bias into the results when they are due (int32 masters or
 * float bits); a failed write fails the core. */
static int save_bias(reducer_t *r, uint32_t seq, const void *bias) {
  spd_kc_t *kc = &r->kc;
  uint32_t bytes = r->b * 4u, at = bias ? spd_kc_result_at(kc, seq, bytes) : 0;
  int snap = !bias ? 0
             : SPD_KC_FIXED(r->fixed) ? spd_kc_snapshot(kc, seq, NULL, &r->bias)
                        : spd_kc_fsnapshot(kc, seq, NULL, &r->fbias);
  if (snap ||
      (at && (spd_core_sdram_write(kc->core, at, bias, bytes) ||
              (r->fixed ? spd_kc_state_save(kc, seq, NULL, &r->bias)
                        : spd_kc_fstate_save(kc, seq, NULL, &r->fbias)) ||
              spd_kc_result_seal(kc, seq, at, bytes)))) {
    spd_kc_fail(kc, SPD_EINVAL);
    return SPD_EINVAL;
  }
  return 0;
}

/* A first-layer reducer's sample is done when its tiles' credits are back:
 * it sends one on to the sources. */
static bool passes_credits(const spd_kc_t *kc) { return kc->expected[SPD_KC_CREDIT] != 0; }

static void backward(reducer_t *r, uint32_t slot) {
  spd_kc_t *kc = &r->kc;
  const spd_ds_config_t *c = &kc->cfg;
  uint32_t seq = r->next_bwd++;
  if (!SPD_KC_FIXED(r->fixed)) {
    if (backward_float(r, slot, seq)) {
      spd_kc_fail(kc, SPD_EQUEUE);
      return;
    }
    if (spd_kc_batch_end(kc, seq)) {
      if (r->fbias.grad && spd_kc_fparams_update(kc, &r->fbias, spd_kc_batch_of(kc, seq))) {
        spd_kc_fail(kc, SPD_EINVAL);
        return;
      }
      r->batches_done++;
      if (save_bias(r, seq, r->biasf))
        return;
      spd_kc_release(&r->kc, r->pending, &r->next_fwd, r->batches_done);
    }
    if (!passes_credits(kc))
      spd_kc_sample_done(kc);
    return;
  }
  int16_t *dz = r->dz16 + slot * r->b;
  if (!r->last) {
    int16_t *y = r->y16 + slot * r->b;
    int64_t *acc = (int64_t *)(r->dyacc + slot * r->b);
    for (uint32_t j = 0; j < r->b; j++) {
      int16_t dy = spd_fx_to16(acc[j], c->dy_from_frac, c->grad_frac, &r->saturations);
      bool keep = spd_kc_drop_keep(&r->drop, kc->core, seq, c->col_lo + j);
      dy = spd_kc_drop_fixed(&r->drop, keep, dy, &r->saturations);
      dz[j] = spd_fx_act_backward(&r->act, y[j], dy, &r->saturations);
      r->dzw[slot * r->b + j] = (uint32_t)(int32_t)dz[j];
    }
    memset(acc, 0, r->b * sizeof *acc);
    spd_core_charge(kc->core, r->b * spd_kc_act_cycles(true, c->act_kind));
    if (spd_kc_send_kind(kc, SPD_DS_KIND_DZ, slot, r->dzw + slot * r->b)) {
      spd_kc_fail(kc, SPD_EQUEUE);
      return;
    }
  }
  if (r->bias.grad)
    spd_fx_bias_grad(r->bias.grad, dz, (int)r->b);
  if (spd_kc_batch_end(kc, seq)) {
    if (r->bias.grad && spd_kc_params_update(kc, &r->bias, spd_kc_batch_of(kc, seq),
                                             &r->saturations)) {
      spd_kc_fail(kc, SPD_EINVAL);
      return;
    }
    r->batches_done++;
    if (save_bias(r, seq, r->bias32))
      return;
    spd_kc_release(&r->kc, r->pending, &r->next_fwd, r->batches_done);
  }
  if (!passes_credits(kc))
    spd_kc_sample_done(kc);
}

static void slot_done(spd_kc_t *kc, uint32_t slot, uint32_t phase) {
  reducer_t *r = kc->role;
  if (phase == SPD_KC_CREDIT) {
    if (spd_kc_send_kind(kc, SPD_DS_KIND_CREDIT, slot, &r->zero))
      spd_kc_fail(kc, SPD_EQUEUE);
    else
      spd_kc_sample_done(kc);
    return;
  }
  if (phase == SPD_KC_BACKWARD) {
    backward(r, slot);
    return;
  }
  if (r->train && spd_kc_batch_of(kc, r->next_fwd) > r->batches_done) {
    r->pending[slot] = 1;
    return;
  }
  forward(r, slot);
}

static int train_init(reducer_t *r) {
  spd_kc_t *kc = &r->kc;
  uint32_t s = kc->h.slots;
  if (!SPD_KC_FIXED(r->fixed)) {
    r->yf = spd_kc_alloc(kc, s * r->b * 4u);
    r->dyaccf = spd_kc_alloc(kc, s * r->b * 4u);
    r->dzf = spd_kc_alloc(kc, s * r->b * 4u);
    r->dzw = spd_kc_alloc(kc, s * r->b * 4u);
    r->pending = spd_kc_alloc(kc, s);
    if (!r->yf || !r->dyaccf || !r->dzf || !r->dzw || !r->pending)
      return SPD_ENOMEM;
    return r->biasf ? spd_kc_fparams_init(kc, &r->fbias, r->b, r->biasf, 1) : 0;
  }
  r->y16 = spd_kc_alloc(kc, s * r->b * 2u);
  r->dyacc = spd_kc_alloc(kc, s * r->b * 8u);
  r->dz16 = spd_kc_alloc(kc, s * r->b * 2u);
  r->dzw = spd_kc_alloc(kc, s * r->b * 4u);
  r->pending = spd_kc_alloc(kc, s);
  if (!r->y16 || !r->dyacc || !r->dz16 || !r->dzw || !r->pending)
    return SPD_ENOMEM;
  if (!r->bias32)
    return 0;
  return spd_kc_params_init(kc, &r->bias, 1, r->b, r->bias32, NULL, 1);
}

static int reducer_main(spd_core_t *core, uint32_t params) {
  reducer_t *r = spd_core_dtcm_alloc(core, sizeof *r);
  if (!r)
    return SPD_ENOMEM;
  spd_kc_t *kc = &r->kc;
  int err = spd_kc_init(kc, core, params, SPD_DS_ROLE_REDUCER);
  if (err)
    return err;
  kc->role = r;
  kc->store = store;
  kc->slot_done = slot_done;
  const spd_ds_config_t *c = &kc->cfg;
  r->fixed = kc->h.numeric == SPD_DS_FIXED;
  r->train = c->flags & SPD_DS_TRAIN;
  r->last = c->flags & SPD_DS_LAST;
  r->b = c->cols;
  r->act = (spd_fx_act_params_t){(spd_fx_act_t)c->act_kind, c->act_out_frac, c->act_alpha};
  spd_kc_drop_init(&r->drop, kc);
  uint32_t s = kc->h.slots;
  if (SPD_KC_FIXED(r->fixed)) {
    r->acc = spd_kc_alloc(kc, s * r->b * 8u);
    r->z = spd_kc_alloc(kc, r->b * 4u);
  } else {
    r->accf = spd_kc_alloc(kc, s * r->b * 4u);
  }
  r->out = spd_kc_alloc(kc, s * r->b * 4u);
  if ((SPD_KC_FIXED(r->fixed) ? !r->acc || !r->z : !r->accf) || !r->out)
    return SPD_ENOMEM;
  if (c->flags & SPD_DS_BIAS) {
    void *bias = spd_kc_alloc(kc, r->b * 4u);
    if (!bias)
      return SPD_ENOMEM;
    if (SPD_KC_FIXED(r->fixed))
      r->bias32 = bias;
    else
      r->biasf = bias;
    if ((err = spd_kc_read_data(kc, 0, bias, r->b * 4u)))
      return err;
  }
  if (r->train && (err = train_init(r)))
    return err;
  return spd_kc_start(kc);
}

const spd_kernel_t spd_kernel_dense_reducer = {"spindle_reducer", reducer_main};
