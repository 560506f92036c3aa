/* The machine graph of the convolution partitioner's cuts
 * (docs/conv-on-machine.md, "Packets and keys" and "Backward pass"): the
 * window layers' tiles, the sources by input rows, the Dense tail's
 * vertices after the Flatten, and every partition between them (feature
 * maps cut at each reader's halo, the Flatten hand-off, dX partial sums,
 * credits, the per-batch dwsum/wupd reduction). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/recovery_switch.h"
#include "map/partition_conv.h"
#include "map/partition_dense.h"
#include "nn/shape.h"
#include "spindle/dataspec.h"

typedef struct cbuild {
  csearch_t *S;
  const spd_machine_graph_t *d;  /* the Dense tail's graph */
  spd_machine_graph_t *g;
  uint32_t *first;               /* per stage: its first tile */
  uint32_t *remap;               /* Dense tail vertex -> new index (UINT32_MAX: dropped) */
  uint32_t *targets;
  uint32_t n_targets_max;
} cbuild_t;

/* Tile (position block p = row block x Q + column block, channel block j). */
static uint32_t tile_at(const cbuild_t *B, int si, uint32_t p, uint32_t j) {
  return B->first[si] + p * B->S->cut[si].C + j;
}

/* Position blocks of stage si's cut (row blocks x column blocks). */
static uint32_t blocks_of(const csearch_t *S, int si) { return S->cut[si].R * S->cut[si].Q; }

static int add_window_vertices(cbuild_t *B) {
  csearch_t *S = B->S;
  spd_machine_graph_t *g = B->g;
  const wstage_t *s0 = &S->st[0];
  int err = 0;
  for (uint32_t s = 0; !err && s < S->n_sources; s++) {
    spd_range_t r = spd__pc_block_of(s0->in_h, S->n_sources, s);
    uint32_t per_row = s0->in_w * s0->in_c;
    spd_vertex_t v = {.role = SPD_ROLE_SOURCE, .layer = 0, .n_layers = 1,
                      .rows = {r.lo * per_row, r.n * per_row}, .in_rows = r,
                      .in_cols = {0, s0->in_w}};
    spd__vertex_cost_t c;
    spd__cost_source(S->o, v.rows.n, &c);
    v.dtcm_bytes = c.dtcm;
    v.sdram_bytes = c.sdram;
    v.cycles_per_sample = c.busy;
    v.dma_cycles = c.dma;
    err = spd__graph_add_vertex(g, &v, NULL);
  }
  for (int si = 0; !err && si < S->n; si++) {
    const wstage_t *st = &S->st[si];
    B->first[si] = g->n_vertices;
    if (st->fused_into >= 0)
      continue;
    const wcut_t *cut = &S->cut[si];
    uint64_t fan = spd__pc_fan_of(S, si);
    for (uint32_t i = 0; !err && i < blocks_of(S, si); i++)
      for (uint32_t j = 0; !err && j < cut->C; j++) {
        spd_range_t r = spd__pc_block_rows(S, si, cut, i), ch = spd__pc_block_of(st->out_c, cut->C, j);
        spd_range_t cl = spd__pc_block_cols(S, si, cut, i);
        spd_range_t own = spd__pc_own_rows(S, si, r), own_c = spd__pc_own_cols(S, si, cl);
        spd_vertex_t v = {.role = st->pool ? SPD_ROLE_POOL : SPD_ROLE_CONV, .layer = st->layer,
                          .n_layers = 1, .grid_row = (uint16_t)i, .grid_col = (uint16_t)j,
                          .rows = r, .cols = ch, .memory = cut->mem,
                          .in_rows = spd__pc_need_rows(st, own), .conv_rows = own,
                          .fused_pool = st->fused >= 0 ? S->st[st->fused].layer : 0,
                          .out_cols = cl, .conv_cols = own_c,
                          .in_cols = spd__pc_need_cols(st, own_c)};
        spd__vertex_cost_t c;
        spd__pc_cost_tile(S, si, r, cl, ch.n, blocks_of(S, si), cut->mem, fan, &c);
        v.dtcm_bytes = c.dtcm;
        v.held_bytes = c.held;
        v.sdram_bytes = c.sdram;
        v.cycles_per_sample = c.busy;
        v.dma_cycles = c.dma;
        err = spd__graph_add_vertex(g, &v, NULL);
      }
  }
  return err;
}

/* The Dense tail's vertices except its sources. */
static int add_dense_vertices(cbuild_t *B) {
  int err = 0;
  for (uint32_t v = 0; !err && v < B->d->n_vertices; v++) {
    B->remap[v] = UINT32_MAX;
    if (B->d->vertices[v].role == SPD_ROLE_SOURCE)
      continue;
    err = spd__graph_add_vertex(B->g, &B->d->vertices[v], &B->remap[v]);
  }
  return err;
}

static int add_fm(cbuild_t *B, uint32_t src, const char *name, int layer, spd_range_t rows,
                  spd_range_t cols, spd_range_t chans, uint32_t width, uint32_t channels,
                  spd_range_t values, uint32_t words, const uint32_t *targets, uint32_t n) {
  int err = spd__graph_add_partition(B->g, src, name, layer, values, words, targets, n);
  if (err)
    return err;
  spd_partition_t *p = &B->g->partitions[B->g->n_partitions - 1];
  p->fm_rows = rows;
  p->fm_cols = cols.lo == 0 && cols.n == width ? (spd_range_t){0, 0} : cols;
  p->fm_chans = chans;
  p->fm_width = width;
  p->fm_channels = channels;
  return 0;
}

/* The layer, width and channels of the tensor stage si's tiles send. */
static void out_tensor(const csearch_t *S, int si, int *layer, uint32_t *w, uint32_t *c) {
  const wstage_t *st = S->st[si].fused >= 0 ? &S->st[S->st[si].fused] : &S->st[si];
  *layer = st->layer;
  *w = st->out_w;
  *c = st->out_c;
}

static spd_range_t tile_chans(const csearch_t *S, int si, uint32_t j) {
  return spd__pc_block_of(S->st[si].out_c, S->cut[si].C, j);
}

/* Channels of the producer's block @p have that tile (i, j) of stage ci
 * reads: every channel for a convolution, its own for a pooling. */
static spd_range_t reads_chans(const csearch_t *S, int ci, uint32_t j, spd_range_t have) {
  return S->st[ci].pool ? spd__pc_intersect(have, tile_chans(S, ci, j)) : have;
}

static spd_range_t tile_in_rows(const cbuild_t *B, int ci, uint32_t i, uint32_t j) {
  return B->g->vertices[tile_at(B, ci, i, j)].in_rows;
}

static spd_range_t tile_in_cols(const cbuild_t *B, int ci, uint32_t i, uint32_t j) {
  return B->g->vertices[tile_at(B, ci, i, j)].in_cols;
}

/* The end of the piece of @p r starting at @p at: the next place in
 * (at, end) where one of stage ci's tiles' input range starts or ends. */
static uint32_t piece_end(const cbuild_t *B, int ci, bool cols, uint32_t at, uint32_t end) {
  for (uint32_t p = 0; p < blocks_of(B->S, ci); p++) {
    spd_range_t r = cols ? tile_in_cols(B, ci, p, 0) : tile_in_rows(B, ci, p, 0);
    if (r.lo > at && r.lo < end)
      end = r.lo;
    if (r.lo + r.n > at && r.lo + r.n < end)
      end = r.lo + r.n;
  }
  return end;
}

/* Send a producer's block (rows x cols x chans of a layer's output, of
 * width columns) to the tiles of stage ci: cut its rows and columns where
 * any reader's halo starts or ends, and send each piece once to every tile
 * that reads it (halo rows and columns go to several tiles). */
static int send_block(cbuild_t *B, uint32_t src, const char *name, int layer, spd_range_t rows,
                      spd_range_t cols, spd_range_t chans, uint32_t width, uint32_t channels,
                      int ci) {
  const csearch_t *S = B->S;
  const wcut_t *cut = &S->cut[ci];
  uint32_t hi = rows.lo + rows.n, at = rows.lo;
  int err = 0;
  while (!err && at < hi) {
    /* The piece [at, end) x [cat, cend): no reader's range starts or ends inside it. */
    uint32_t end = piece_end(B, ci, false, at, hi);
    for (uint32_t cat = cols.lo, cend; !err && cat < cols.lo + cols.n; cat = cend) {
      cend = piece_end(B, ci, true, cat, cols.lo + cols.n);
      /* One partition per distinct channel range among its readers. */
      for (uint32_t j0 = 0; !err && j0 < cut->C; j0++) {
        spd_range_t ch = reads_chans(S, ci, j0, chans);
        if (!ch.n)
          continue;
        bool seen = false;
        for (uint32_t j1 = 0; j1 < j0 && !seen; j1++) {
          spd_range_t c1 = reads_chans(S, ci, j1, chans);
          seen = c1.lo == ch.lo && c1.n == ch.n;
        }
        if (seen)
          continue;
        uint32_t n = 0;
        for (uint32_t i = 0; i < blocks_of(S, ci); i++)
          for (uint32_t j = 0; j < cut->C; j++) {
            spd_range_t c = reads_chans(S, ci, j, chans);
            spd_range_t r = tile_in_rows(B, ci, i, j), w = tile_in_cols(B, ci, i, j);
            if (c.lo == ch.lo && c.n == ch.n && r.lo <= at && r.lo + r.n >= end &&
                w.lo <= cat && w.lo + w.n >= cend)
              B->targets[n++] = tile_at(B, ci, i, j);
          }
        if (n)
          err = add_fm(B, src, name, layer, (spd_range_t){at, end - at},
                       (spd_range_t){cat, cend - cat}, ch, width, channels,
                       (spd_range_t){0, (end - at) * (cend - cat) * ch.n}, 1, B->targets, n);
      }
    }
    at = end;
  }
  return err;
}

/* Positions (in the block's row, column, channel order) of a block's values
 * whose flattened index lies in @p flat: a contiguous range, because both
 * orders are lexicographic in (row, column, channel). */
static spd_range_t flat_positions(spd_range_t rows, spd_range_t cols, spd_range_t chans,
                                  uint32_t width, uint32_t channels, spd_range_t flat) {
  uint64_t n = (uint64_t)rows.n * cols.n * chans.n, first = UINT64_MAX, last = 0;
  for (uint64_t q = 0; q < n; q++) {
    uint64_t r = rows.lo + q / ((uint64_t)cols.n * chans.n), w = cols.lo + q / chans.n % cols.n;
    uint64_t f = (r * width + w) * channels + chans.lo + q % chans.n;
    if (f >= flat.lo && f < (uint64_t)flat.lo + flat.n) {
      first = first == UINT64_MAX ? q : first;
      last = q;
    }
  }
  return first == UINT64_MAX ? (spd_range_t){0, 0}
                             : (spd_range_t){(uint32_t)first, (uint32_t)(last - first + 1)};
}

/* The last window stage's tiles feed the first Dense layer's row blocks
 * (the Flatten): y forward, and dX partial sums back when training. */
static int add_flatten(cbuild_t *B, int si) {
  const csearch_t *S = B->S;
  const spd_layer_tiling_t *t0 = &B->d->dense[0];
  uint32_t words = spd__cost_psum_words(S->o->numeric);
  int layer;
  uint32_t width, channels;
  out_tensor(S, si, &layer, &width, &channels);
  int err = 0;
  for (uint32_t i = 0; !err && i < blocks_of(S, si); i++)
    for (uint32_t j = 0; !err && j < S->cut[si].C; j++) {
      uint32_t src = tile_at(B, si, i, j);
      const spd_vertex_t *v = &B->g->vertices[src];
      for (uint32_t r = 0; !err && r < t0->grid_rows; r++) {
        spd_range_t flat = spd__pc_block_of(t0->in, t0->grid_rows, r);
        spd_range_t pos = flat_positions(v->rows, v->out_cols, v->cols, width, channels, flat);
        if (!pos.n)
          continue;
        uint32_t n = 0;
        for (uint32_t c = 0; c < t0->grid_cols; c++)
          B->targets[n++] = B->remap[t0->first_vertex + r * t0->grid_cols + c];
        err = add_fm(B, src, "y", layer, v->rows, v->out_cols, v->cols, width, channels, pos, 1,
                     B->targets, n);
        for (uint32_t c = 0; !err && S->o->training && c < t0->grid_cols; c++)
          err = add_fm(B, B->targets[c], "dxpsum", layer, v->rows, v->out_cols, v->cols, width,
                       channels, pos, words, &src, 1);
      }
    }
  return err;
}

/* Forward edges: sources to the first stage, stage to stage, the last
 * stage to the Dense tail. */
static int add_forward(cbuild_t *B) {
  csearch_t *S = B->S;
  const wstage_t *s0 = &S->st[0];
  int err = 0;
  for (uint32_t s = 0; !err && s < S->n_sources; s++)
    err = send_block(B, s, "x", 0, B->g->vertices[s].in_rows, (spd_range_t){0, s0->in_w},
                     (spd_range_t){0, s0->in_c}, s0->in_w, s0->in_c, 0);
  for (int si = 0; !err && si < S->n; si++) {
    if (S->st[si].fused_into >= 0)
      continue;
    int rd[SPD_PC_MAX_READERS], nr = spd__pc_readers(S, si, rd), layer;
    uint32_t width, channels;
    if (!nr) { /* the last stage (check_graph) */
      err = add_flatten(B, si);
      continue;
    }
    out_tensor(S, si, &layer, &width, &channels);
    for (int k = 0; !err && k < nr; k++) /* every reader: a fan-out sends to each */
      for (uint32_t i = 0; !err && i < blocks_of(S, si); i++)
        for (uint32_t j = 0; !err && j < S->cut[si].C; j++) {
          const spd_vertex_t *v = &B->g->vertices[tile_at(B, si, i, j)];
          err = send_block(B, tile_at(B, si, i, j), "y", layer, v->rows, v->out_cols, v->cols,
                           width, channels, rd[k]);
        }
  }
  return err;
}

/* Backward edges of stage ci: dX partial sums of its input rows (halo
 * included) to every producer they overlap, or credits to the sources; the
 * weight-sharing reduction of each channel block. */
static int add_backward(cbuild_t *B, int ci, int pi) {
  csearch_t *S = B->S;
  const wcut_t *cut = &S->cut[ci];
  uint32_t words = spd__cost_psum_words(S->o->numeric);
  int err = 0;
  for (uint32_t i = 0; !err && i < blocks_of(S, ci); i++)
    for (uint32_t j = 0; !err && j < cut->C; j++) {
      uint32_t t = tile_at(B, ci, i, j);
      spd_range_t in = tile_in_rows(B, ci, i, j), in_c = tile_in_cols(B, ci, i, j);
      if (pi < 0) {
        for (uint32_t s = 0; !err && s < S->n_sources; s++)
          if (spd__pc_intersect(in, B->g->vertices[s].in_rows).n)
            err = spd__graph_add_partition(B->g, t, "credit", 0, (spd_range_t){0, 1}, 1, &s, 1);
        continue;
      }
      int layer;
      uint32_t width, channels;
      out_tensor(S, pi, &layer, &width, &channels);
      for (uint32_t pr = 0; !err && pr < blocks_of(S, pi); pr++)
        for (uint32_t pc = 0; !err && pc < S->cut[pi].C; pc++) {
          uint32_t p = tile_at(B, pi, pr, pc);
          const spd_vertex_t *pv = &B->g->vertices[p];
          spd_range_t r = spd__pc_intersect(in, pv->rows), ch = reads_chans(S, ci, j, pv->cols);
          spd_range_t cc = spd__pc_intersect(in_c, pv->out_cols);
          if (r.n && cc.n && ch.n)
            err = add_fm(B, t, "dxpsum", layer, r, cc, ch, width, channels,
                         (spd_range_t){0, r.n * cc.n * ch.n}, words, &p, 1);
        }
    }
  for (uint32_t j = 0; !err && blocks_of(S, ci) > 1 && !S->st[ci].pool && j < cut->C; j++) {
    uint32_t owner = tile_at(B, ci, 0, j), n = 0;
    spd_range_t K = {0, (uint32_t)spd__pc_tile_weights(&S->st[ci], tile_chans(S, ci, j).n)};
    for (uint32_t i = 1; !err && i < blocks_of(S, ci); i++) {
      uint32_t t = tile_at(B, ci, i, j);
      B->targets[n++] = t;
      err = spd__graph_add_partition(B->g, t, "dwsum", S->st[ci].layer, K, words, &owner, 1);
      if (!err)
        B->g->partitions[B->g->n_partitions - 1].per_batch = true;
    }
    if (!err)
      err = spd__graph_add_partition(B->g, owner, "wupd", S->st[ci].layer, K, 1, B->targets, n);
    if (!err)
      B->g->partitions[B->g->n_partitions - 1].per_batch = true;
  }
  return err;
}

/* The Dense tail's partitions, except those from or to its sources and
 * its credits: its first layer's tiles send dX partial sums down to the
 * windows, whose first layer credits the sources (add_backward). */
static int copy_dense_partitions(cbuild_t *B) {
  int err = 0;
  for (uint32_t i = 0; !err && i < B->d->n_partitions; i++) {
    const spd_partition_t *p = &B->d->partitions[i];
    bool keep = B->remap[p->source] != UINT32_MAX && strcmp(p->name, "credit");
    for (uint32_t t = 0; keep && t < p->n_targets; t++)
      keep = B->remap[p->targets[t]] != UINT32_MAX;
    if (!keep)
      continue;
    for (uint32_t t = 0; t < p->n_targets; t++)
      B->targets[t] = B->remap[p->targets[t]];
    err = spd__graph_add_partition(B->g, B->remap[p->source], p->name, p->layer, p->values,
                                   p->words, B->targets, p->n_targets);
  }
  return err;
}

static int add_partitions(cbuild_t *B) {
  csearch_t *S = B->S;
  int err = add_forward(B);
  if (!err)
    err = copy_dense_partitions(B);
  /* Every stage's dX to each of its producers (an Add: to every input's),
   * the first stage's credits to the sources. */
  for (int ci = 0; !err && S->o->training && ci < S->n; ci++)
    for (int q = 0; !err && S->st[ci].fused_into < 0 && q < S->st[ci].n_src; q++)
      err = add_backward(B, ci, spd__pc_owner(S, S->st[ci].src[q]));
  /* The sink credits the sources (partition_build.c says why). */
  uint32_t sink = 0;
  for (uint32_t v = 0; v < B->g->n_vertices; v++)
    if (B->g->vertices[v].role == SPD_ROLE_SINK)
      sink = v;
  for (uint32_t s = 0; s < S->n_sources; s++)
    B->targets[s] = s;
  if (!err && (SPD_RECOVERY || !S->o->training))
    err = spd__graph_add_partition(B->g, sink, "credit", B->d->dense[B->d->n_dense - 1].layer,
                                   (spd_range_t){0, 1}, 1, B->targets, S->n_sources);
  return err;
}

static int add_tilings(cbuild_t *B) {
  csearch_t *S = B->S;
  spd_machine_graph_t *g = B->g;
  g->conv = spd_calloc(S->ctx, (size_t)S->n, sizeof *g->conv);
  if (!g->conv)
    return SPD_ENOMEM;
  g->n_conv = S->n;
  for (int si = 0; si < S->n; si++) {
    const wstage_t *st = &S->st[si];
    bool fused = st->fused_into >= 0;
    const wcut_t *cut = &S->cut[fused ? st->fused_into : si];
    spd_conv_tiling_t *t = &g->conv[si];
    *t = (spd_conv_tiling_t){.layer = st->layer, .kind = st->kind, .in_h = st->in_h,
                             .in_w = st->in_w, .in_c = st->in_c, .out_h = st->out_h,
                             .out_w = st->out_w, .out_c = st->out_c, .k_h = st->k_h,
                             .k_w = st->k_w, .stride_h = st->s_h, .stride_w = st->s_w,
                             .dil_h = st->d_h, .dil_w = st->d_w, .pad_top = st->pad_t,
                             .pad_left = st->pad_l, .grid_rows = (uint16_t)cut->R,
                             .grid_cols = (uint16_t)cut->C, .memory = cut->mem,
                             .first_vertex = B->first[fused ? st->fused_into : si],
                             .n_vertices = fused ? 0 : cut->R * cut->Q * cut->C,
                             .grid_wcols = (uint16_t)cut->Q,
                             .fused_into = fused ? S->st[st->fused_into].layer : 0};
    snprintf(t->name, sizeof t->name, "%s", st->name);
  }
  for (int di = 0; di < g->n_dense; di++) {
    g->dense[di] = B->d->dense[di];
    g->dense[di].first_vertex = B->remap[g->dense[di].first_vertex];
  }
  return 0;
}

static void summarise(spd_machine_graph_t *g) {
  for (int i = 0; i < g->n_conv; i++) {
    spd_conv_tiling_t *t = &g->conv[i];
    uint32_t n = t->n_vertices ? t->n_vertices
                               : (uint32_t)t->grid_rows * t->grid_wcols * t->grid_cols;
    for (uint32_t v = t->first_vertex; v < t->first_vertex + n; v++) {
      t->period_cycles = spd__max64(t->period_cycles, g->vertices[v].period_cycles);
      if (g->vertices[v].dtcm_bytes > t->max_tile_dtcm)
        t->max_tile_dtcm = g->vertices[v].dtcm_bytes;
    }
  }
  for (int i = 0; i < g->n_dense; i++) {
    spd_layer_tiling_t *t = &g->dense[i];
    t->period_cycles = 0;
    uint32_t n = t->n_vertices ? t->n_vertices : 1;
    for (uint32_t v = t->first_vertex; v < t->first_vertex + n; v++)
      t->period_cycles = spd__max64(t->period_cycles, g->vertices[v].period_cycles);
  }
}

static int check_sdram(const csearch_t *S, const spd_machine_graph_t *g) {
  uint64_t total = 0;
  for (uint32_t v = 0; v < g->n_vertices; v++)
    total += g->vertices[v].sdram_bytes;
  if (total <= spd_machine_sdram(S->m))
    return 0;
  return spd_ctx_fail(S->ctx, SPD_ENOFIT, "model needs %" PRIu64 " MiB of SDRAM but machine "
                      "'%s' has %" PRIu64 " MiB", total >> 20, S->m->name,
                      spd_machine_sdram(S->m) >> 20);
}

int spd__pc_build(csearch_t *S, const spd_machine_graph_t *d, spd_machine_graph_t **out) {
  spd_machine_graph_t *g = NULL;
  int err = spd__graph_new(S->ctx, S->o, d->n_dense, &g);
  if (err)
    return err;
  uint32_t max_v = d->n_vertices + S->n_sources;
  for (int si = 0; si < S->n; si++)
    max_v += S->st[si].fused_into >= 0 ? 0 : S->cut[si].cores;
  cbuild_t B = {.S = S, .d = d, .g = g};
  B.first = spd_calloc(S->ctx, (size_t)S->n, sizeof *B.first);
  B.remap = spd_calloc(S->ctx, d->n_vertices, sizeof *B.remap);
  B.targets = spd_calloc(S->ctx, max_v, sizeof *B.targets);
  uint64_t *dma = NULL;
  err = B.first && B.remap && B.targets ? 0 : SPD_ENOMEM;
  if (!err)
    err = add_window_vertices(&B);
  if (!err)
    err = add_dense_vertices(&B);
  if (!err)
    err = add_tilings(&B);
  if (!err)
    err = add_partitions(&B);
  if (!err) {
    dma = spd_calloc(S->ctx, g->n_vertices, sizeof *dma);
    err = dma ? 0 : SPD_ENOMEM;
    for (uint32_t v = 0; !err && v < g->n_vertices; v++)
      dma[v] = g->vertices[v].dma_cycles;
  }
  if (!err)
    err = spd__graph_pace(g, dma);
  if (!err) {
    summarise(g);
    err = check_sdram(S, g);
  }
  spd_free(S->ctx, dma);
  spd_free(S->ctx, B.first);
  spd_free(S->ctx, B.remap);
  spd_free(S->ctx, B.targets);
  if (err) {
    spd_machine_graph_free(g);
    return err;
  }
  *out = g;
  return 0;
}
