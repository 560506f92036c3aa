/* The convolution partitioner (docs/conv-on-machine.md): every vertex fits
 * DTCM, the tiles cover every output exactly once, each tile receives
 * exactly the input rows (halo included) and channels it reads, and the
 * graph run as a program — values only along partitions, each tile
 * computing its block with base/fx_conv.h — gives exactly the unsplit
 * fixed-point forward, dX and dW (after the reduction of the weight-sharing
 * gradient over each channel block's tiles) for strided same-padding,
 * dilated and 1-D convolutions, max and average pooling with same padding
 * (fused into the convolution and on their own) and LeNet-5 over many
 * chips. */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fx_conv.h"
#include "spindle/keras.h"
#include "spindle/machine.h"
#include "spindle/model.h"
#include "spindle/partition.h"

/* ------------------------------------------------------------- helpers */

static uint32_t lcg(uint32_t *s) {
  *s = *s * 1664525u + 1013904223u;
  return *s >> 8;
}

static int16_t small(uint32_t *s) { return (int16_t)((int32_t)(lcg(s) % 4001u) - 2000); }

static int16_t clamp16(int64_t r) { return (int16_t)(r > 32767 ? 32767 : r < -32768 ? -32768 : r); }

/* The next tensor from a full sum: the same rounding on both paths. */
static int16_t narrow(int64_t v) { return clamp16(v >> 14); }

/* dX of a pooling into the convolution's dY: max passes values, average
 * sums at frac + 16. */
static int16_t narrow_pool(int64_t v, bool max) { return max ? clamp16(v) : clamp16(v >> 16); }

static bool is_max(spd_layer_kind_t k) { return k == SPD_LAYER_MAXPOOL1D || k == SPD_LAYER_MAXPOOL2D; }

static spd_fx_window_t window(const spd_conv_tiling_t *t) {
  return (spd_fx_window_t){(int)t->in_h,     (int)t->in_w,     (int)t->in_c,  (int)t->out_h,
                           (int)t->out_w,    (int)t->out_c,    (int)t->k_h,   (int)t->k_w,
                           (int)t->stride_h, (int)t->stride_w, (int)t->dil_h, (int)t->dil_w,
                           (int)t->pad_top,  (int)t->pad_left};
}

static const spd_fx_const_t *inv_counts(void) {
  static spd_fx_const_t inv[65];
  for (int c = 1; c <= 64; c++)
    inv[c - 1] = spd_fx_const_from_double(1.0 / c);
  return inv;
}

/* A pooling restricted to output rows @p out reading input rows @p in held
 * in a buffer of @p nch channels: the same windows, padding where the
 * global input ends (the tile's rows cover every row its windows read). */
static spd_fx_window_t local_pool(const spd_conv_tiling_t *t, spd_range_t out, spd_range_t in,
                                  int nch) {
  spd_fx_window_t g = window(t);
  g.in_h = (int)in.n;
  g.out_h = (int)out.n;
  g.in_c = g.out_c = nch;
  g.pad_top = (int)in.lo + (int)t->pad_top - (int)out.lo * (int)t->stride_h;
  return g;
}

static const char *layer_name(const spd_model_t *m, int layer) { return m->layers[layer].config.name; }

/* -------------------------------------------------------------- models */

typedef struct spec {
  spd_layer_kind_t kind;
  int32_t n, k, s, d;
  spd_padding_t pad;
} spec_t;

static spd_model_t *window_model(spd_ctx_t *ctx, spd_shape_t in, const spec_t *sp, int n) {
  spd_model_t *m = NULL;
  assert_int_equal(spd_model_new(ctx, "windows", &m), 0);
  spd_layer_config_t c;
  spd_layer_config_defaults(&c, SPD_LAYER_INPUT, "input");
  c.input_shape = in;
  int prev = 0;
  assert_int_equal(spd_model_add(m, &c, NULL, 0, NULL), 0);
  for (int i = 0; i <= n + 1; i++) {
    char name[16];
    spd_layer_kind_t k = i < n ? sp[i].kind : i == n ? SPD_LAYER_FLATTEN : SPD_LAYER_DENSE;
    snprintf(name, sizeof name, "l%d", i);
    spd_layer_config_defaults(&c, k, name);
    if (i < n) {
      c.filters = sp[i].n;
      c.kernel_size[0] = c.kernel_size[1] = c.pool_size[0] = c.pool_size[1] = sp[i].k;
      c.strides[0] = c.strides[1] = sp[i].s;
      c.dilation_rate[0] = c.dilation_rate[1] = sp[i].d;
      c.padding = sp[i].pad;
    }
    if (k == SPD_LAYER_DENSE) {
      c.units = 10;
      c.activation = SPD_ACT_SOFTMAX;
    }
    assert_int_equal(spd_model_add(m, &c, &prev, 1, &prev), 0);
  }
  if (spd_model_build(m, 1))
    fail_msg("%s", spd_ctx_message(ctx));
  return m;
}

static spd_machine_graph_t *partition(spd_ctx_t *ctx, const spd_model_t *m, const char *machine,
                                      spd_machine_t **mc, bool training) {
  assert_int_equal(spd_machine_new(ctx, machine, mc), 0);
  spd_partition_opts_t o;
  spd_partition_opts_default(&o);
  o.training = training;
  spd_machine_graph_t *g = NULL;
  if (spd_partition_model(ctx, m, *mc, &o, &g))
    fail_msg("%s", spd_ctx_message(ctx));
  return g;
}

/* ------------------------------------------------ the structural checks */

static void check_fits(const spd_machine_graph_t *g) {
  for (uint32_t v = 0; v < g->n_vertices; v++)
    assert_true(g->vertices[v].dtcm_bytes <= spd_partition_dtcm_budget());
}

/* The tiling that computes layer t (itself, or the convolution holding it). */
static const spd_conv_tiling_t *host_of(const spd_machine_graph_t *g, const spd_conv_tiling_t *t) {
  return t->n_vertices ? t : spd_machine_graph_conv_tiling(g, t->fused_into);
}

/* Each tile's rows x channels, and the convolution rows behind a fused
 * pooling, cover the layer's output exactly once; in_rows are exactly the
 * rows the tile's windows read (brute force over every tap). */
static void check_cover(const spd_machine_graph_t *g) {
  for (int i = 0; i < g->n_conv; i++) {
    const spd_conv_tiling_t *t = &g->conv[i], *h = host_of(g, t);
    assert_non_null(h);
    uint8_t *seen = calloc((size_t)t->out_h * t->out_c, 1);
    for (uint32_t v = h->first_vertex; v < h->first_vertex + h->n_vertices; v++) {
      const spd_vertex_t *x = &g->vertices[v];
      spd_range_t rows = t == h ? x->conv_rows : x->rows;
      if (t == h && x->fused_pool == 0)
        assert_true(x->rows.lo == x->conv_rows.lo && x->rows.n == x->conv_rows.n);
      for (uint32_t r = rows.lo; r < rows.lo + rows.n; r++)
        for (uint32_t c = x->cols.lo; c < x->cols.lo + x->cols.n; c++)
          seen[(size_t)r * t->out_c + c]++;
      if (t != h)
        continue;
      int lo = (int)t->in_h, hi = -1;
      for (uint32_t r = x->conv_rows.lo; r < x->conv_rows.lo + x->conv_rows.n; r++)
        for (uint32_t k = 0; k < t->k_h; k++) {
          int ir = (int)(r * t->stride_h + k * t->dil_h) - (int)t->pad_top;
          if (ir >= 0 && ir < (int)t->in_h) {
            lo = ir < lo ? ir : lo;
            hi = ir > hi ? ir : hi;
          }
        }
      assert_int_equal(x->in_rows.lo, hi < 0 ? 0 : lo);
      assert_int_equal(x->in_rows.n, hi < 0 ? 0 : hi - lo + 1);
    }
    for (size_t k = 0; k < (size_t)t->out_h * t->out_c; k++)
      assert_int_equal(seen[k], 1);
    free(seen);
  }
}

/* Position q of a feature-map partition as (row, column, channel). */
static void fm_at(const spd_partition_t *p, uint32_t q, uint32_t *r, uint32_t *w, uint32_t *c) {
  uint32_t pos = p->values.lo + q;
  *r = p->fm_rows.lo + pos / (p->fm_width * p->fm_chans.n);
  *w = pos / p->fm_chans.n % p->fm_width;
  *c = p->fm_chans.lo + pos % p->fm_chans.n;
}

/* Every window tile receives each value it reads exactly once (its input
 * rows with halo, every input channel for a convolution, its own for a
 * pooling) and nothing else; every first-Dense tile receives exactly its
 * rows of the flattened tensor. */
static void check_inputs(const spd_machine_graph_t *g) {
  for (uint32_t v = 0; v < g->n_vertices; v++) {
    const spd_vertex_t *x = &g->vertices[v];
    bool window = x->role == SPD_ROLE_CONV || x->role == SPD_ROLE_POOL;
    const spd_layer_tiling_t *d0 = &g->dense[0];
    bool dense0 = !window && x->layer == d0->layer && x->role != SPD_ROLE_REDUCER &&
                  x->role != SPD_ROLE_LOSS && x->role != SPD_ROLE_SINK;
    if (!window && !dense0)
      continue;
    const spd_conv_tiling_t *t = window ? spd_machine_graph_conv_tiling(g, x->layer) : NULL;
    const spd_conv_tiling_t *last = &g->conv[g->n_conv - 1];
    size_t n = window ? (size_t)t->in_h * t->in_w * t->in_c : d0->in;
    uint8_t *got = calloc(n, 1);
    for (uint32_t i = 0; i < g->n_partitions; i++) {
      const spd_partition_t *p = &g->partitions[i];
      if (strcmp(p->name, "x") && strcmp(p->name, "y"))
        continue;
      bool to_us = false;
      for (uint32_t k = 0; k < p->n_targets; k++)
        to_us |= p->targets[k] == v;
      if (!to_us)
        continue;
      assert_true(p->fm_width > 0);
      for (uint32_t q = 0; q < p->values.n; q++) {
        uint32_t r, w, c;
        fm_at(p, q, &r, &w, &c);
        got[((size_t)r * p->fm_width + w) * p->fm_channels + c]++;
      }
    }
    for (size_t k = 0; k < n; k++) {
      bool need;
      if (window) {
        uint32_t r = (uint32_t)(k / ((size_t)t->in_w * t->in_c)), c = (uint32_t)(k % t->in_c);
        need = r >= x->in_rows.lo && r < x->in_rows.lo + x->in_rows.n &&
               (x->role == SPD_ROLE_CONV || (c >= x->cols.lo && c < x->cols.lo + x->cols.n));
      } else {
        need = k >= x->rows.lo && k < x->rows.lo + x->rows.n;
        assert_int_equal(n, (size_t)last->out_h * last->out_w * last->out_c);
      }
      assert_int_equal(got[k], need ? 1 : 0);
    }
    free(got);
  }
}

/* ------------------------------------------------------- the dataflow */

typedef struct tstate {
  int16_t *in;     /* input rows in_rows x W x in_c */
  int16_t *out;    /* its output block: rows x W_out x out_c (its channels filled) */
  int16_t *conv_y; /* fused: the convolution rows before pooling */
  int32_t *argmax;
  int64_t *dy;     /* dY sums of its output block */
  int64_t *dx;     /* dX partial sums of its input rows */
  int64_t *gw;     /* dW (full kernel + bias) */
} tstate_t;

typedef struct lref {
  int16_t *w;      /* kernel (kh, kw, in_c, out_c) */
  int16_t *x, *y;  /* input and output of the layer (after a fused pooling: the pooled) */
  int16_t *conv_y; /* fused: the convolution's output */
  int64_t *gw;     /* reference dW + bias gradient */
  int64_t *dx;     /* reference dX of its input (int64) */
} lref_t;

static size_t t_in(const spd_conv_tiling_t *t) { return (size_t)t->in_h * t->in_w * t->in_c; }
static size_t t_out(const spd_conv_tiling_t *t) { return (size_t)t->out_h * t->out_w * t->out_c; }
static bool is_pool_kind(spd_layer_kind_t k) { return k != SPD_LAYER_CONV1D && k != SPD_LAYER_CONV2D; }

/* The reference: every layer unsplit. */
static void ref_forward(const spd_machine_graph_t *g, lref_t *L, uint32_t *seed) {
  for (int i = 0; i < g->n_conv; i++) {
    const spd_conv_tiling_t *t = &g->conv[i];
    spd_fx_window_t w = window(t);
    L[i].y = calloc(t_out(t), sizeof(int16_t));
    if (is_pool_kind(t->kind)) {
      if (is_max(t->kind)) {
        int32_t *am = calloc(t_out(t), sizeof *am);
        spd_fx_maxpool_forward(L[i].y, am, L[i].x, &w);
        free(am);
      } else {
        uint32_t sat = 0;
        spd_fx_avgpool_forward(L[i].y, L[i].x, &w, inv_counts(), &sat);
      }
    } else {
      size_t nw = (size_t)t->k_h * t->k_w * t->in_c * t->out_c;
      L[i].w = malloc(sizeof(int16_t) * nw);
      for (size_t k = 0; k < nw; k++)
        L[i].w[k] = small(seed);
      int64_t *acc = calloc(t_out(t), sizeof *acc);
      spd_fx_conv_block_t whole = spd_fx_conv_whole(&w);
      spd_fx_conv_forward_block(acc, L[i].x, L[i].w, &w, &whole);
      for (size_t k = 0; k < t_out(t); k++)
        L[i].y[k] = narrow(acc[k]);
      free(acc);
    }
    if (i + 1 < g->n_conv)
      L[i + 1].x = L[i].y;
  }
}

/* Backward of the reference from dY of the last layer: dX (int64) per layer,
 * the next dY narrowed; dW and bias gradient of each convolution. */
static void ref_backward(const spd_machine_graph_t *g, lref_t *L, int16_t *dy_last) {
  int16_t *dy = dy_last;
  for (int i = g->n_conv - 1; i >= 0; i--) {
    const spd_conv_tiling_t *t = &g->conv[i];
    spd_fx_window_t w = window(t);
    L[i].dx = calloc(t_in(t), sizeof(int64_t));
    if (is_pool_kind(t->kind)) {
      if (is_max(t->kind)) {
        int32_t *am = calloc(t_out(t), sizeof *am);
        int16_t *y = calloc(t_out(t), sizeof *y);
        spd_fx_maxpool_forward(y, am, L[i].x, &w);
        spd_fx_maxpool_backward(L[i].dx, dy, am, (int)t_out(t));
        free(am);
        free(y);
      } else {
        spd_fx_avgpool_backward(L[i].dx, dy, &w, inv_counts());
      }
    } else {
      size_t nw = (size_t)t->k_h * t->k_w * t->in_c * t->out_c;
      L[i].gw = calloc(nw + t->out_c, sizeof(int64_t));
      spd_fx_conv_block_t whole = spd_fx_conv_whole(&w);
      spd_fx_conv_grad_block(L[i].gw, L[i].x, dy, &w, &whole);
      spd_fx_conv_bias_grad(L[i].gw + nw, dy, &w, &whole);
      spd_fx_conv_backward_input_block(L[i].dx, dy, L[i].w, &w, &whole);
    }
    int16_t *next = calloc(t_in(t), sizeof *next);
    for (size_t k = 0; k < t_in(t); k++)
      next[k] = is_pool_kind(t->kind) ? narrow_pool(L[i].dx[k], is_max(t->kind)) : narrow(L[i].dx[k]);
    if (dy != dy_last)
      free(dy);
    dy = next;
  }
  free(dy);
}

static bool is_window(const spd_vertex_t *x) {
  return x->role == SPD_ROLE_CONV || x->role == SPD_ROLE_POOL;
}

/* Index of the tiling of model layer @p layer. */
static int conv_index(const spd_machine_graph_t *g, int layer) {
  for (int i = 0; i < g->n_conv; i++)
    if (g->conv[i].layer == layer)
      return i;
  return -1;
}

/* Deliver x/y partitions into the tiles of tiling @p ci, from the sources
 * (the model input) or the producing tiles' output blocks; the senders must
 * own what they send. */
static void deliver(const spd_machine_graph_t *g, tstate_t *ts, int ci, const int16_t *input) {
  const spd_conv_tiling_t *t = &g->conv[ci];
  for (uint32_t i = 0; i < g->n_partitions; i++) {
    const spd_partition_t *p = &g->partitions[i];
    if (strcmp(p->name, "x") && strcmp(p->name, "y"))
      continue;
    const spd_vertex_t *to = &g->vertices[p->targets[0]];
    if (!is_window(to) || to->layer != t->layer)
      continue;
    const spd_vertex_t *src = &g->vertices[p->source];
    for (uint32_t q = 0; q < p->values.n; q++) {
      uint32_t r, w, c;
      fm_at(p, q, &r, &w, &c);
      int16_t val;
      if (src->role == SPD_ROLE_SOURCE) {
        assert_true(r >= src->in_rows.lo && r < src->in_rows.lo + src->in_rows.n);
        val = input[((size_t)r * t->in_w + w) * t->in_c + c];
      } else {
        assert_true(r >= src->rows.lo && r < src->rows.lo + src->rows.n);
        assert_true(c >= src->cols.lo && c < src->cols.lo + src->cols.n);
        val = ts[p->source].out[((size_t)(r - src->rows.lo) * t->in_w + w) * t->in_c + c];
      }
      for (uint32_t k = 0; k < p->n_targets; k++) {
        const spd_vertex_t *x = &g->vertices[p->targets[k]];
        ts[p->targets[k]].in[((size_t)(r - x->in_rows.lo) * t->in_w + w) * t->in_c + c] = val;
      }
    }
  }
}

/* Copy channels [c0, c0+n) of a (rows x w x C) buffer into a dense one. */
static int16_t *slice(const int16_t *b, size_t pos, uint32_t C, spd_range_t ch) {
  int16_t *s = malloc(sizeof *s * (pos * ch.n + 1));
  for (size_t p = 0; p < pos; p++)
    for (uint32_t c = 0; c < ch.n; c++)
      s[p * ch.n + c] = b[p * C + ch.lo + c];
  return s;
}

/* One tile's forward: convolution (and its fused pooling) or pooling on its
 * rows and channels. */
static void tile_forward(const spd_machine_graph_t *g, tstate_t *s, const spd_vertex_t *x,
                         const lref_t *L) {
  int ci = conv_index(g, x->layer);
  const spd_conv_tiling_t *t = &g->conv[ci];
  spd_fx_window_t w = window(t);
  const spd_conv_tiling_t *pt = x->fused_pool ? spd_machine_graph_conv_tiling(g, x->fused_pool) : NULL;
  const spd_conv_tiling_t *ot = pt ? pt : t;
  s->out = calloc((size_t)x->rows.n * ot->out_w * ot->out_c + 1, sizeof(int16_t));
  if (x->role == SPD_ROLE_POOL) {
    size_t pos_in = (size_t)x->in_rows.n * t->in_w, pos_out = (size_t)x->rows.n * t->out_w;
    int16_t *in = slice(s->in, pos_in, t->in_c, x->cols), *y = calloc(pos_out * x->cols.n + 1, 2);
    spd_fx_window_t lw = local_pool(t, x->rows, x->in_rows, (int)x->cols.n);
    s->argmax = calloc(pos_out * x->cols.n + 1, sizeof(int32_t));
    if (is_max(t->kind)) {
      spd_fx_maxpool_forward(y, s->argmax, in, &lw);
    } else {
      uint32_t sat = 0;
      spd_fx_avgpool_forward(y, in, &lw, inv_counts(), &sat);
    }
    for (size_t p = 0; p < pos_out; p++)
      for (uint32_t c = 0; c < x->cols.n; c++)
        s->out[p * t->out_c + x->cols.lo + c] = y[p * x->cols.n + c];
    free(in);
    free(y);
    return;
  }
  size_t n = (size_t)x->conv_rows.n * t->out_w * t->out_c;
  int64_t *acc = calloc(n + 1, sizeof *acc);
  spd_fx_conv_block_t b = {(int)x->conv_rows.lo, (int)(x->conv_rows.lo + x->conv_rows.n),
                           (int)x->cols.lo, (int)(x->cols.lo + x->cols.n), 0, (int)t->in_c,
                           (int)x->in_rows.lo};
  spd_fx_conv_forward_block(acc, s->in, L[ci].w, &w, &b);
  int16_t *cy = calloc(n + 1, sizeof *cy);
  for (size_t k = 0; k < n; k++)
    cy[k] = narrow(acc[k]);
  free(acc);
  if (!pt) {
    memcpy(s->out, cy, sizeof *cy * n);
    s->conv_y = cy;
    return;
  }
  size_t pos_in = (size_t)x->conv_rows.n * t->out_w, pos_out = (size_t)x->rows.n * pt->out_w;
  int16_t *in = slice(cy, pos_in, t->out_c, x->cols), *y = calloc(pos_out * x->cols.n + 1, 2);
  spd_fx_window_t lw = local_pool(pt, x->rows, x->conv_rows, (int)x->cols.n);
  s->argmax = calloc(pos_out * x->cols.n + 1, sizeof(int32_t));
  if (is_max(pt->kind)) {
    spd_fx_maxpool_forward(y, s->argmax, in, &lw);
  } else {
    uint32_t sat = 0;
    spd_fx_avgpool_forward(y, in, &lw, inv_counts(), &sat);
  }
  for (size_t p = 0; p < pos_out; p++)
    for (uint32_t c = 0; c < x->cols.n; c++)
      s->out[p * pt->out_c + x->cols.lo + c] = y[p * x->cols.n + c];
  s->conv_y = cy;
  free(in);
  free(y);
}

/* The tile's output block equals the reference's rows and channels. */
static void check_out(const spd_machine_graph_t *g, const tstate_t *s, const spd_vertex_t *x,
                      const lref_t *L) {
  const spd_conv_tiling_t *ot = spd_machine_graph_conv_tiling(g, x->fused_pool ? x->fused_pool : x->layer);
  const int16_t *ref = L[conv_index(g, ot->layer)].y;
  for (uint32_t r = 0; r < x->rows.n; r++)
    for (uint32_t w = 0; w < ot->out_w; w++)
      for (uint32_t c = x->cols.lo; c < x->cols.lo + x->cols.n; c++) {
        size_t at = ((size_t)r * ot->out_w + w) * ot->out_c + c;
        assert_int_equal(s->out[at], ref[((size_t)(x->rows.lo + r) * ot->out_w + w) * ot->out_c + c]);
      }
}

/* One tile's backward from its dY sums: pooling (fused or not), then for a
 * convolution dW + bias gradient of its rows and dX of its input rows. */
static void tile_backward(const spd_machine_graph_t *g, tstate_t *s, const spd_vertex_t *x,
                          const lref_t *L) {
  int ci = conv_index(g, x->layer);
  const spd_conv_tiling_t *t = &g->conv[ci];
  const spd_conv_tiling_t *pt = x->fused_pool ? spd_machine_graph_conv_tiling(g, x->fused_pool) : NULL;
  const spd_conv_tiling_t *ot = pt ? pt : t;
  size_t pos_out = (size_t)x->rows.n * ot->out_w;
  int16_t *dy = calloc(pos_out * x->cols.n + 1, sizeof *dy);
  for (size_t p = 0; p < pos_out; p++)
    for (uint32_t c = 0; c < x->cols.n; c++)
      dy[p * x->cols.n + c] = narrow(s->dy[p * ot->out_c + x->cols.lo + c]);
  if (x->role == SPD_ROLE_POOL || pt) {
    const spd_conv_tiling_t *pool = pt ? pt : t;
    spd_range_t in_rows = pt ? x->conv_rows : x->in_rows;
    uint32_t in_w = pt ? t->out_w : t->in_w, in_c = pt ? t->out_c : t->in_c;
    size_t pos_in = (size_t)in_rows.n * in_w;
    int64_t *dx = calloc(pos_in * x->cols.n + 1, sizeof *dx);
    spd_fx_window_t lw = local_pool(pool, x->rows, in_rows, (int)x->cols.n);
    if (is_max(pool->kind))
      spd_fx_maxpool_backward(dx, dy, s->argmax, (int)(pos_out * x->cols.n));
    else
      spd_fx_avgpool_backward(dx, dy, &lw, inv_counts());
    free(dy);
    if (!pt) {
      s->dx = calloc(pos_in * in_c + 1, sizeof(int64_t));
      for (size_t p = 0; p < pos_in; p++)
        for (uint32_t c = 0; c < x->cols.n; c++)
          s->dx[p * in_c + x->cols.lo + c] = dx[p * x->cols.n + c];
      free(dx);
      return;
    }
    /* The fused pooling's dX is the convolution's dY, narrowed as the
     * reference narrows it. */
    dy = calloc(pos_in * x->cols.n + 1, sizeof *dy);
    for (size_t k = 0; k < pos_in * x->cols.n; k++)
      dy[k] = narrow_pool(dx[k], is_max(pool->kind));
    free(dx);
  }
  /* dz in the convolution's full-channel layout for fx_conv. */
  size_t pos = (size_t)x->conv_rows.n * t->out_w;
  int16_t *dz = calloc(pos * t->out_c + 1, sizeof *dz);
  for (size_t p = 0; p < pos; p++)
    for (uint32_t c = 0; c < x->cols.n; c++)
      dz[p * t->out_c + x->cols.lo + c] = dy[p * x->cols.n + c];
  free(dy);
  spd_fx_window_t w = window(t);
  spd_fx_conv_block_t b = {(int)x->conv_rows.lo, (int)(x->conv_rows.lo + x->conv_rows.n),
                           (int)x->cols.lo, (int)(x->cols.lo + x->cols.n), 0, (int)t->in_c,
                           (int)x->in_rows.lo};
  size_t nw = (size_t)t->k_h * t->k_w * t->in_c * t->out_c;
  s->gw = calloc(nw + t->out_c, sizeof(int64_t));
  spd_fx_conv_grad_block(s->gw, s->in, dz, &w, &b);
  spd_fx_conv_bias_grad(s->gw + nw, dz, &w, &b);
  s->dx = calloc((size_t)x->in_rows.n * t->in_w * t->in_c + 1, sizeof(int64_t));
  spd_fx_conv_backward_input_block(s->dx, dz, L[ci].w, &w, &b);
  free(dz);
}

/* Weight index of position q of a channel block's dW packet stream: the
 * kernel slice (kh, kw, ic) x its channels, then its biases. */
static size_t dw_index(const spd_conv_tiling_t *t, spd_range_t ch, uint32_t q) {
  size_t nw = (size_t)t->k_h * t->k_w * t->in_c * t->out_c;
  size_t taps = (size_t)t->k_h * t->k_w * t->in_c;
  if (q < taps * ch.n)
    return (q / ch.n) * t->out_c + ch.lo + q % ch.n;
  return nw + ch.lo + (q - taps * ch.n);
}

/* dW of every convolution: each channel block's owner (row block 0) adds
 * the others' exact partial dW along "dwsum" and must hold the reference
 * dW of its channels; "wupd" returns the same values to every other tile. */
static void check_dw(const spd_machine_graph_t *g, tstate_t *ts, const lref_t *L, int ci) {
  const spd_conv_tiling_t *t = &g->conv[ci];
  uint32_t *dwsum_in = calloc(t->n_vertices, sizeof *dwsum_in), *wupd_to = calloc(t->n_vertices, 4);
  for (uint32_t i = 0; i < g->n_partitions; i++) {
    const spd_partition_t *p = &g->partitions[i];
    bool dwsum = !strcmp(p->name, "dwsum"), wupd = !strcmp(p->name, "wupd");
    if ((!dwsum && !wupd) || p->layer != t->layer)
      continue;
    assert_true(p->per_batch);
    const spd_vertex_t *src = &g->vertices[p->source];
    if (wupd) {
      assert_int_equal(src->grid_row, 0);
      for (uint32_t k = 0; k < p->n_targets; k++) {
        assert_int_equal(g->vertices[p->targets[k]].grid_col, src->grid_col);
        wupd_to[p->targets[k] - t->first_vertex]++;
      }
      continue;
    }
    uint32_t owner = p->targets[0];
    assert_int_equal(g->vertices[owner].grid_row, 0);
    assert_int_equal(g->vertices[owner].grid_col, src->grid_col);
    for (uint32_t q = 0; q < p->values.n; q++) {
      size_t at = dw_index(t, src->cols, q);
      ts[owner].gw[at] += ts[p->source].gw[at];
    }
    dwsum_in[p->source - t->first_vertex]++;
  }
  size_t taps = (size_t)t->k_h * t->k_w * t->in_c;
  for (uint32_t v = t->first_vertex; v < t->first_vertex + t->n_vertices; v++) {
    const spd_vertex_t *x = &g->vertices[v];
    assert_int_equal(dwsum_in[v - t->first_vertex], x->grid_row > 0 ? 1 : 0);
    assert_int_equal(wupd_to[v - t->first_vertex], x->grid_row > 0 ? 1 : 0);
    if (x->grid_row)
      continue;
    for (uint32_t q = 0; q < taps * x->cols.n + x->cols.n; q++) {
      size_t at = dw_index(t, x->cols, q);
      assert_true(ts[v].gw[at] == L[ci].gw[at]);
    }
  }
  free(dwsum_in);
  free(wupd_to);
}

/* dX partial sums of tiling ci's tiles along "dxpsum" into the producers'
 * dY: each producer value must get exactly the reference's int64 dX. */
static void send_dx(const spd_machine_graph_t *g, tstate_t *ts, const lref_t *L, int ci) {
  const spd_conv_tiling_t *t = &g->conv[ci];
  int pi = ci - 1;
  while (!g->conv[pi].n_vertices)
    pi--;
  const spd_conv_tiling_t *pt = &g->conv[pi];
  for (uint32_t v = pt->first_vertex; v < pt->first_vertex + pt->n_vertices; v++) {
    const spd_vertex_t *x = &g->vertices[v];
    ts[v].dy = calloc((size_t)x->rows.n * t->in_w * t->in_c + 1, sizeof(int64_t));
  }
  for (uint32_t i = 0; i < g->n_partitions; i++) {
    const spd_partition_t *p = &g->partitions[i];
    const spd_vertex_t *src = &g->vertices[p->source], *dst = &g->vertices[p->targets[0]];
    if (strcmp(p->name, "dxpsum") || !is_window(src) || src->layer != t->layer)
      continue;
    assert_int_equal(p->n_targets, 1);
    for (uint32_t q = 0; q < p->values.n; q++) {
      uint32_t r, w, c;
      fm_at(p, q, &r, &w, &c);
      assert_true(r >= dst->rows.lo && r < dst->rows.lo + dst->rows.n);
      assert_true(c >= dst->cols.lo && c < dst->cols.lo + dst->cols.n);
      ts[p->targets[0]].dy[((size_t)(r - dst->rows.lo) * t->in_w + w) * t->in_c + c] +=
          ts[p->source].dx[((size_t)(r - src->in_rows.lo) * t->in_w + w) * t->in_c + c];
    }
  }
  for (uint32_t v = pt->first_vertex; v < pt->first_vertex + pt->n_vertices; v++) {
    const spd_vertex_t *x = &g->vertices[v];
    for (uint32_t r = 0; r < x->rows.n; r++)
      for (uint32_t w = 0; w < t->in_w; w++)
        for (uint32_t c = x->cols.lo; c < x->cols.lo + x->cols.n; c++) {
          size_t at = ((size_t)r * t->in_w + w) * t->in_c + c;
          assert_true(ts[v].dy[at] == L[ci].dx[((size_t)(x->rows.lo + r) * t->in_w + w) * t->in_c + c]);
          /* As the reference narrows dY into its own format. */
          ts[v].dy[at] = (int64_t)(is_pool_kind(t->kind) ? narrow_pool(ts[v].dy[at], is_max(t->kind))
                                                         : narrow(ts[v].dy[at])) * 16384;
        }
  }
}

static void run_dataflow(const spd_machine_graph_t *g, uint32_t seed) {
  const spd_conv_tiling_t *first = &g->conv[0], *last = &g->conv[g->n_conv - 1];
  lref_t *L = calloc((size_t)g->n_conv, sizeof *L);
  int16_t *input = malloc(sizeof(int16_t) * t_in(first));
  for (size_t k = 0; k < t_in(first); k++)
    input[k] = small(&seed);
  L[0].x = input;
  ref_forward(g, L, &seed);
  int16_t *dy_last = malloc(sizeof(int16_t) * t_out(last));
  for (size_t k = 0; k < t_out(last); k++)
    dy_last[k] = small(&seed);
  ref_backward(g, L, dy_last);

  tstate_t *ts = calloc(g->n_vertices, sizeof *ts);
  for (int ci = 0; ci < g->n_conv; ci++) {
    const spd_conv_tiling_t *t = &g->conv[ci];
    for (uint32_t v = t->first_vertex; v < t->first_vertex + t->n_vertices; v++) {
      const spd_vertex_t *x = &g->vertices[v];
      ts[v].in = calloc((size_t)x->in_rows.n * t->in_w * t->in_c + 1, sizeof(int16_t));
    }
    if (!t->n_vertices)
      continue;
    deliver(g, ts, ci, input);
    for (uint32_t v = t->first_vertex; v < t->first_vertex + t->n_vertices; v++) {
      tile_forward(g, &ts[v], &g->vertices[v], L);
      check_out(g, &ts[v], &g->vertices[v], L);
    }
  }
  /* The last tiles' dY: what the Dense tail's dX sums give (flatten checked
   * structurally), scaled to the narrow() input format. */
  const spd_conv_tiling_t *lh = host_of(g, last);
  for (uint32_t v = lh->first_vertex; v < lh->first_vertex + lh->n_vertices; v++) {
    const spd_vertex_t *x = &g->vertices[v];
    ts[v].dy = calloc((size_t)x->rows.n * last->out_w * last->out_c + 1, sizeof(int64_t));
    for (uint32_t r = 0; r < x->rows.n; r++)
      for (uint32_t w = 0; w < last->out_w; w++)
        for (uint32_t c = x->cols.lo; c < x->cols.lo + x->cols.n; c++)
          ts[v].dy[((size_t)r * last->out_w + w) * last->out_c + c] =
              (int64_t)dy_last[((size_t)(x->rows.lo + r) * last->out_w + w) * last->out_c + c] * 16384;
  }
  for (int ci = g->n_conv - 1; ci >= 0; ci--) {
    const spd_conv_tiling_t *t = &g->conv[ci];
    if (!t->n_vertices)
      continue;
    for (uint32_t v = t->first_vertex; v < t->first_vertex + t->n_vertices; v++)
      tile_backward(g, &ts[v], &g->vertices[v], L);
    if (!is_pool_kind(t->kind))
      check_dw(g, ts, L, ci);
    if (ci > 0)
      send_dx(g, ts, L, ci);
  }
  for (uint32_t v = 0; v < g->n_vertices; v++) {
    free(ts[v].in);
    free(ts[v].out);
    free(ts[v].conv_y);
    free(ts[v].argmax);
    free(ts[v].dy);
    free(ts[v].dx);
    free(ts[v].gw);
  }
  free(ts);
  for (int i = 0; i < g->n_conv; i++) {
    free(L[i].w);
    free(L[i].y);
    free(L[i].gw);
    free(L[i].dx);
  }
  free(L);
  free(input);
  free(dy_last);
}

/* Split over more than one tile: at least one layer has several row blocks. */
static void check_split(const spd_machine_graph_t *g) {
  uint32_t most = 0;
  for (int i = 0; i < g->n_conv; i++)
    most = g->conv[i].grid_rows > most ? g->conv[i].grid_rows : most;
  assert_true(most > 1);
}

static void run_model(const spd_model_t *m, const char *machine) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *mc = NULL;
  spd_machine_graph_t *g = partition(&ctx, m, machine, &mc, true);
  check_fits(g);
  check_cover(g);
  check_inputs(g);
  check_split(g);
  run_dataflow(g, 99);
  spd_machine_graph_free(g);
  spd_machine_free(mc);
}

static void run_specs(spd_shape_t in, const spec_t *sp, int n) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = window_model(&ctx, in, sp, n);
  run_model(m, "spinn5");
  spd_model_free(m);
}

/* ------------------------------------------------------------------ tests */

static void strided_same_conv_overlapping_maxpool(void **state) {
  (void)state;
  const spec_t sp[] = {{SPD_LAYER_CONV2D, 4, 3, 2, 1, SPD_PAD_SAME},
                       {SPD_LAYER_MAXPOOL2D, 0, 3, 2, 1, SPD_PAD_SAME}};
  run_specs((spd_shape_t){3, {25, 11, 3}}, sp, 2);
}

static void dilated_conv_fused_same_avgpool(void **state) {
  (void)state;
  const spec_t sp[] = {{SPD_LAYER_CONV2D, 5, 3, 1, 2, SPD_PAD_VALID},
                       {SPD_LAYER_AVGPOOL2D, 0, 2, 2, 1, SPD_PAD_SAME},
                       {SPD_LAYER_CONV2D, 3, 2, 1, 1, SPD_PAD_SAME}};
  run_specs((spd_shape_t){3, {21, 12, 2}}, sp, 3);
}

static void same_conv_fused_same_maxpool_odd(void **state) {
  (void)state;
  const spec_t sp[] = {{SPD_LAYER_CONV2D, 6, 3, 1, 1, SPD_PAD_SAME},
                       {SPD_LAYER_MAXPOOL2D, 0, 2, 2, 1, SPD_PAD_SAME},
                       {SPD_LAYER_AVGPOOL2D, 0, 3, 1, 1, SPD_PAD_SAME}};
  run_specs((spd_shape_t){3, {19, 9, 3}}, sp, 3);
}

static void conv1d_with_avgpool1d(void **state) {
  (void)state;
  const spec_t sp[] = {{SPD_LAYER_CONV1D, 6, 5, 1, 2, SPD_PAD_SAME},
                       {SPD_LAYER_AVGPOOL1D, 0, 3, 2, 1, SPD_PAD_SAME},
                       {SPD_LAYER_CONV1D, 4, 3, 2, 1, SPD_PAD_VALID}};
  run_specs((spd_shape_t){2, {60, 3}}, sp, 3);
}

static spd_model_t *lenet(spd_ctx_t *ctx) {
  spd_model_t *m = NULL;
  if (spd_keras_model_load(ctx, spd_test_source_path("examples/lenet5.json"), 0, &m))
    fail_msg("%s", spd_ctx_message(ctx));
  return m;
}

static void lenet5_spinn5_over_many_chips(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = lenet(&ctx);
  spd_machine_t *mc = NULL;
  spd_machine_graph_t *g = partition(&ctx, m, "spinn5", &mc, true);
  uint32_t window_tiles = 0;
  for (int i = 0; i < g->n_conv; i++)
    window_tiles += g->conv[i].n_vertices;
  assert_true(window_tiles > 2 * SPD_CORES_PER_CHIP); /* the feature maps span chips */
  assert_int_equal(g->n_conv, 4);
  assert_int_equal(g->conv[1].fused_into, g->conv[0].layer);
  assert_int_equal(g->conv[3].fused_into, g->conv[2].layer);
  assert_int_equal(g->n_dense, 3);
  spd_machine_graph_free(g);
  spd_machine_free(mc);
  run_model(m, "spinn5");
  run_model(m, "spinn3");
  spd_model_free(m);
}

static void lenet5_fits_every_mode(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = lenet(&ctx);
  static const char *const machines[] = {"spinn5", "spinn3"};
  for (int k = 0; k < 2; k++)
    for (int mode = 0; mode < 3; mode++) {
      spd_machine_t *mc = NULL;
      assert_int_equal(spd_machine_new(&ctx, machines[k], &mc), 0);
      spd_partition_opts_t o;
      spd_partition_opts_default(&o);
      o.numeric = mode == 1 ? SPD_NUMERIC_FLOAT : SPD_NUMERIC_FIXED;
      o.training = mode != 2;
      spd_machine_graph_t *g = NULL;
      if (spd_partition_model(&ctx, m, mc, &o, &g))
        fail_msg("%s", spd_ctx_message(&ctx));
      check_fits(g);
      check_cover(g);
      check_inputs(g);
      assert_true(g->n_vertices <= spd_machine_app_cores(mc));
      spd_machine_graph_free(g);
      spd_machine_free(mc);
    }
  spd_model_free(m);
}

static void too_small_names_the_layer(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = lenet(&ctx);
  spd_machine_t *mc = NULL;
  assert_int_equal(spd_machine_new(&ctx, "spinn5", &mc), 0);
  spd_partition_opts_t o;
  spd_partition_opts_default(&o);
  o.max_cores = 7;
  spd_machine_graph_t *g = NULL;
  assert_int_equal(spd_partition_model(&ctx, m, mc, &o, &g), SPD_ENOFIT);
  assert_null(g);
  assert_non_null(strstr(spd_ctx_message(&ctx), "layer 'conv2d"));
  assert_non_null(strstr(spd_ctx_message(&ctx), "offers 7"));
  /* The Dense-only partitioner still declines convolutions. */
  assert_int_equal(spd_partition_dense(&ctx, m, mc, NULL, &g), SPD_EUNSUPPORTED);
  assert_non_null(strstr(spd_ctx_message(&ctx), layer_name(m, 1)));
  spd_machine_free(mc);
  spd_model_free(m);
}

static void dense_only_model_unchanged(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = NULL;
  assert_int_equal(spd_keras_model_load(&ctx, spd_test_source_path("examples/mlp.json"), 0, &m), 0);
  spd_machine_t *mc = NULL;
  assert_int_equal(spd_machine_new(&ctx, "spinn3", &mc), 0);
  spd_machine_graph_t *a = NULL, *b = NULL;
  assert_int_equal(spd_partition_dense(&ctx, m, mc, NULL, &a), 0);
  assert_int_equal(spd_partition_model(&ctx, m, mc, NULL, &b), 0);
  assert_int_equal(a->n_vertices, b->n_vertices);
  assert_int_equal(a->n_partitions, b->n_partitions);
  assert_int_equal(b->n_conv, 0);
  assert_memory_equal(a->vertices, b->vertices, sizeof *a->vertices * a->n_vertices);
  assert_true(a->period_cycles == b->period_cycles);
  spd_machine_graph_free(a);
  spd_machine_graph_free(b);
  spd_machine_free(mc);
  spd_model_free(m);
}

typedef struct conv_call {
  const spd_model_t *m;
  const spd_machine_t *mc;
  const spd_partition_opts_t *o;
} conv_call_t;

static int partition_model_and_free(spd_ctx_t *ctx, void *arg) {
  const conv_call_t *c = arg;
  spd_machine_graph_t *g = NULL;
  int err = spd_partition_model(ctx, c->m, c->mc, c->o, &g);
  if (err)
    assert_null(g);
  else
    assert_true(g->n_conv == 2 && g->n_vertices <= 12);
  spd_machine_graph_free(g);
  return err;
}

/* Failing any allocation returns SPD_ENOMEM, leaves the output alone and
 * leaks nothing. */
static void allocation_failures(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  const spec_t sp[] = {{SPD_LAYER_CONV2D, 3, 3, 1, 1, SPD_PAD_SAME},
                       {SPD_LAYER_MAXPOOL2D, 0, 2, 2, 1, SPD_PAD_VALID}};
  spd_model_t *m = window_model(&ctx, (spd_shape_t){3, {8, 6, 2}}, sp, 2);
  spd_machine_t *mc = NULL;
  assert_int_equal(spd_machine_new(&ctx, "spinn3", &mc), 0);
  spd_partition_opts_t o;
  spd_partition_opts_default(&o);
  o.max_cores = 12;
  conv_call_t call = {m, mc, &o};
  assert_true(spd_test_alloc_each(partition_model_and_free, &call) > 1);
  spd_machine_free(mc);
  spd_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(strided_same_conv_overlapping_maxpool),
      cmocka_unit_test(dilated_conv_fused_same_avgpool),
      cmocka_unit_test(same_conv_fused_same_maxpool_odd),
      cmocka_unit_test(conv1d_with_avgpool1d),
      cmocka_unit_test(lenet5_spinn5_over_many_chips),
      cmocka_unit_test(lenet5_fits_every_mode),
      cmocka_unit_test(too_small_names_the_layer),
      cmocka_unit_test(dense_only_model_unchanged),
      cmocka_unit_test(allocation_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
