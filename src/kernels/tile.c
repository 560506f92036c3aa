/* The dense tile kernels (docs/dense-on-machine.md, "Core roles"): a block
 * of W (rows x cols). When every input value of a sample slot has arrived,
 * the tile forms its partial sums exactly (spd_fx_dense_forward_block, the
 * reference's own function) and sends them to its reducer, two words per
 * int64 sum, low first; a full tile (R = 1) reduces itself: bias, one
 * rounding, activation, and sends y on (z to the loss core when it feeds
 * it). Float tiles do the same in float32. */
#include <string.h>

#include "base/fx_dense.h"
#include "kernels/kernel_common.h"
#include "kernels/kernels.h"
#include "spindle/error.h"
#include "spindle/fixed_math.h"
#include "spindle/partition.h"

#define STREAM_BYTES 4096u /* one SDRAM chunk of a streamed block */

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
} tile_t;

static void store(spd_kc_t *kc, uint32_t in, uint32_t slot, uint32_t v, uint32_t word,
                  uint32_t payload) {
  (void)in;
  (void)word;
  tile_t *t = kc->role;
  if (v >= t->a)
    return;
  if (t->fixed)
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
    spd_core_sdram_read(t->kc.core, t->kc.cfg.sdram_addr + r * t->b * 2u, t->stream,
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
      spd_core_sdram_read(t->kc.core, t->kc.cfg.sdram_addr + r0 * t->b * 4u, t->stream,
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
    n += t->fixed ? t->x16[slot * t->a + r] != 0 : t->xf[slot * t->a + r] != 0.0f;
  return n;
}

/* A full tile: bias, one rounding, the activation (or z for the loss). */
static void finish_full(tile_t *t, uint32_t *out) {
  const spd_ds_config_t *c = &t->kc.cfg;
  bool last = c->flags & SPD_DS_LAST;
  if (t->fixed) {
    spd_fx_dense_reduce(t->z, t->acc, t->bias32, (int)t->b, c->acc_frac, c->bias_frac,
                        &t->saturations);
    for (uint32_t j = 0; j < t->b; j++)
      out[j] = last ? (uint32_t)t->z[j]
                    : (uint32_t)(int32_t)spd_fx_act_forward(&t->act, t->z[j], &t->saturations);
  } else {
    float alpha = spd_kc_u2f((uint32_t)c->act_alpha);
    for (uint32_t j = 0; j < t->b; j++) {
      float z = t->accf[j] + (t->biasf ? t->biasf[j] : 0.0f);
      out[j] = spd_kc_f2u(last ? z : spd_kc_act_float(c->act_kind, alpha, z));
    }
  }
  uint32_t per = last ? SPD_KC_PER_VALUE : spd_kc_act_cycles(t->fixed, c->act_kind);
  spd_core_charge(t->kc.core, t->b * (per + (t->fixed ? SPD_KC_ADD_FIXED : SPD_KC_ADD_FLOAT)));
}

static void slot_done(spd_kc_t *kc, uint32_t slot) {
  tile_t *t = kc->role;
  uint32_t rows = nonzero(t, slot);
  spd_core_charge(kc->core, t->a * SPD_KC_PER_VALUE +
                                rows * t->b * (t->fixed ? SPD_KC_MAC_FIXED : SPD_KC_MAC_FLOAT));
  if (t->fixed)
    forward_fixed(t, t->x16 + slot * t->a);
  else
    forward_float(t, t->xf + slot * t->a);
  uint32_t *out = t->out + slot * t->b * t->words;
  if (t->full) {
    finish_full(t, out);
  } else if (t->fixed) {
    for (uint32_t j = 0; j < t->b; j++) {
      uint64_t v = (uint64_t)t->acc[j];
      out[2 * j] = (uint32_t)v;
      out[2 * j + 1] = (uint32_t)(v >> 32);
    }
  } else {
    for (uint32_t j = 0; j < t->b; j++)
      out[j] = spd_kc_f2u(t->accf[j]);
  }
  if (spd_kc_send_all(kc, slot, out)) {
    spd_kc_fail(kc, SPD_EQUEUE);
    return;
  }
  spd_kc_sample_done(kc);
}

static int load_weights(tile_t *t) {
  const spd_ds_config_t *c = &t->kc.cfg;
  uint32_t vb = t->fixed ? 2u : 4u, bytes = t->a * t->b * vb;
  int err = 0;
  if (c->flags & SPD_DS_STREAMED) {
    t->stream = spd_kc_alloc(&t->kc, STREAM_BYTES);
    if (!t->stream || t->b * vb > STREAM_BYTES)
      return SPD_ENOMEM;
  } else {
    void *w = spd_kc_alloc(&t->kc, bytes);
    if (!w)
      return SPD_ENOMEM;
    if (t->fixed)
      t->w16 = w;
    else
      t->wf = w;
    err = spd_kc_read_data(&t->kc, 0, w, bytes);
  }
  if (err || !(c->flags & SPD_DS_BIAS))
    return err;
  uint32_t off = c->flags & SPD_DS_STREAMED ? 0 : bytes;
  void *bias = spd_kc_alloc(&t->kc, t->b * 4u);
  if (!bias)
    return SPD_ENOMEM;
  if (t->fixed)
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
  t->fixed = kc->h.numeric == SPD_NUMERIC_FIXED;
  t->full = role == SPD_ROLE_TILE_FULL;
  t->a = c->rows;
  t->b = c->cols;
  t->words = t->full || !t->fixed ? 1u : 2u;
  t->act = (spd_fx_act_params_t){(spd_fx_act_t)c->act_kind, c->act_out_frac, c->act_alpha};
  uint32_t s = kc->h.slots, vb = t->fixed ? 2u : 4u;
  if (t->fixed) {
    t->x16 = spd_kc_alloc(kc, s * t->a * vb);
    t->acc = spd_kc_alloc(kc, t->b * 8u);
    t->z = spd_kc_alloc(kc, t->b * 4u);
  } else {
    t->xf = spd_kc_alloc(kc, s * t->a * vb);
    t->accf = spd_kc_alloc(kc, t->b * 4u);
  }
  t->out = spd_kc_alloc(kc, s * t->b * t->words * 4u);
  if ((t->fixed ? !t->x16 || !t->acc || !t->z : !t->xf || !t->accf) || !t->out)
    return SPD_ENOMEM;
  if ((err = load_weights(t)))
    return err;
  return spd_kc_start(kc);
}

static int tile_entry(spd_core_t *core, uint32_t params) {
  return tile_main(core, params, SPD_ROLE_TILE);
}

static int tile_full_entry(spd_core_t *core, uint32_t params) {
  return tile_main(core, params, SPD_ROLE_TILE_FULL);
}

const spd_kernel_t spd_kernel_dense_tile = {"spindle_tile", tile_entry};
const spd_kernel_t spd_kernel_dense_tile_full = {"spindle_tile_full", tile_full_entry};
