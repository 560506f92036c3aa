/* The loss core (docs/dense-on-machine.md, "Core roles"): receives the
 * output layer's pre-activations z, applies the output activation (softmax
 * over the vector, spd_fx_softmax, or an elementwise one), the loss against
 * the sample's label (sparse cross-entropy from the logits,
 * spd_fx_softmax_xent, as the reference's fixed mode; with a linear output
 * and from_logits, SPD_DS_FROM_LOGITS, the outputs are the logits and the
 * softmax is the loss's own, at SPD_FX_LOGITS_PROB_FRAC), the predicted class,
 * and sends the record to the sink; then a credit per source frees the
 * sample's slot (inference). */
#include <math.h>
#include <string.h>

#include "kernels/kernel_common.h"
#include "kernels/kernels.h"
#include "spindle/error.h"
#include "spindle/fixed_math.h"


typedef struct loss {
  spd_kc_t kc;
  bool fixed;
  uint32_t n;
  uint32_t *z;         /* slots x n: int32 or float bits */
  int16_t *y16;
  float *yf;
  int16_t *p16;        /* from logits: the softmax the gradient takes */
  float *pf;
  uint32_t *rec;       /* slots x (n + SPD_DS_RECORD_EXTRA) */
  uint32_t *seq;
  uint32_t *dz;        /* slots x n, training */
  uint32_t zero;
  spd_fx_act_params_t act;
  uint32_t saturations;
} loss_t;

static void store(spd_kc_t *kc, uint32_t in, uint32_t slot, uint32_t v, uint32_t word,
                  uint32_t payload) {
  (void)in;
  (void)word;
  loss_t *l = kc->role;
  if (v < l->n)
    l->z[slot * l->n + v] = payload;
}

static int32_t label_of(loss_t *l, uint32_t sample) {
  int32_t label = -1;
  if (l->kc.cfg.flags & SPD_DS_LABELS)
    spd_core_sdram_read(l->kc.core, l->kc.cfg.sdram_addr + sample * 4u, &label, 4);
  return label;
}

static bool from_logits(const loss_t *l) { return (l->kc.cfg.flags & SPD_DS_FROM_LOGITS) != 0; }

static uint64_t outputs_fixed(loss_t *l, const int32_t *z, int32_t label, uint32_t *rec) {
  const spd_ds_config_t *c = &l->kc.cfg;
  int64_t loss = 0;
  if (from_logits(l)) { /* the record keeps the linear outputs */
    for (uint32_t j = 0; j < l->n; j++)
      l->y16[j] = spd_fx_act_forward(&l->act, z[j], &l->saturations);
    spd_fx_softmax(l->p16, z, (int)l->n, SPD_FX_LOGITS_PROB_FRAC, &l->saturations);
    spd_core_charge(l->kc.core, l->n * (SPD_COST_SOFTMAX_FIXED + SPD_COST_ACT_CHEAP));
    if (label >= 0 && (uint32_t)label < l->n)
      loss = spd_fx_softmax_xent(z, (int)l->n, label);
  } else if (c->flags & SPD_DS_SOFTMAX) {
    spd_fx_softmax(l->y16, z, (int)l->n, c->act_out_frac, &l->saturations);
    spd_core_charge(l->kc.core, l->n * SPD_COST_SOFTMAX_FIXED);
    if (label >= 0 && (uint32_t)label < l->n)
      loss = spd_fx_softmax_xent(z, (int)l->n, label);
  } else {
    for (uint32_t j = 0; j < l->n; j++)
      l->y16[j] = spd_fx_act_forward(&l->act, z[j], &l->saturations);
    spd_core_charge(l->kc.core, l->n * spd_kc_act_cycles(true, c->act_kind));
  }
  for (uint32_t j = 0; j < l->n; j++)
    rec[j] = (uint32_t)(int32_t)l->y16[j];
  rec[l->n + 2] = (uint32_t)spd_fx_argmax16(l->y16, (int)l->n);
  return (uint64_t)loss;
}

/* Float: the loss words say which loss the host computes from the record
 * (SPD_DS_LOSS_*): the cross-entropy of softmax outputs is -log p[label]
 * in double, which the host works out from the record's outputs (the
 * core has no double, docs/dense-on-machine.md "Packets and keys"). */
static uint64_t outputs_float(loss_t *l, const uint32_t *zw, int32_t label, uint32_t *rec) {
  const spd_ds_config_t *c = &l->kc.cfg;
  uint64_t loss = SPD_DS_LOSS_NONE;
  if (c->flags & (SPD_DS_SOFTMAX | SPD_DS_FROM_LOGITS)) {
    float *p = from_logits(l) ? l->pf : l->yf, max = spd_kc_u2f(zw[0]), sum = 0.0f;
    for (uint32_t j = 1; j < l->n; j++)
      max = fmaxf(max, spd_kc_u2f(zw[j]));
    for (uint32_t j = 0; j < l->n; j++)
      sum += p[j] = expf(spd_kc_u2f(zw[j]) - max);
    for (uint32_t j = 0; j < l->n; j++)
      p[j] /= sum;
    spd_core_charge(l->kc.core, l->n * SPD_COST_SOFTMAX_FLOAT);
    if (label >= 0 && (uint32_t)label < l->n)
      loss = from_logits(l) ? SPD_DS_LOSS_XENT_LOGITS : SPD_DS_LOSS_XENT;
  }
  if (from_logits(l)) {
    for (uint32_t j = 0; j < l->n; j++)
      l->yf[j] = spd_kc_u2f(zw[j]);
  } else if (!(c->flags & SPD_DS_SOFTMAX)) {
    float alpha = spd_kc_u2f((uint32_t)c->act_alpha);
    for (uint32_t j = 0; j < l->n; j++)
      l->yf[j] = spd_kc_act_float(c->act_kind, alpha, spd_kc_u2f(zw[j]));
    spd_core_charge(l->kc.core, l->n * spd_kc_act_cycles(false, c->act_kind));
  }
  uint32_t best = 0;
  for (uint32_t j = 0; j < l->n; j++) {
    rec[j] = spd_kc_f2u(l->yf[j]);
    if (l->yf[j] > l->yf[best])
      best = j;
  }
  rec[l->n + 2] = best;
  return loss;
}

/* Training: dZ = p - t of the fused softmax cross-entropy, rounded once to
 * the output layer's gradient format (the reference's loss core). */
static void output_gradient(loss_t *l, int32_t label, uint32_t *dz) {
  const spd_ds_config_t *c = &l->kc.cfg;
  int pf = from_logits(l) ? SPD_FX_LOGITS_PROB_FRAC : c->act_out_frac;
  const int16_t *p = from_logits(l) ? l->p16 : l->y16;
  for (uint32_t j = 0; j < l->n; j++) {
    int16_t t = (int32_t)j == label ? (int16_t)(1 << pf) : 0;
    int64_t diff = (int64_t)p[j] - t;
    dz[j] = (uint32_t)(int32_t)spd_fx_to16(diff, pf, c->grad_frac, &l->saturations);
  }
  spd_core_charge(l->kc.core, l->n * SPD_COST_ACT_CHEAP);
}

/* Float: dL/dz = (p - t) / B of the batch mean of the cross-entropy
 * (Keras's reduction), B the size of the sample's batch. */
static void output_gradient_float(loss_t *l, uint32_t seq, int32_t label, uint32_t *dz) {
  const spd_ds_config_t *c = &l->kc.cfg;
  uint32_t i = (seq + c->seq_offset) % c->epoch_samples, first = i / c->batch * c->batch;
  uint32_t count = c->epoch_samples - first < c->batch ? c->epoch_samples - first : c->batch;
  const float *p = from_logits(l) ? l->pf : l->yf;
  for (uint32_t j = 0; j < l->n; j++)
    dz[j] = spd_kc_f2u((p[j] - ((int32_t)j == label ? 1.0f : 0.0f)) / (float)count);
  spd_core_charge(l->kc.core, l->n * SPD_COST_ADD_FLOAT * 2u);
}

static void slot_done(spd_kc_t *kc, uint32_t slot, uint32_t phase) {
  (void)phase;
  loss_t *l = kc->role;
  uint32_t sample = l->seq[slot];
  l->seq[slot] += kc->h.slots;
  int32_t label = label_of(l, sample);
  uint32_t *rec = l->rec + slot * (l->n + SPD_DS_RECORD_EXTRA);
  const uint32_t *z = l->z + slot * l->n;
  uint64_t loss = SPD_KC_FIXED(l->fixed) ? outputs_fixed(l, (const int32_t *)z, label, rec)
                           : outputs_float(l, z, label, rec);
  rec[l->n] = (uint32_t)loss;
  rec[l->n + 1] = (uint32_t)(loss >> 32);
  rec[l->n + 3] = (uint32_t)label;
  int err = 0;
  uint32_t *dz = l->dz + slot * l->n;
  if (kc->cfg.flags & SPD_DS_TRAIN) {
    if (SPD_KC_FIXED(l->fixed))
      output_gradient(l, label, dz);
    else
      output_gradient_float(l, sample, label, dz);
    err = spd_kc_send_kind(kc, SPD_DS_KIND_DZ, slot, dz);
  }
  for (uint32_t p = 0; p < kc->h.n_out && !err; p++)
    if (kc->out[p].kind == SPD_DS_KIND_RECORD)
      err = spd_kc_send(kc, p, slot, rec, l->n + SPD_DS_RECORD_EXTRA);
    else if (kc->out[p].kind == SPD_DS_KIND_CREDIT)
      err = spd_kc_send(kc, p, slot, &l->zero, 1);
  if (err) {
    spd_kc_fail(kc, SPD_EQUEUE);
    return;
  }
  spd_kc_sample_done(kc);
}

static int loss_main(spd_core_t *core, uint32_t params) {
  loss_t *l = spd_core_dtcm_alloc(core, sizeof *l);
  if (!l)
    return SPD_ENOMEM;
  spd_kc_t *kc = &l->kc;
  int err = spd_kc_init(kc, core, params, SPD_DS_ROLE_LOSS);
  if (err)
    return err;
  kc->role = l;
  kc->store = store;
  kc->slot_done = slot_done;
  const spd_ds_config_t *c = &kc->cfg;
  l->fixed = kc->h.numeric == SPD_DS_FIXED;
  l->n = c->cols;
  l->act = (spd_fx_act_params_t){(spd_fx_act_t)c->act_kind, c->act_out_frac, c->act_alpha};
  uint32_t s = kc->h.slots;
  l->z = spd_kc_alloc(kc, s * l->n * 4u);
  l->rec = spd_kc_alloc(kc, s * (l->n + SPD_DS_RECORD_EXTRA) * 4u);
  l->seq = spd_kc_alloc(kc, s * 4u);
  l->dz = spd_kc_alloc(kc, s * l->n * 4u);
  bool logits = (c->flags & SPD_DS_FROM_LOGITS) != 0;
  if (SPD_KC_FIXED(l->fixed)) {
    l->y16 = spd_kc_alloc(kc, l->n * 2u);
    l->p16 = logits ? spd_kc_alloc(kc, l->n * 2u) : l->y16;
  } else {
    l->yf = spd_kc_alloc(kc, l->n * 4u);
    l->pf = logits ? spd_kc_alloc(kc, l->n * 4u) : l->yf;
  }
  if (!l->z || !l->rec || !l->seq || !l->dz ||
      (SPD_KC_FIXED(l->fixed) ? !l->y16 || !l->p16 : !l->yf || !l->pf))
    return SPD_ENOMEM;
  for (uint32_t i = 0; i < s; i++)
    l->seq[i] = i;
  return spd_kc_start(kc);
}

const spd_kernel_t spd_kernel_dense_loss = {"spindle_loss", loss_main};
