/* The convolution and pooling tile kernels (docs/conv-on-machine.md): a
 * tile owns output rows x output channels of a window layer, at every
 * column, and reads every input channel (a pooling tile: its own) of the
 * input rows its windows touch (its halo). When every input value of a
 * sample slot has arrived, a convolution tile forms its exact int64 sums
 * with the reference's own block function (spd_fx_conv_forward_block, on
 * its slice of the kernel: a window whose out_c is the tile's channels),
 * adds the bias and rounds once (spd_fx_conv_reduce), applies the
 * activation and, when a pooling is fused into it, pools its own rows
 * (spd_fx_maxpool_forward / spd_fx_avgpool_forward on a window shifted to
 * those rows); a pooling tile only pools. The values go on split by the
 * readers' halos (feature-map partitions, gathered from the tile's own
 * rows x columns x channels). Float tiles do the same in float32.
 *
 * Pooling on a tile's rows: the tile holds input rows [in_lo, in_lo + n)
 * and computes output rows [out_lo, ...); output row o' = o - out_lo reads
 * local row o s + t - pad - in_lo = o' s + t - (pad + in_lo - out_lo s), so
 * the same window with pad_top' = pad + in_lo - out_lo s and in_h' = n
 * gives the same taps, and the same padding (the halo reaches the input's
 * edge wherever a window is cut by it). */
#include <string.h>

#include "base/fx_conv.h"
#include "kernels/kernel_common.h"
#include "kernels/kernels.h"
#include "spindle/error.h"
#include "spindle/fixed_math.h"

typedef struct ctile {
  spd_kc_t kc;
  bool fixed, conv;
  uint32_t b;                /* channels */
  uint32_t n_in;             /* input values per slot */
  uint32_t n_conv;           /* convolution outputs (conv tiles) */
  uint32_t n_out;            /* values it sends (after pooling) */
  spd_fx_window_t gc, gp;    /* convolution (out_c = b), pooling on local rows */
  spd_fx_conv_block_t blk;
  int16_t *x16, *w16, *y16, *p16;  /* fixed: x per slot, kernel slice, conv y, pooled */
  int32_t *bias32, *z, *argmax;
  int64_t *acc;
  float *xf, *wf, *biasf, *yf, *pf;
  spd_fx_const_t *inv_count;
  uint32_t *own;             /* the values it sends, own order, one word each */
  uint32_t *stage;           /* slots x (every outgoing partition's values) */
  uint32_t stage_n;
  spd_fx_act_params_t act;
  uint32_t saturations;
} ctile_t;

static void store(spd_kc_t *kc, uint32_t in, uint32_t slot, uint32_t v, uint32_t word,
                  uint32_t payload) {
  (void)in;
  (void)word;
  ctile_t *t = kc->role;
  if (v >= t->n_in)
    return;
  if (t->fixed)
    t->x16[slot * t->n_in + v] = (int16_t)(int32_t)payload;
  else
    t->xf[slot * t->n_in + v] = spd_kc_u2f(payload);
}

static spd_fx_window_t window_of(const spd_ds_window_t *w) {
  return (spd_fx_window_t){w->in_h,     w->in_w,     w->in_c,  w->out_h,   w->out_w,
                           w->out_c,    w->k_h,      w->k_w,   w->stride_h, w->stride_w,
                           w->dil_h,    w->dil_w,    w->pad_top, w->pad_left};
}

/* Input row/column of tap @p k of output @p o, or -1 in the padding. */
static int tap(int o, int k, int stride, int dil, int pad, int n) {
  int i = o * stride + k * dil - pad;
  return i >= 0 && i < n ? i : -1;
}

/* Float convolution over the tile's rows: the taps of spd_fx_conv_forward_block. */
static void conv_float(ctile_t *t, const float *x) {
  const spd_fx_window_t *g = &t->gc;
  const spd_fx_conv_block_t *b = &t->blk;
  memset(t->yf, 0, t->n_conv * sizeof *t->yf);
  for (int oh = b->oh0; oh < b->oh1; oh++)
    for (int ow = 0; ow < g->out_w; ow++) {
      float *o = t->yf + ((size_t)(oh - b->oh0) * g->out_w + ow) * t->b;
      for (int kh = 0; kh < g->k_h; kh++)
        for (int kw = 0; kw < g->k_w; kw++) {
          int ih = tap(oh, kh, g->stride_h, g->dil_h, g->pad_top, g->in_h);
          int iw = tap(ow, kw, g->stride_w, g->dil_w, g->pad_left, g->in_w);
          if (ih < 0 || iw < 0)
            continue;
          const float *xi = x + ((size_t)(ih - b->in_row0) * g->in_w + iw) * g->in_c;
          const float *wr = t->wf + ((size_t)kh * g->k_w + kw) * g->in_c * t->b;
          for (int ic = 0; ic < g->in_c; ic++)
            for (uint32_t oc = 0; oc < t->b; oc++)
              o[oc] += xi[ic] * wr[(size_t)ic * t->b + oc];
        }
    }
  const spd_ds_config_t *c = &t->kc.cfg;
  float alpha = spd_kc_u2f((uint32_t)c->act_alpha);
  for (uint32_t i = 0; i < t->n_conv; i++)
    t->yf[i] = spd_kc_act_float(c->act_kind, alpha,
                                t->yf[i] + (t->biasf ? t->biasf[i % t->b] : 0.0f));
}

/* Float pooling of @p x (local rows) into @p y. */
static void pool_float(ctile_t *t, const float *x, float *y) {
  const spd_fx_window_t *g = &t->gp;
  bool max = t->kc.cfg.pool_kind == SPD_DS_POOL_MAX;
  for (int oh = 0; oh < g->out_h; oh++)
    for (int ow = 0; ow < g->out_w; ow++)
      for (int c = 0; c < g->in_c; c++) {
        float v = 0.0f;
        int n = 0;
        for (int kh = 0; kh < g->k_h; kh++)
          for (int kw = 0; kw < g->k_w; kw++) {
            int ih = tap(oh, kh, g->stride_h, 1, g->pad_top, g->in_h);
            int iw = tap(ow, kw, g->stride_w, 1, g->pad_left, g->in_w);
            if (ih < 0 || iw < 0)
              continue;
            float xv = x[((size_t)ih * g->in_w + iw) * g->in_c + c];
            v = !max ? v + xv : n == 0 || xv > v ? xv : v;
            n++;
          }
        y[((size_t)oh * g->out_w + ow) * g->out_c + c] = max || !n ? v : v / (float)n;
      }
}

static void pool_fixed(ctile_t *t, const int16_t *x, int16_t *y) {
  if (t->kc.cfg.pool_kind == SPD_DS_POOL_MAX)
    spd_fx_maxpool_forward(y, t->argmax, x, &t->gp);
  else
    spd_fx_avgpool_forward(y, x, &t->gp, t->inv_count, &t->saturations);
}

/* Cycles of the forward pass: MACs over the taps inside the input (an
 * upper bound: every tap), the bias and activation, the pooling's taps. */
static uint32_t forward_cycles(const ctile_t *t) {
  uint64_t c = 0;
  const spd_ds_config_t *cfg = &t->kc.cfg;
  if (t->conv)
    c += (uint64_t)t->n_conv * t->gc.k_h * t->gc.k_w * t->gc.in_c *
             (t->fixed ? SPD_KC_MAC_FIXED : SPD_KC_MAC_FLOAT) +
         (uint64_t)t->n_conv * (spd_kc_act_cycles(t->fixed, cfg->act_kind) +
                                (t->fixed ? SPD_KC_ADD_FIXED : SPD_KC_ADD_FLOAT));
  if (cfg->pool_kind != SPD_DS_POOL_NONE)
    c += (uint64_t)t->n_out * t->gp.k_h * t->gp.k_w *
         (t->fixed || cfg->pool_kind == SPD_DS_POOL_MAX ? SPD_KC_POOL_OP : SPD_KC_ADD_FLOAT);
  return c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
}

static void forward(ctile_t *t, uint32_t slot) {
  spd_kc_t *kc = &t->kc;
  const spd_ds_config_t *c = &kc->cfg;
  bool pool = c->pool_kind != SPD_DS_POOL_NONE;
  spd_core_charge(kc->core, t->n_in * SPD_KC_PER_VALUE + forward_cycles(t));
  if (t->fixed) {
    const int16_t *x = t->x16 + slot * t->n_in;
    if (t->conv) {
      memset(t->acc, 0, t->n_conv * sizeof *t->acc);
      spd_fx_conv_forward_block(t->acc, x, t->w16, &t->gc, &t->blk);
      spd_fx_conv_reduce(t->z, t->acc, t->bias32, (int)(t->n_conv / t->b), (int)t->b,
                         c->acc_frac, c->bias_frac, &t->saturations);
      for (uint32_t i = 0; i < t->n_conv; i++)
        t->y16[i] = spd_fx_act_forward(&t->act, t->z[i], &t->saturations);
      x = t->y16;
    }
    const int16_t *y = x;
    if (pool) {
      pool_fixed(t, x, t->p16);
      y = t->p16;
    }
    for (uint32_t i = 0; i < t->n_out; i++)
      t->own[i] = (uint32_t)(int32_t)y[i];
  } else {
    const float *x = t->xf + slot * t->n_in;
    if (t->conv) {
      conv_float(t, x);
      x = t->yf;
    }
    const float *y = x;
    if (pool) {
      pool_float(t, x, t->pf);
      y = t->pf;
    }
    for (uint32_t i = 0; i < t->n_out; i++)
      t->own[i] = spd_kc_f2u(y[i]);
  }
  uint32_t *stage = t->stage + slot * t->stage_n;
  for (uint32_t p = 0; p < kc->h.n_out; p++) {
    const spd_ds_out_t *o = &kc->out[p];
    if (o->kind != SPD_DS_KIND_Y)
      continue;
    spd_kc_gather(kc, p, t->own, stage);
    if (spd_kc_send(kc, p, slot, stage, o->n)) {
      spd_kc_fail(kc, SPD_EQUEUE);
      return;
    }
    stage += o->n;
  }
  spd_kc_sample_done(kc);
}

static void slot_done(spd_kc_t *kc, uint32_t slot, uint32_t phase) {
  if (phase == SPD_KC_FORWARD)
    forward(kc->role, slot);
}

/* The kernel slice (k_h x k_w x in_c x b), its bias, the average
 * pooling's 1/count table, in that order in the data region. */
static int load_data(ctile_t *t) {
  spd_kc_t *kc = &t->kc;
  const spd_ds_config_t *c = &kc->cfg;
  uint32_t off = 0, vb = t->fixed ? 2u : 4u;
  int err = 0;
  if (t->conv) {
    uint32_t n = (uint32_t)(t->gc.k_h * t->gc.k_w * t->gc.in_c) * t->b;
    void *w = spd_kc_alloc(kc, n * vb);
    if (!w)
      return SPD_ENOMEM;
    if (t->fixed)
      t->w16 = w;
    else
      t->wf = w;
    if ((err = spd_kc_read_data(kc, 0, w, n * vb)))
      return err;
    off = (n * vb + 3u) & ~3u;
    if (c->flags & SPD_DS_BIAS) {
      void *bias = spd_kc_alloc(kc, t->b * 4u);
      if (!bias)
        return SPD_ENOMEM;
      if (t->fixed)
        t->bias32 = bias;
      else
        t->biasf = bias;
      if ((err = spd_kc_read_data(kc, off, bias, t->b * 4u)))
        return err;
      off += t->b * 4u;
    }
  }
  if (c->pool_kind == SPD_DS_POOL_AVG && t->fixed) {
    uint32_t bytes = (uint32_t)(t->gp.k_h * t->gp.k_w + 1) * (uint32_t)sizeof *t->inv_count;
    if (!(t->inv_count = spd_kc_alloc(kc, bytes)))
      return SPD_ENOMEM;
    err = spd_kc_read_data(kc, off, t->inv_count, bytes);
  }
  return err;
}

/* Geometry: the convolution restricted to the tile's channels, the
 * pooling shifted to the tile's rows (see the top of the file). */
static void geometry(ctile_t *t) {
  const spd_ds_config_t *c = &t->kc.cfg;
  t->b = c->cols;
  if (t->conv) {
    t->gc = window_of(&c->conv);
    t->gc.out_c = (int)t->b;
    t->blk = (spd_fx_conv_block_t){(int)c->conv_lo, (int)(c->conv_lo + c->conv_n), 0, (int)t->b,
                                   0, t->gc.in_c, (int)c->in_lo};
    t->n_in = c->in_n * (uint32_t)t->gc.in_w * (uint32_t)t->gc.in_c;
    t->n_conv = c->conv_n * (uint32_t)t->gc.out_w * t->b;
    t->n_out = t->n_conv;
  }
  if (c->pool_kind == SPD_DS_POOL_NONE)
    return;
  spd_fx_window_t g = window_of(&c->pool);
  uint32_t rows = t->conv ? c->conv_n : c->in_n, row0 = t->conv ? c->conv_lo : c->in_lo;
  g.in_h = (int)rows;
  g.in_c = g.out_c = (int)t->b;
  g.out_h = (int)c->out_n;
  g.pad_top = g.pad_top + (int)row0 - (int)c->out_lo * g.stride_h;
  t->gp = g;
  if (!t->conv)
    t->n_in = rows * (uint32_t)g.in_w * t->b;
  t->n_out = c->out_n * (uint32_t)g.out_w * t->b;
}

static int ctile_main(spd_core_t *core, uint32_t params, uint32_t role) {
  ctile_t *t = spd_core_dtcm_alloc(core, sizeof *t);
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
  if (c->flags & SPD_DS_TRAIN)
    return SPD_EUNSUPPORTED; /* the backward pass is not built yet */
  t->fixed = kc->h.numeric == SPD_DS_FIXED;
  t->conv = role == SPD_DS_ROLE_CONV;
  if ((!t->conv && c->pool_kind == SPD_DS_POOL_NONE) || c->cols == 0)
    return SPD_EINVAL;
  t->act = (spd_fx_act_params_t){(spd_fx_act_t)c->act_kind, c->act_out_frac, c->act_alpha};
  geometry(t);
  uint32_t s = kc->h.slots, vb = t->fixed ? 2u : 4u;
  bool pool = c->pool_kind != SPD_DS_POOL_NONE;
  for (uint32_t p = 0; p < kc->h.n_out; p++)
    t->stage_n += kc->out[p].kind == SPD_DS_KIND_Y ? kc->out[p].n : 0u;
  void *x = spd_kc_alloc(kc, s * t->n_in * vb);
  t->own = spd_kc_alloc(kc, t->n_out * 4u);
  t->stage = spd_kc_alloc(kc, s * t->stage_n * 4u);
  if (!x || !t->own || !t->stage)
    return SPD_ENOMEM;
  if (t->fixed) {
    t->x16 = x;
    if (t->conv && (!(t->acc = spd_kc_alloc(kc, t->n_conv * 8u)) ||
                    !(t->z = spd_kc_alloc(kc, t->n_conv * 4u)) ||
                    !(t->y16 = spd_kc_alloc(kc, t->n_conv * 2u))))
      return SPD_ENOMEM;
    if (pool && !(t->p16 = spd_kc_alloc(kc, t->n_out * 2u)))
      return SPD_ENOMEM;
    if (c->pool_kind == SPD_DS_POOL_MAX && !(t->argmax = spd_kc_alloc(kc, t->n_out * 4u)))
      return SPD_ENOMEM;
  } else {
    t->xf = x;
    if (t->conv && !(t->yf = spd_kc_alloc(kc, t->n_conv * 4u)))
      return SPD_ENOMEM;
    if (pool && !(t->pf = spd_kc_alloc(kc, t->n_out * 4u)))
      return SPD_ENOMEM;
  }
  if ((err = load_data(t)))
    return err;
  return spd_kc_start(kc);
}

static int conv_entry(spd_core_t *core, uint32_t params) {
  return ctile_main(core, params, SPD_DS_ROLE_CONV);
}

static int pool_entry(spd_core_t *core, uint32_t params) {
  return ctile_main(core, params, SPD_DS_ROLE_POOL);
}

const spd_kernel_t spd_kernel_conv_tile = {"spindle_conv", conv_entry};
const spd_kernel_t spd_kernel_pool_tile = {"spindle_pool", pool_entry};
