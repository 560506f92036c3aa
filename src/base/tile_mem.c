#include "base/tile_mem.h"

#include "spindle/dataspec.h"
#include "spindle/fixed.h"

/* One spd_core_dtcm_alloc of @p bytes (8-byte aligned; none for 0). */
static uint64_t al(uint64_t bytes) { return (bytes + 7u) & ~(uint64_t)7u; }

/* One spd_kc_alloc (which asks 4 bytes for 0). */
static uint64_t kal(uint64_t bytes) { return al(bytes ? bytes : 4u); }

_Static_assert(sizeof(spd_kc_job_t) <= SPD_KC_JOB_BYTES, "a job fits its planned bytes");
_Static_assert(sizeof(spd_kc_sent_rec_t) <= SPD_KC_SENT_REC_BYTES, "a record fits its bytes");

uint64_t spd_kc_init_dtcm(uint32_t n_in, uint32_t n_data, uint32_t n_out, uint32_t slots,
                          uint64_t packets_in, uint64_t held_in, uint64_t held_batch) {
  uint64_t held = held_in || held_batch
                      ? kal((uint64_t)n_in * sizeof(uint32_t)) +
                            kal((held_in * slots + held_batch) * sizeof(uint32_t))
                      : 0;
  return held + kal((uint64_t)n_in * sizeof(spd_ds_in_t)) + kal((uint64_t)n_out * sizeof(spd_ds_out_t)) +
         kal(SPD_KC_PHASES * (uint64_t)slots * sizeof(uint32_t)) +
         kal(((uint64_t)n_out * slots + 1u + SPD_KC_RESEND_JOBS) * SPD_KC_JOB_BYTES) +
         kal((uint64_t)n_in * sizeof(uint32_t)) + kal((uint64_t)spd_kc_rx_slots(n_data) * 8u) +
         kal((uint64_t)n_in * 3u * sizeof(uint32_t)) + /* the keys' reciprocals */
         kal(spd_kc_seen_words(packets_in) * slots * sizeof(uint32_t)) +
         kal(SPD_KC_PHASES * (uint64_t)slots) + kal((uint64_t)n_out * slots) +
         kal(SPD_KC_PHASES * (uint64_t)slots) + /* slots waiting for their turn */
         /* the end-to-end resend: records, progress per phase and slot,
          * requests waiting to go */
         kal((uint64_t)n_out * slots * SPD_KC_SENT_REC_BYTES) +
         kal(SPD_KC_PHASES * (uint64_t)slots * sizeof(uint32_t)) +
         kal(SPD_KC_PHASES * (uint64_t)slots) + kal(SPD_KC_RESEND_JOBS * sizeof(uint32_t));
}

/* Bytes of the slabs of one element. */
static uint32_t slab_bytes(bool fixed, uint32_t state) {
  uint32_t b = 0;
  if (state & SPD_TM_STATE_A)
    b += 4u;
  if (state & SPD_TM_STATE_B)
    b += fixed ? 8u : 4u;
  if (fixed && (state & SPD_TM_STATE_C))
    b += 4u;
  return b;
}

uint32_t spd_tile_mem_state(bool fixed, bool adam, bool rmsprop, bool momentum, bool centered) {
  if (adam)
    return SPD_TM_STATE_A | SPD_TM_STATE_B;
  if (rmsprop && fixed)
    return SPD_TM_STATE_B | (momentum ? SPD_TM_STATE_A : 0) | (centered ? SPD_TM_STATE_C : 0);
  return momentum ? SPD_TM_STATE_A : 0;
}

/* A trainable block of @p rows x @p cols in DTCM (train_block.c), or its
 * one-row buffers when its state is in SDRAM; @p master: a fixed block's
 * int32 master is allocated for it (a bias's master is its data). */
static uint64_t block(bool fixed, uint32_t state, uint64_t rows, uint64_t cols, bool sdram,
                      bool master) {
  uint64_t n = sdram ? cols : rows * cols, sum = 0;
  if (fixed)
    sum += (master ? al(n * 4u) : 0) + al(n * 8u);
  else
    sum += al(n * 4u);
  if (state & SPD_TM_STATE_A)
    sum += al(n * 4u);
  if (state & SPD_TM_STATE_B)
    sum += al(n * (fixed ? 8u : 4u));
  if (fixed && (state & SPD_TM_STATE_C))
    sum += al(n * 4u);
  return sum;
}

uint64_t spd_tile_mem_dtcm(const spd_tile_mem_t *t) {
  uint64_t a = t->rows, b = t->cols, s = t->slots, vb = t->fixed ? 2u : 4u;
  uint64_t words = t->full || !t->fixed ? 1u : 2u;
  /* x per slot, forward accumulators, (fixed) pre-activations, sends. */
  uint64_t sum = al(s * a * vb) + al(b * (t->fixed ? 8u : 4u)) + (t->fixed ? al(b * 4u) : 0) +
                 al(s * b * words * 4u);
  sum += t->streamed ? al(SPD_TM_STREAM_BYTES) : al(a * b * vb);
  if (t->bias)
    sum += al(b * 4u);
  if (!t->train)
    return sum;
  /* dX staging, dZ per slot, (fixed) dX accumulators, dX words per slot,
   * the forwards held until the update. */
  sum += al(s * t->dxstage * 4u) + al(s * b * vb) + (t->fixed ? al(a * 8u) : 0) +
         al(s * a * (t->fixed ? 8u : 4u)) + al(s);
  if (t->full && !t->last) /* kept y, the dX sums from above */
    sum += al(s * b * vb) + al(s * b * (t->fixed ? 8u : 4u));
  if (t->bias)
    sum += block(t->fixed, t->state, 1, b, false, false);
  return sum + block(t->fixed, t->state, a, b, t->fixed && t->split, true);
}

uint64_t spd_tile_mem_sdram(const spd_tile_mem_t *t) {
  if (!t->train || !t->fixed || !t->split)
    return 0;
  return (uint64_t)t->rows * t->cols * (8u + slab_bytes(true, t->state));
}

/* Float training parameters of @p n elements (spd_kc_fparams_init): the
 * gradient, m and v. */
static uint64_t fparams(uint32_t state, uint64_t n) {
  return kal(n * 4u) + (state & SPD_TM_STATE_A ? kal(n * 4u) : 0) +
         (state & SPD_TM_STATE_B ? kal(n * 4u) : 0);
}

/* Fixed training parameters of @p n elements (spd_kc_params_init): the
 * exact gradient and the optimizer's slabs. */
static uint64_t params(uint32_t state, uint64_t n) {
  return kal(n * 8u) + (state & SPD_TM_STATE_A ? kal(n * 4u) : 0) +
         (state & SPD_TM_STATE_B ? kal(n * 8u) : 0) + (state & SPD_TM_STATE_C ? kal(n * 4u) : 0);
}

/* Training of a conv or pool tile (conv.c's train_init). */
static uint64_t conv_train(const spd_conv_mem_t *t) {
  uint64_t s = t->slots, K = (uint64_t)t->n_w + (t->bias ? t->b : 0u);
  uint64_t stages = s < SPD_CONV_DX_STAGES ? s : SPD_CONV_DX_STAGES;
  /* dX words, their staging (SPD_CONV_DX_STAGES samples), the forwards
   * held for the update, the backwards waiting for a staging. */
  uint64_t sum = kal((uint64_t)t->n_in * 8u) + kal(stages * t->dxstage * 4u) + 2u * kal(s);
  if (!t->fixed) {
    /* dY sums per slot, dY, dX; dZ, the pooling's dX, the dW staging. */
    sum += kal(s * t->n_out * 4u) + kal((uint64_t)t->n_out * 4u) + kal((uint64_t)t->n_in * 4u);
    if (!t->conv)
      return sum;
    sum += 2u * kal((uint64_t)t->n_conv * 4u) + kal(K * 8u);
    if (!t->owner) /* the batch gradient of kernel and bias */
      return sum + kal(K * 4u);
    return sum + (t->others ? kal(K * 4u) : 0) + fparams(t->state, t->n_w) +
           (t->bias ? fparams(t->state, t->b) : 0);
  }
  /* dY sums per slot, dY, dX sums; dZ, the pooling's dX, the dW staging. */
  sum += kal(s * t->n_out * 8u) + kal((uint64_t)t->n_out * 2u) + kal((uint64_t)t->n_in * 8u);
  if (!t->conv)
    return sum;
  sum += kal((uint64_t)t->n_conv * 2u) + kal((uint64_t)t->n_conv * 8u) + kal(K * 16u);
  if (!t->owner) /* the exact gradient of kernel and bias */
    return sum + kal((uint64_t)t->n_w * 8u) + (t->bias ? kal((uint64_t)t->b * 8u) : 0);
  /* the others' dW sums, the master slice, kernel and bias state */
  return sum + (t->others ? kal(K * 8u) : 0) + kal((uint64_t)t->n_w * 4u) +
         params(t->state, t->n_w) + (t->bias ? params(t->state, t->b) : 0);
}

uint64_t spd_conv_mem_dtcm(const spd_conv_mem_t *t) {
  uint64_t s = t->slots, vb = t->fixed ? 2u : 4u, ks = t->train ? s : 1u;
  bool pool = t->pool != SPD_DS_POOL_NONE, max = t->pool == SPD_DS_POOL_MAX;
  /* x per slot, its own values, their staging per slot */
  uint64_t sum = kal(s * t->n_in * vb) + kal((uint64_t)t->n_out * 4u) + kal(s * t->stage * 4u);
  if (t->fixed) {
    /* int64 sums, z, y (per slot when training), pooled values, argmax */
    if (t->conv)
      sum += kal((uint64_t)t->n_conv * 8u) + kal((uint64_t)t->n_conv * 4u) +
             kal(ks * t->n_conv * 2u);
    sum += (pool ? kal((uint64_t)t->n_out * 2u) : 0) + (max ? kal(ks * t->n_out * 4u) : 0);
    /* an Add tile keeps its y (per slot when training) */
    sum += t->pool == SPD_DS_POOL_ADD ? kal(ks * t->n_out * 2u) : 0;
  } else {
    if (t->conv)
      sum += kal(ks * t->n_conv * 4u);
    sum += (pool ? kal((uint64_t)t->n_out * 4u) : 0) +
           (max && t->train ? kal(s * t->n_out * 4u) : 0);
    sum += t->pool == SPD_DS_POOL_ADD ? kal(ks * t->n_out * 4u) : 0;
  }
  /* the data region: kernel slice, bias, an average pooling's 1/count */
  if (t->conv)
    sum += kal((uint64_t)t->n_w * vb) + (t->bias ? kal((uint64_t)t->b * 4u) : 0);
  if (t->pool == SPD_DS_POOL_AVG && t->fixed)
    sum += kal(((uint64_t)t->pool_taps + 1u) * sizeof(spd_fx_const_t));
  return t->train ? sum + conv_train(t) : sum;
}
