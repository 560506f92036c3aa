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
 * Training (docs/conv-on-machine.md, "Backward pass"): the dX sums of the
 * values it sent, rounded once into their dY; the pooling's backward; dZ,
 * the exact dW and bias gradient of its kernel slice and the dX sums of
 * its input rows (halo included) to their producers, or a credit to the
 * sources; at a batch's end the weight-sharing reduction: tiles (i > 0, j)
 * send their dW to tile (0, j) (dwsum), which updates and sends the new
 * weights back (wupd); forwards of the next batch wait for them.
 *
 * When a Dropout reads what a tile sends (training), the sent values go
 * out through its mask and their received dY comes back through it before
 * the pooling's or the activation's backward (kernels/dropout.h); the
 * element of own value i is its index in the sent (H, W, C) tensor.
 *
 * Pooling on a tile's rows: the tile holds input rows [in_lo, in_lo + n)
 * and computes output rows [out_lo, ...); output row o' = o - out_lo reads
 * local row o s + t - pad - in_lo = o' s + t - (pad + in_lo - out_lo s), so
 * the same window with pad_top' = pad + in_lo - out_lo s and in_h' = n
 * gives the same taps, and the same padding (the halo reaches the input's
 * edge wherever a window is cut by it). */
#include <string.h>

#include "base/fx_conv.h"
#include "base/tile_mem.h"
#include "kernels/dropout.h"
#include "kernels/kernel_common.h"
#include "kernels/kernels.h"
#include "kernels/train_block.h"
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
  spd_kc_drop_t drop;
  /* training (fixed point) */
  bool train, owner;
  uint32_t n_w;              /* kernel slice weights (K = n_w + b with bias) */
  uint64_t *dyacc;           /* slots x n_out: dY sums from the layer above */
  int16_t *dy, *dz;          /* n_out / n_conv scratch */
  int64_t *back;             /* n_conv (fused) or n_in: pooling dX */
  int64_t *dx;               /* n_in */
  uint32_t *dxown;           /* n_in x 2 words */
  uint32_t *dxstage, dxstage_n; /* dX_stages x every dX partition's words */
  uint32_t dx_stages, dx_parts; /* SPD_CONV_DX_STAGES or fewer; dX partitions */
  uint32_t dx_jobs[SPD_CONV_DX_STAGES]; /* sends still queued from each staging */
  uint8_t *bwd_ready;        /* per slot: its dY is in, its backward waits */
  uint32_t *bstage;          /* dW sums (2 words each) or updated weights */
  uint64_t *dwin;            /* owner: the other tiles' dW sums */
  spd_kc_params_t kernel, bias;
  uint32_t next_fwd, next_bwd, batches_done;
  bool own_done, others_done; /* owner: its batch, the others' dW */
  uint32_t end_seq;
  uint8_t *pending;
  uint32_t zero;
  /* float training: the same in float32 (the kept y in yf per slot) */
  float *dyaccf, *dyf, *dzf, *backf, *dxf, *dwinf;
  spd_kc_fparams_t fkernel, fbias;
} ctile_t;

static void store(spd_kc_t *kc, uint32_t in, uint32_t slot, uint32_t v, uint32_t word,
                  uint32_t payload) {
  ctile_t *t = kc->role;
  uint32_t kind = kc->in[in].kind;
  uint64_t part = word ? (uint64_t)payload << 32 : (uint64_t)payload;
  bool bias = t->bias32 || t->biasf;
  if (kind == SPD_DS_KIND_DXPSUM) {
    if (v < t->n_out && SPD_KC_FIXED(t->fixed))
      t->dyacc[slot * t->n_out + v] += part;
    else if (v < t->n_out)
      t->dyaccf[slot * t->n_out + v] += spd_kc_u2f(payload);
    return;
  }
  if (kind == SPD_DS_KIND_DWSUM) {
    if (v < t->n_w + (bias ? t->b : 0u) && SPD_KC_FIXED(t->fixed))
      t->dwin[v] += part;
    else if (v < t->n_w + (bias ? t->b : 0u))
      t->dwinf[v] += spd_kc_u2f(payload);
    return;
  }
  if (kind == SPD_DS_KIND_WUPD) {
    if (v < t->n_w && SPD_KC_FIXED(t->fixed))
      t->w16[v] = (int16_t)(int32_t)payload;
    else if (v < t->n_w)
      t->wf[v] = spd_kc_u2f(payload);
    else if (bias && v - t->n_w < t->b && SPD_KC_FIXED(t->fixed))
      t->bias32[v - t->n_w] = (int32_t)payload;
    else if (bias && v - t->n_w < t->b)
      t->biasf[v - t->n_w] = spd_kc_u2f(payload);
    return;
  }
  if (v >= t->n_in)
    return;
  if (SPD_KC_FIXED(t->fixed))
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
static void conv_float(ctile_t *t, const float *x, float *y) {
  const spd_fx_window_t *g = &t->gc;
  const spd_fx_conv_block_t *b = &t->blk;
  memset(y, 0, t->n_conv * sizeof *y);
  for (int oh = b->oh0; oh < b->oh1; oh++)
    for (int ow = 0; ow < g->out_w; ow++) {
      float *o = y + ((size_t)(oh - b->oh0) * g->out_w + ow) * t->b;
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
    y[i] = spd_kc_act_float(c->act_kind, alpha, y[i] + (t->biasf ? t->biasf[i % t->b] : 0.0f));
}

/* Float backward of the convolution over the tile's rows: the batch
 * gradient of the kernel slice and bias (dL/dz already over the batch)
 * and, unless @p dx is NULL, the input gradient of its rows. */
static void conv_float_back(ctile_t *t, const float *x, const float *dz, float *dx) {
  const spd_fx_window_t *g = &t->gc;
  const spd_fx_conv_block_t *b = &t->blk;
  if (dx)
    memset(dx, 0, t->n_in * sizeof *dx);
  for (int oh = b->oh0; oh < b->oh1; oh++)
    for (int ow = 0; ow < g->out_w; ow++) {
      const float *d = dz + ((size_t)(oh - b->oh0) * g->out_w + ow) * t->b;
      for (uint32_t oc = 0; t->fbias.grad && oc < t->b; oc++)
        t->fbias.grad[oc] += d[oc];
      for (int kh = 0; kh < g->k_h; kh++)
        for (int kw = 0; kw < g->k_w; kw++) {
          int ih = tap(oh, kh, g->stride_h, g->dil_h, g->pad_top, g->in_h);
          int iw = tap(ow, kw, g->stride_w, g->dil_w, g->pad_left, g->in_w);
          if (ih < 0 || iw < 0)
            continue;
          size_t at = ((size_t)(ih - b->in_row0) * g->in_w + iw) * g->in_c;
          size_t wk = ((size_t)kh * g->k_w + kw) * g->in_c * t->b;
          for (int ic = 0; ic < g->in_c; ic++) {
            float *gr = t->fkernel.grad + wk + (size_t)ic * t->b;
            const float *wr = t->wf + wk + (size_t)ic * t->b;
            float sum = 0.0f;
            for (uint32_t oc = 0; oc < t->b; oc++) {
              gr[oc] += x[at + ic] * d[oc];
              sum += wr[oc] * d[oc];
            }
            if (dx)
              dx[at + ic] += sum;
          }
        }
    }
}

/* Float pooling of @p x (local rows) into @p y. */
static void pool_float(ctile_t *t, const float *x, float *y, int32_t *argmax) {
  const spd_fx_window_t *g = &t->gp;
  bool max = t->kc.cfg.pool_kind == SPD_DS_POOL_MAX;
  for (int oh = 0; oh < g->out_h; oh++)
    for (int ow = 0; ow < g->out_w; ow++)
      for (int c = 0; c < g->in_c; c++) {
        float v = 0.0f;
        int n = 0, best = -1;
        for (int kh = 0; kh < g->k_h; kh++)
          for (int kw = 0; kw < g->k_w; kw++) {
            int ih = tap(oh, kh, g->stride_h, 1, g->pad_top, g->in_h);
            int iw = tap(ow, kw, g->stride_w, 1, g->pad_left, g->in_w);
            if (ih < 0 || iw < 0)
              continue;
            int at = (ih * g->in_w + iw) * g->in_c + c;
            if (max && (n == 0 || x[at] > v))
              best = at;
            v = !max ? v + x[at] : best == at ? x[at] : v;
            n++;
          }
        size_t o = ((size_t)oh * g->out_w + ow) * g->out_c + c;
        y[o] = max || !n ? v : v / (float)n;
        if (argmax)
          argmax[o] = best;
      }
}

/* Float pooling backward into @p back (the local input rows). */
static void pool_float_back(ctile_t *t, const float *dy, const int32_t *argmax, float *back,
                            uint32_t n_back) {
  const spd_fx_window_t *g = &t->gp;
  memset(back, 0, n_back * sizeof *back);
  if (t->kc.cfg.pool_kind == SPD_DS_POOL_MAX) {
    for (uint32_t o = 0; o < t->n_out; o++)
      if (argmax[o] >= 0)
        back[argmax[o]] += dy[o];
    return;
  }
  for (int oh = 0; oh < g->out_h; oh++)
    for (int ow = 0; ow < g->out_w; ow++) {
      int n = 0;
      for (int kh = 0; kh < g->k_h; kh++)
        for (int kw = 0; kw < g->k_w; kw++)
          n += tap(oh, kh, g->stride_h, 1, g->pad_top, g->in_h) >= 0 &&
               tap(ow, kw, g->stride_w, 1, g->pad_left, g->in_w) >= 0;
      for (int c = 0; n && c < g->in_c; c++) {
        float share = dy[((size_t)oh * g->out_w + ow) * g->out_c + c] / (float)n;
        for (int kh = 0; kh < g->k_h; kh++)
          for (int kw = 0; kw < g->k_w; kw++) {
            int ih = tap(oh, kh, g->stride_h, 1, g->pad_top, g->in_h);
            int iw = tap(ow, kw, g->stride_w, 1, g->pad_left, g->in_w);
            if (ih >= 0 && iw >= 0)
              back[((size_t)ih * g->in_w + iw) * g->in_c + c] += share;
          }
      }
    }
}

static void pool_fixed(ctile_t *t, const int16_t *x, int16_t *y, int32_t *argmax) {
  if (t->kc.cfg.pool_kind == SPD_DS_POOL_MAX)
    spd_fx_maxpool_forward(y, argmax, x, &t->gp);
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
             (SPD_KC_FIXED(t->fixed) ? SPD_COST_CONV_MAC_FIXED : SPD_COST_CONV_MAC_FLOAT) +
         (uint64_t)t->n_conv * (spd_kc_act_cycles(SPD_KC_FIXED(t->fixed), cfg->act_kind) +
                                (SPD_KC_FIXED(t->fixed) ? SPD_COST_ADD_FIXED : SPD_COST_ADD_FLOAT));
  if (cfg->pool_kind != SPD_DS_POOL_NONE)
    c += (uint64_t)t->n_out * t->gp.k_h * t->gp.k_w *
         (SPD_KC_FIXED(t->fixed) || cfg->pool_kind == SPD_DS_POOL_MAX ? SPD_COST_POOL_OP : SPD_COST_ADD_FLOAT);
  return c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
}

/* Whether a Dropout reading the tile's values keeps own value @p i of
 * sample @p seq: its element is its index in the sent (H, W, C) tensor
 * (rows from out_lo, channels from ch_lo). */
static bool keep(ctile_t *t, uint32_t seq, uint32_t i) {
  if (!t->drop.on)
    return true;
  const spd_ds_config_t *c = &t->kc.cfg;
  const spd_ds_window_t *w = c->pool_kind != SPD_DS_POOL_NONE ? &c->pool : &c->conv;
  uint32_t width = (uint32_t)w->out_w, per_row = c->out_col_n * t->b;
  uint32_t r = i / per_row, rem = i - r * per_row, col = rem / t->b;
  uint32_t e = ((c->out_lo + r) * width + c->out_col_lo + col) * (uint32_t)w->out_c + c->ch_lo +
               rem - col * t->b;
  spd_core_charge(t->kc.core, SPD_COST_FM_DECODE);
  return spd_kc_drop_keep(&t->drop, t->kc.core, seq, e);
}

/* An Add tile (docs/dag-on-machine.md): input k's block of x shifted to
 * the finest frac and summed exactly, rounded once into the Add's format,
 * then the folded activation re-reads it (z exact at frac 16) and rounds
 * once more into its own, as the reference's two layers do; @p y keeps
 * the result. */
static void add_fixed(ctile_t *t, const int16_t *x, int16_t *y) {
  const spd_ds_config_t *c = &t->kc.cfg;
  for (uint32_t i = 0; i < t->n_out; i++) {
    int64_t acc = 0;
    for (uint32_t k = 0; k < c->add_inputs; k++)
      acc += (int64_t)x[k * t->n_out + i] * ((int64_t)1 << c->add_up[k]);
    int16_t sum = spd_fx_to16(acc, c->acc_frac, c->add_frac, &t->saturations);
    y[i] = spd_fx_act_forward(&t->act, spd_fx_to32(sum, c->add_frac, SPD_FX_Z_FRAC,
                                                   &t->saturations),
                              &t->saturations);
  }
}

static void add_float(ctile_t *t, const float *x, float *y) {
  const spd_ds_config_t *c = &t->kc.cfg;
  float alpha = spd_kc_u2f((uint32_t)c->act_alpha);
  for (uint32_t i = 0; i < t->n_out; i++) {
    float sum = x[i];
    for (uint32_t k = 1; k < c->add_inputs; k++)
      sum += x[k * t->n_out + i];
    y[i] = spd_kc_act_float(c->act_kind, alpha, sum);
  }
}

static void forward(ctile_t *t, uint32_t slot) {
  spd_kc_t *kc = &t->kc;
  const spd_ds_config_t *c = &kc->cfg;
  bool pool = c->pool_kind != SPD_DS_POOL_NONE;
  uint32_t seq = t->next_fwd++;
  spd_core_charge(kc->core, t->n_in * SPD_COST_PER_VALUE + forward_cycles(t));
  if (SPD_KC_FIXED(t->fixed)) {
    const int16_t *x = t->x16 + slot * t->n_in;
    if (t->conv) {
      memset(t->acc, 0, t->n_conv * sizeof *t->acc);
      spd_fx_conv_forward_block(t->acc, x, t->w16, &t->gc, &t->blk);
      spd_fx_conv_reduce(t->z, t->acc, t->bias32, (int)(t->n_conv / t->b), (int)t->b,
                         c->acc_frac, c->bias_frac, &t->saturations);
      int16_t *yc = t->y16 + (t->train ? slot * t->n_conv : 0u);
      for (uint32_t i = 0; i < t->n_conv; i++)
        yc[i] = spd_fx_act_forward(&t->act, t->z[i], &t->saturations);
      x = yc;
    }
    const int16_t *y = x;
    if (c->pool_kind == SPD_DS_POOL_ADD) {
      int16_t *ya = t->y16 + (t->train ? slot * t->n_out : 0u);
      add_fixed(t, x, ya);
      y = ya;
    } else if (pool) {
      pool_fixed(t, x, t->p16, t->argmax ? t->argmax + (t->train ? slot * t->n_out : 0u) : NULL);
      y = t->p16;
    }
    for (uint32_t i = 0; i < t->n_out; i++)
      t->own[i] = (uint32_t)(int32_t)spd_kc_drop_fixed(&t->drop, keep(t, seq, i), y[i],
                                                       &t->saturations);
  } else {
    const float *x = t->xf + slot * t->n_in;
    if (t->conv) {
      float *yc = t->yf + (t->train ? slot * t->n_conv : 0u);
      conv_float(t, x, yc);
      x = yc;
    }
    const float *y = x;
    if (c->pool_kind == SPD_DS_POOL_ADD) {
      float *ya = t->yf + (t->train ? slot * t->n_out : 0u);
      add_float(t, x, ya);
      y = ya;
    } else if (pool) {
      pool_float(t, x, t->pf, t->argmax ? t->argmax + (t->train ? slot * t->n_out : 0u) : NULL);
      y = t->pf;
    }
    for (uint32_t i = 0; i < t->n_out; i++)
      t->own[i] = spd_kc_f2u(spd_kc_drop_float(&t->drop, keep(t, seq, i), y[i]));
  }
  uint32_t *stage = t->stage + slot * t->stage_n;
  if (spd_kc_send_gathered(kc, SPD_DS_KIND_Y, slot, t->own, stage) == UINT32_MAX) {
    spd_kc_fail(kc, SPD_EQUEUE);
    return;
  }
  if (!t->train)
    spd_kc_sample_done(kc);
}

/* Forwards that waited for the batch's update, in sample order. */
/* After the owner's update: the results (master weights @p w and bias
 * @p bias, 4 bytes each), the new weights to the block's other tiles
 * (t->bstage[0 .. K) as words), then the forwards that waited. */
static void owner_publish(ctile_t *t, const void *w, const void *bias, uint32_t K) {
  spd_kc_t *kc = &t->kc;
  uint32_t seq = t->end_seq;
  t->own_done = t->others_done = false;
  t->batches_done++;
  uint32_t n = t->n_w * 4u, bytes = n + (bias ? t->b * 4u : 0u);
  uint32_t at = spd_kc_result_at(kc, seq, bytes);
  if (at && (spd_core_sdram_write(kc->core, at, w, n) ||
             (bias && spd_core_sdram_write(kc->core, at + n, bias, t->b * 4u)) ||
             (t->fixed ? spd_kc_state_save(kc, seq, &t->kernel, bias ? &t->bias : NULL)
                       : spd_kc_fstate_save(kc, seq, &t->fkernel, bias ? &t->fbias : NULL)) ||
             spd_kc_result_seal(kc, seq, at, bytes))) {
    spd_kc_fail(kc, SPD_EINVAL);
    return;
  }
  if (SPD_KC_FIXED(t->fixed) ? spd_kc_snapshot(kc, seq, &t->kernel, bias ? &t->bias : NULL)
               : spd_kc_fsnapshot(kc, seq, &t->fkernel, bias ? &t->fbias : NULL)) {
    spd_kc_fail(kc, SPD_EINVAL);
    return;
  }
  if (spd_kc_send_gathered(kc, SPD_DS_KIND_WUPD, 0, t->bstage, t->bstage + K) == UINT32_MAX) {
    spd_kc_fail(kc, SPD_EQUEUE);
    return;
  }
  spd_kc_release(&t->kc, t->pending, &t->next_fwd, t->batches_done);
  spd_kc_sample_done(kc);
}

/* The owner's update: its own dW plus the other tiles' (exact int64 sums
 * in any order; float sums in float), the optimizer step, then
 * owner_publish. */
static void owner_update(ctile_t *t) {
  spd_kc_t *kc = &t->kc;
  uint32_t step = spd_kc_batch_of(kc, t->end_seq);
  uint32_t K = t->n_w + (t->bias32 || t->biasf ? t->b : 0u);
  if (!SPD_KC_FIXED(t->fixed)) {
    for (uint32_t e = 0; t->dwinf && e < K; e++) {
      *(e < t->n_w ? &t->fkernel.grad[e] : &t->fbias.grad[e - t->n_w]) += t->dwinf[e];
      t->dwinf[e] = 0.0f;
    }
    spd_core_charge(kc->core, K * SPD_COST_ADD_FLOAT);
    if (spd_kc_fparams_update(kc, &t->fkernel, step) ||
        (t->biasf && spd_kc_fparams_update(kc, &t->fbias, step))) {
      spd_kc_fail(kc, SPD_EINVAL);
      return;
    }
    for (uint32_t e = 0; e < K; e++)
      t->bstage[e] = spd_kc_f2u(e < t->n_w ? t->wf[e] : t->biasf[e - t->n_w]);
    owner_publish(t, t->wf, t->biasf, K);
    return;
  }
  for (uint32_t e = 0; t->dwin && e < K; e++) {
    *(e < t->n_w ? &t->kernel.grad[e] : &t->bias.grad[e - t->n_w]) += (int64_t)t->dwin[e];
    t->dwin[e] = 0;
  }
  spd_core_charge(kc->core, K * SPD_COST_ADD_FIXED);
  if (spd_kc_params_update(kc, &t->kernel, step, &t->saturations) ||
      (t->bias32 && spd_kc_params_update(kc, &t->bias, step, &t->saturations))) {
    spd_kc_fail(kc, SPD_EINVAL);
    return;
  }
  for (uint32_t e = 0; e < K; e++)
    t->bstage[e] = e < t->n_w ? (uint32_t)(int32_t)t->w16[e] : (uint32_t)t->bias32[e - t->n_w];
  owner_publish(t, t->kernel.master, t->bias32, K);
}

/* A batch's last backward: the owner updates once the others' dW is in;
 * another tile sends its dW to the owner and waits for the new weights. */
static void batch_end(ctile_t *t, uint32_t seq) {
  spd_kc_t *kc = &t->kc;
  t->end_seq = seq;
  bool others = false;
  for (uint32_t i = 0; i < kc->h.n_in; i++)
    others |= kc->in[i].kind == SPD_DS_KIND_DWSUM;
  if (t->owner) {
    t->own_done = true;
    if (!others || t->others_done)
      owner_update(t);
    return;
  }
  uint32_t K = t->n_w + (t->bias32 || t->biasf ? t->b : 0u);
  uint32_t *w = t->bstage;
  if (!SPD_KC_FIXED(t->fixed)) {
    for (uint32_t e = 0; e < K; e++) {
      float *g = e < t->n_w ? &t->fkernel.grad[e] : &t->fbias.grad[e - t->n_w];
      w[e] = spd_kc_f2u(*g);
      *g = 0.0f;
    }
    if (spd_kc_send_gathered(kc, SPD_DS_KIND_DWSUM, 0, w, w + K) == UINT32_MAX)
      spd_kc_fail(kc, SPD_EQUEUE);
    return;
  }
  for (uint32_t e = 0; e < K; e++) {
    uint64_t g = (uint64_t)(e < t->n_w ? t->kernel.grad[e] : t->bias.grad[e - t->n_w]);
    w[2 * e] = (uint32_t)g;
    w[2 * e + 1] = (uint32_t)(g >> 32);
  }
  memset(t->kernel.grad, 0, t->n_w * sizeof *t->kernel.grad);
  if (t->bias32)
    memset(t->bias.grad, 0, t->b * sizeof *t->bias.grad);
  if (spd_kc_send_gathered(&t->kc, SPD_DS_KIND_DWSUM, 0, w, w + 2u * K) == UINT32_MAX)
    spd_kc_fail(kc, SPD_EQUEUE);
}

/* The backward pass of one sample (docs/conv-on-machine.md, "Backward
 * pass"), rounding where the reference rounds: dY of the sent tensor from
 * the exact sums, the pooling's dX at its frac (+16 for averages) rounded
 * once into the convolution's dY, dZ = dY f'(y), dW and the bias gradient
 * exactly, dX partial sums of the input rows (or a credit to the sources). */
static void backward_done(ctile_t *t, uint32_t slot, uint32_t seq, bool below);

static bool sends_dx(const ctile_t *t) {
  for (uint32_t p = 0; p < t->kc.h.n_out; p++)
    if (t->kc.out[p].kind == SPD_DS_KIND_DXPSUM)
      return true;
  return false;
}

/* Float: the same steps in float32 (sums in arrival order, within the
 * float reference's 1e-4, not bit-identical). */
static void backward_float(ctile_t *t, uint32_t slot, uint32_t seq) {
  spd_kc_t *kc = &t->kc;
  const spd_ds_config_t *c = &kc->cfg;
  float *acc = t->dyaccf + slot * t->n_out;
  for (uint32_t i = 0; i < t->n_out; i++)
    t->dyf[i] = spd_kc_drop_float(&t->drop, keep(t, seq, i), acc[i]);
  memset(acc, 0, t->n_out * sizeof *acc);
  const float *dy = t->dyf;
  float *dx = t->dxf;
  bool below = sends_dx(t);
  if (c->pool_kind == SPD_DS_POOL_ADD) { /* the same dZ to every input */
    float alpha = spd_kc_u2f((uint32_t)c->act_alpha);
    const float *y = t->yf + slot * t->n_out;
    for (uint32_t i = 0; i < t->n_out; i++) {
      float dz = spd_kc_act_grad_float(c->act_kind, alpha, y[i], dy[i]);
      for (uint32_t k = 0; k < c->add_inputs; k++)
        dx[k * t->n_out + i] = dz;
    }
    spd_core_charge(kc->core, t->n_out * (c->add_inputs + 1u) * SPD_COST_ADD_FLOAT);
  } else if (c->pool_kind != SPD_DS_POOL_NONE) {
    const int32_t *am = t->argmax ? t->argmax + slot * t->n_out : NULL;
    pool_float_back(t, t->dyf, am, t->conv ? t->backf : t->dxf, t->conv ? t->n_conv : t->n_in);
    spd_core_charge(kc->core, t->n_out * t->gp.k_h * t->gp.k_w * SPD_COST_ADD_FLOAT);
    dy = t->backf;
  }
  if (t->conv) {
    float alpha = spd_kc_u2f((uint32_t)c->act_alpha);
    const float *y = t->yf + slot * t->n_conv;
    for (uint32_t i = 0; i < t->n_conv; i++)
      t->dzf[i] = spd_kc_act_grad_float(c->act_kind, alpha, y[i], dy[i]);
    conv_float_back(t, t->xf + slot * t->n_in, t->dzf, below ? dx : NULL);
    uint64_t macs = (uint64_t)t->n_conv * t->gc.k_h * t->gc.k_w * t->gc.in_c;
    spd_core_charge(kc->core, (uint32_t)(macs * SPD_COST_CONV_MAC_FLOAT * (below ? 2u : 1u)));
  }
  for (uint32_t i = 0; below && i < t->n_in; i++)
    t->dxown[i] = spd_kc_f2u(dx[i]);
  backward_done(t, slot, seq, below);
}

static void backward(ctile_t *t, uint32_t slot) {
  spd_kc_t *kc = &t->kc;
  const spd_ds_config_t *c = &kc->cfg;
  uint32_t seq = t->next_bwd++;
  if (!SPD_KC_FIXED(t->fixed)) {
    backward_float(t, slot, seq);
    return;
  }
  bool add = c->pool_kind == SPD_DS_POOL_ADD;
  bool pool = c->pool_kind != SPD_DS_POOL_NONE && !add;
  int32_t sent_frac = pool ? c->pool_grad_frac : c->grad_frac;
  int64_t *acc = (int64_t *)(t->dyacc + slot * t->n_out);
  for (uint32_t i = 0; i < t->n_out; i++) {
    t->dy[i] = spd_fx_to16(acc[i], c->dy_from_frac, sent_frac, &t->saturations);
    t->dy[i] = spd_kc_drop_fixed(&t->drop, keep(t, seq, i), t->dy[i], &t->saturations);
  }
  memset(acc, 0, t->n_out * sizeof *acc);
  const int16_t *dy = t->dy;
  int64_t *dx = t->dx; /* a pool tile's dX is its pooling's */
  int32_t dx_frac = c->weight_frac + c->grad_frac;
  if (add) {
    /* dZ through the folded activation, rounded once into the Add's dZ
     * format (the reference's second layer), the same to every input,
     * shifted to each producer's dY frac (exact) */
    const int16_t *y = t->y16 + slot * t->n_out;
    for (uint32_t i = 0; i < t->n_out; i++) {
      int16_t dz = spd_fx_act_backward(&t->act, y[i], t->dy[i], &t->saturations);
      int64_t dza = spd_fx_to16(dz, c->grad_frac, c->add_grad_frac, &t->saturations);
      for (uint32_t k = 0; k < c->add_inputs; k++)
        dx[k * t->n_out + i] = dza * ((int64_t)1 << c->dx_shift[k]);
    }
    spd_core_charge(kc->core, t->n_out * (c->add_inputs + 1u) * SPD_COST_ADD_FIXED +
                                  t->n_out * spd_kc_act_cycles(true, c->act_kind));
  } else if (pool) {
    int64_t *back = t->conv ? t->back : t->dx;
    uint32_t n = t->conv ? t->n_conv : t->n_in;
    memset(back, 0, n * sizeof *back);
    int32_t frac = c->pool_grad_frac;
    if (c->pool_kind == SPD_DS_POOL_MAX) {
      spd_fx_maxpool_backward(back, t->dy, t->argmax + slot * t->n_out, (int)t->n_out);
    } else {
      spd_fx_avgpool_backward(back, t->dy, &t->gp, t->inv_count);
      frac += 16;
    }
    spd_core_charge(kc->core, t->n_out * t->gp.k_h * t->gp.k_w * SPD_COST_POOL_OP);
    dx_frac = frac;
    if (t->conv) {
      for (uint32_t i = 0; i < t->n_conv; i++)
        t->dz[i] = spd_fx_to16(back[i], frac, c->grad_frac, &t->saturations);
      dy = t->dz;
    }
  }
  bool below = sends_dx(t);
  if (t->conv) {
    const int16_t *y = t->y16 + slot * t->n_conv, *x = t->x16 + slot * t->n_in;
    for (uint32_t i = 0; i < t->n_conv; i++)
      t->dz[i] = spd_fx_act_backward(&t->act, y[i], dy[i], &t->saturations);
    spd_fx_conv_grad_block(t->kernel.grad, x, t->dz, &t->gc, &t->blk);
    if (t->bias32)
      spd_fx_conv_bias_grad(t->bias.grad, t->dz, &t->gc, &t->blk);
    uint64_t macs = (uint64_t)t->n_conv * t->gc.k_h * t->gc.k_w * t->gc.in_c;
    spd_core_charge(kc->core, (uint32_t)(macs * SPD_COST_CONV_MAC_FIXED * (below ? 2u : 1u)) +
                                  t->n_conv * spd_kc_act_cycles(true, c->act_kind));
    if (below) {
      memset(dx, 0, t->n_in * sizeof *dx);
      spd_fx_conv_backward_input_block(dx, t->dz, t->w16, &t->gc, &t->blk);
    }
  }
  (void)dx_frac; /* the receiver knows it (its dy_from_frac) */
  /* a producer several layers read sums their dX at the largest of their
   * fracs: this layer's sums go up to it, exactly (an Add's are already) */
  int64_t up = add ? 1 : (int64_t)1 << c->dx_shift[0];
  for (uint32_t i = 0; below && i < t->n_in; i++) {
    uint64_t d = (uint64_t)(dx[i] * up);
    t->dxown[2 * i] = (uint32_t)d;
    t->dxown[2 * i + 1] = (uint32_t)(d >> 32);
  }
  backward_done(t, slot, seq, below);
}

/* After a sample's backward (t->dxown holds its dX sums): the dX
 * partitions or a credit, and at a batch's end the update. */
static void backward_done(ctile_t *t, uint32_t slot, uint32_t seq, bool below) {
  spd_kc_t *kc = &t->kc;
  int err = 0;
  if (below) {
    uint32_t i = seq % t->dx_stages;
    t->dx_jobs[i] = t->dx_parts;
    err = spd_kc_send_gathered(kc, SPD_DS_KIND_DXPSUM, slot, t->dxown,
                               t->dxstage + i * t->dxstage_n) == UINT32_MAX;
  }
  else
    err = spd_kc_send_kind(kc, SPD_DS_KIND_CREDIT, slot, &t->zero);
  if (err) {
    spd_kc_fail(kc, SPD_EQUEUE);
    return;
  }
  if (spd_kc_batch_end(kc, seq) && t->conv) {
    batch_end(t, seq); /* the sample is done once the block is updated */
    return;
  }
  if (spd_kc_batch_end(kc, seq)) { /* a pooling tile has nothing to update */
    t->batches_done++;
    spd_kc_release(&t->kc, t->pending, &t->next_fwd, t->batches_done);
  }
  spd_kc_sample_done(kc);
}

/* The backwards whose dY is in, in sample order, while the staging of
 * the next one's dX partitions is free (SPD_CONV_DX_STAGES). */
static void backward_ready(ctile_t *t) {
  uint32_t slot = t->next_bwd & (t->kc.h.slots - 1);
  while (t->bwd_ready[slot] && !t->dx_jobs[t->next_bwd % t->dx_stages]) {
    t->bwd_ready[slot] = 0;
    backward(t, slot);
    slot = t->next_bwd & (t->kc.h.slots - 1);
  }
}

/* A dX partition of a staging has gone: the staging is free once all have. */
static void sent(spd_kc_t *kc, const uint32_t *data) {
  ctile_t *t = kc->role;
  if (!t->dxstage_n || data < t->dxstage || data >= t->dxstage + t->dx_stages * t->dxstage_n)
    return;
  uint32_t i = (uint32_t)(data - t->dxstage) / t->dxstage_n;
  if (t->dx_jobs[i] && !--t->dx_jobs[i])
    backward_ready(t);
}

static void slot_done(spd_kc_t *kc, uint32_t slot, uint32_t phase) {
  ctile_t *t = kc->role;
  if (phase == SPD_KC_BACKWARD) {
    t->bwd_ready[slot] = 1;
    backward_ready(t);
    return;
  }
  if (phase == SPD_KC_BATCH) {
    if (t->owner) { /* every other tile's dW */
      t->others_done = true;
      if (t->own_done)
        owner_update(t);
    } else { /* the new weights */
      t->batches_done++;
      spd_kc_release(&t->kc, t->pending, &t->next_fwd, t->batches_done);
      spd_kc_sample_done(kc);
    }
    return;
  }
  if (phase != SPD_KC_FORWARD)
    return;
  if (t->train && spd_kc_batch_of(kc, t->next_fwd) > t->batches_done) {
    t->pending[slot] = 1;
    return;
  }
  forward(t, slot);
}

/* The kernel slice (k_h x k_w x in_c x b), its bias, the average
 * pooling's 1/count table, in that order in the data region. */
static int load_data(ctile_t *t) {
  spd_kc_t *kc = &t->kc;
  const spd_ds_config_t *c = &kc->cfg;
  uint32_t off = 0, vb = SPD_KC_FIXED(t->fixed) ? 2u : 4u;
  int err = 0;
  if (t->conv) {
    uint32_t n = (uint32_t)(t->gc.k_h * t->gc.k_w * t->gc.in_c) * t->b;
    void *w = spd_kc_alloc(kc, n * vb);
    if (!w)
      return SPD_ENOMEM;
    if (SPD_KC_FIXED(t->fixed))
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
      if (SPD_KC_FIXED(t->fixed))
        t->bias32 = bias;
      else
        t->biasf = bias;
      if ((err = spd_kc_read_data(kc, off, bias, t->b * 4u)))
        return err;
      off += t->b * 4u;
    }
  }
  if (c->pool_kind == SPD_DS_POOL_AVG && SPD_KC_FIXED(t->fixed)) {
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
    /* its columns: the window shifted to them, as the pooling's rows */
    t->gc = window_of(&c->conv);
    t->gc.out_c = (int)t->b;
    t->gc.pad_left += (int)c->in_col_lo - (int)c->conv_col_lo * t->gc.stride_w;
    t->gc.in_w = (int)c->in_col_n;
    t->gc.out_w = (int)c->conv_col_n;
    t->blk = (spd_fx_conv_block_t){(int)c->conv_lo, (int)(c->conv_lo + c->conv_n), 0, (int)t->b,
                                   0, t->gc.in_c, (int)c->in_lo};
    t->n_in = c->in_n * (uint32_t)t->gc.in_w * (uint32_t)t->gc.in_c;
    t->n_conv = c->conv_n * (uint32_t)t->gc.out_w * t->b;
    t->n_w = (uint32_t)(t->gc.k_h * t->gc.k_w * t->gc.in_c) * t->b;
    t->n_out = t->n_conv;
  }
  if (c->pool_kind == SPD_DS_POOL_NONE)
    return;
  spd_fx_window_t g = window_of(&c->pool);
  uint32_t rows = t->conv ? c->conv_n : c->in_n, row0 = t->conv ? c->conv_lo : c->in_lo;
  uint32_t cols = t->conv ? c->conv_col_n : c->in_col_n;
  uint32_t col0 = t->conv ? c->conv_col_lo : c->in_col_lo;
  g.in_h = (int)rows;
  g.in_c = g.out_c = (int)t->b;
  g.out_h = (int)c->out_n;
  g.pad_top = g.pad_top + (int)row0 - (int)c->out_lo * g.stride_h;
  g.in_w = (int)cols;
  g.out_w = (int)c->out_col_n;
  g.pad_left = g.pad_left + (int)col0 - (int)c->out_col_lo * g.stride_w;
  t->gp = g;
  if (!t->conv)
    t->n_in = rows * (uint32_t)g.in_w * t->b *
              (c->pool_kind == SPD_DS_POOL_ADD ? c->add_inputs : 1u); /* every input's block */
  t->n_out = c->out_n * (uint32_t)g.out_w * t->b;
}

/* Whether other tiles send it their dW (the owner of a channel block cut
 * into several row blocks). */
static bool receives_dw(const ctile_t *t) {
  for (uint32_t i = 0; i < t->kc.h.n_in; i++)
    if (t->kc.in[i].kind == SPD_DS_KIND_DWSUM)
      return true;
  return false;
}

/* Float training state: the float weights are their own masters. */
static int train_init_float(ctile_t *t) {
  spd_kc_t *kc = &t->kc;
  uint32_t s = kc->h.slots;
  t->dyaccf = spd_kc_alloc(kc, s * t->n_out * 4u);
  t->dyf = spd_kc_alloc(kc, t->n_out * 4u);
  t->dxf = spd_kc_alloc(kc, t->n_in * 4u);
  if (!t->dyaccf || !t->dyf || !t->dxf)
    return SPD_ENOMEM;
  if (!t->conv)
    return 0;
  uint32_t K = t->n_w + (t->biasf ? t->b : 0u);
  t->dzf = spd_kc_alloc(kc, t->n_conv * 4u);
  t->backf = spd_kc_alloc(kc, t->n_conv * 4u);
  t->bstage = spd_kc_alloc(kc, 2u * K * 4u);
  if (!t->dzf || !t->backf || !t->bstage)
    return SPD_ENOMEM;
  if (t->owner) {
    if (receives_dw(t) && !(t->dwinf = spd_kc_alloc(kc, K * 4u)))
      return SPD_ENOMEM;
    int err = spd_kc_fparams_init(kc, &t->fkernel, t->n_w, t->wf, 0);
    if (!err && t->biasf)
      err = spd_kc_fparams_init(kc, &t->fbias, t->b, t->biasf, 1);
    return err;
  }
  t->fkernel = (spd_kc_fparams_t){.n = t->n_w, .w = t->wf, .grad = spd_kc_alloc(kc, K * 4u)};
  if (t->biasf)
    t->fbias = (spd_kc_fparams_t){.n = t->b, .w = t->biasf, .grad = t->fkernel.grad + t->n_w};
  return t->fkernel.grad ? 0 : SPD_ENOMEM;
}

/* Training state: dY sums, scratch, dX, the exact dW and bias gradient;
 * the owner also the master slice (after the data region's 1/count
 * table), the optimizer slabs and the others' dW sums. */
static int train_init(ctile_t *t) {
  spd_kc_t *kc = &t->kc;
  const spd_ds_config_t *c = &kc->cfg;
  uint32_t s = kc->h.slots;
  for (uint32_t p = 0; p < kc->h.n_out; p++)
    if (kc->out[p].kind == SPD_DS_KIND_DXPSUM && kc->out[p].n && kc->out[p].words) {
      t->dxstage_n += kc->out[p].n * kc->out[p].words;
      t->dx_parts++;
    }
  t->dx_stages = s < SPD_CONV_DX_STAGES ? s : SPD_CONV_DX_STAGES;
  t->dxown = spd_kc_alloc(kc, t->n_in * 8u);
  t->dxstage = spd_kc_alloc(kc, t->dx_stages * t->dxstage_n * 4u);
  t->pending = spd_kc_alloc(kc, s);
  t->bwd_ready = spd_kc_alloc(kc, s);
  if (!t->dxown || !t->dxstage || !t->pending || !t->bwd_ready)
    return SPD_ENOMEM;
  kc->sent = sent;
  /* Fewer stagings than slots: one is reused for a later sample as soon as
   * it has gone, so what it sent cannot be sent again (kernels/resend.c). */
  if (t->dx_stages < s) {
    kc->reused_lo = t->dxstage;
    kc->reused_hi = t->dxstage + t->dx_stages * t->dxstage_n;
  }
  if (!SPD_KC_FIXED(t->fixed))
    return train_init_float(t);
  t->dyacc = spd_kc_alloc(kc, s * t->n_out * 8u);
  t->dy = spd_kc_alloc(kc, t->n_out * 2u);
  t->dx = spd_kc_alloc(kc, t->n_in * 8u);
  if (!t->dyacc || !t->dy || !t->dx)
    return SPD_ENOMEM;
  if (!t->conv)
    return 0;
  t->dz = spd_kc_alloc(kc, t->n_conv * 2u);
  t->back = spd_kc_alloc(kc, t->n_conv * 8u);
  uint32_t K = t->n_w + (t->bias32 ? t->b : 0u);
  t->bstage = spd_kc_alloc(kc, 4u * K * 4u);
  if (!t->dz || !t->back || !t->bstage)
    return SPD_ENOMEM;
  if (!t->owner) {
    t->kernel.grad = spd_kc_alloc(kc, t->n_w * 8u);
    t->bias.grad = t->bias32 ? spd_kc_alloc(kc, t->b * 8u) : NULL;
    return t->kernel.grad && (t->bias.grad || !t->bias32) ? 0 : SPD_ENOMEM;
  }
  if (receives_dw(t) && !(t->dwin = spd_kc_alloc(kc, K * 8u)))
    return SPD_ENOMEM;
  int32_t *master = spd_kc_alloc(kc, t->n_w * 4u);
  if (!master)
    return SPD_ENOMEM;
  uint32_t off = ((t->n_w * 2u + 3u) & ~3u) + (t->bias32 ? t->b * 4u : 0u) +
                 (t->inv_count ? (uint32_t)(t->gp.k_h * t->gp.k_w + 1) * 8u : 0u);
  int err = spd_kc_read_data(kc, off, master, t->n_w * 4u);
  if (!err)
    err = spd_kc_params_init(kc, &t->kernel, t->n_w / t->b, t->b, master, t->w16, 0);
  if (!err && t->bias32)
    err = spd_kc_params_init(kc, &t->bias, 1, t->b, t->bias32, NULL, 1);
  (void)c;
  return err;
}

static int ctile_main(spd_core_t *core, uint32_t params, uint32_t role) {
  ctile_t *t = spd_core_dtcm_alloc(core, sizeof *t);
  if (!t)
    return SPD_ENOMEM;
  spd_kc_t *kc = &t->kc;
  uint32_t free_init = spd_core_dtcm_free(core);
  int err = spd_kc_init(kc, core, params, role);
  if (err)
    return err;
  kc->role = t;
  kc->store = store;
  kc->slot_done = slot_done;
  const spd_ds_config_t *c = &kc->cfg;
  t->fixed = kc->h.numeric == SPD_DS_FIXED;
  t->train = c->flags & SPD_DS_TRAIN;
  t->owner = c->flags & SPD_DS_OWNER;
  t->conv = role == SPD_DS_ROLE_CONV;
  if ((!t->conv && c->pool_kind == SPD_DS_POOL_NONE) || c->cols == 0 ||
      (c->pool_kind == SPD_DS_POOL_ADD && (t->conv || c->add_inputs < 1 || c->add_inputs > 8)))
    return SPD_EINVAL;
  t->act = (spd_fx_act_params_t){(spd_fx_act_t)c->act_kind, c->act_out_frac, c->act_alpha};
  spd_kc_drop_init(&t->drop, kc);
  geometry(t);
  uint32_t s = kc->h.slots, vb = SPD_KC_FIXED(t->fixed) ? 2u : 4u, free0 = spd_core_dtcm_free(core);
  bool pool = c->pool_kind != SPD_DS_POOL_NONE;
  for (uint32_t p = 0; p < kc->h.n_out; p++)
    t->stage_n += kc->out[p].kind == SPD_DS_KIND_Y ? kc->out[p].n : 0u;
  void *x = spd_kc_alloc(kc, s * t->n_in * vb);
  t->own = spd_kc_alloc(kc, t->n_out * 4u);
  t->stage = spd_kc_alloc(kc, s * t->stage_n * 4u);
  if (!x || !t->own || !t->stage)
    return SPD_ENOMEM;
  if (SPD_KC_FIXED(t->fixed)) {
    t->x16 = x;
    uint32_t ks = t->train ? s : 1u; /* y and argmax kept per slot for the backward pass */
    if (t->conv && (!(t->acc = spd_kc_alloc(kc, t->n_conv * 8u)) ||
                    !(t->z = spd_kc_alloc(kc, t->n_conv * 4u)) ||
                    !(t->y16 = spd_kc_alloc(kc, ks * t->n_conv * 2u))))
      return SPD_ENOMEM;
    if (pool && !(t->p16 = spd_kc_alloc(kc, t->n_out * 2u)))
      return SPD_ENOMEM;
    if (c->pool_kind == SPD_DS_POOL_MAX && !(t->argmax = spd_kc_alloc(kc, ks * t->n_out * 4u)))
      return SPD_ENOMEM;
    if (c->pool_kind == SPD_DS_POOL_ADD && !(t->y16 = spd_kc_alloc(kc, ks * t->n_out * 2u)))
      return SPD_ENOMEM;
  } else {
    t->xf = x;
    uint32_t ks = t->train ? s : 1u;
    if (t->conv && !(t->yf = spd_kc_alloc(kc, ks * t->n_conv * 4u)))
      return SPD_ENOMEM;
    if (pool && !(t->pf = spd_kc_alloc(kc, t->n_out * 4u)))
      return SPD_ENOMEM;
    if (t->train && c->pool_kind == SPD_DS_POOL_MAX &&
        !(t->argmax = spd_kc_alloc(kc, s * t->n_out * 4u)))
      return SPD_ENOMEM;
    if (c->pool_kind == SPD_DS_POOL_ADD && !(t->yf = spd_kc_alloc(kc, ks * t->n_out * 4u)))
      return SPD_ENOMEM;
  }
  if ((err = load_data(t)))
    return err;
  if (t->train && (err = train_init(t)))
    return err;
  /* The partitioner planned this core with the same size function
   * (base/tile_mem.h) from its own view of the tile, and wrote down what it
   * planned with the tables: a difference is a bug in one of them. */
  spd_conv_mem_t m = {.fixed = SPD_KC_FIXED(t->fixed), .train = t->train, .conv = t->conv,
                      .pool = c->pool_kind,
                      .pool_taps = pool ? (uint32_t)(t->gp.k_h * t->gp.k_w) : 0u,
                      .bias = c->flags & SPD_DS_BIAS, .owner = t->owner,
                      .others = receives_dw(t), .slots = s, .b = t->b, .n_in = t->n_in,
                      .n_conv = t->n_conv, .n_out = t->n_out, .n_w = t->n_w,
                      .stage = t->stage_n, .dxstage = t->dxstage_n, .state = c->state};
  if (free0 - spd_core_dtcm_free(core) != spd_conv_mem_dtcm(&m) ||
      (c->dtcm_plan && free_init - spd_core_dtcm_free(core) != c->dtcm_plan))
    return SPD_EINVAL;
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
