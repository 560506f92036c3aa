/* The convolution partitioner (docs/conv-on-machine.md): a chain of
 * Conv1D/Conv2D and pooling layers ending in Flatten and Dense layers.
 *
 * Every convolution or pooling layer is cut into tiles of output rows x
 * output channels; a tile holds every input channel, so it is its own
 * reducer (bias, activation, the rounding of its dX sums) and reads the
 * input rows of its output rows plus their halo. A pooling layer whose
 * windows do not overlap in rows is fused into the convolution before it:
 * the convolution's tile computes the pooling on its own rows and only the
 * pooled values travel. Feature maps travel as one packet per value in
 * (row, column, channel) order; rows needed by several tiles (halos) are
 * one multicast partition to all of them. The Dense layers after the Flatten
 * are cut by the Dense partitioner (partition_dense.c) and take their input
 * from the last convolution's tiles instead of sources.
 *
 * The cut: for a target period T each window layer takes its fewest cores
 * whose tiles fit DTCM and run within T; T is bisected with the Dense
 * layers' cores held, then the Dense layers are cut again for the cores
 * left with T as their floor (no point running faster than the
 * convolutions). This file holds the geometry, the cost and the search;
 * partition_conv_stages.c reads the model into stages and
 * partition_conv_build.c builds the machine graph of the chosen cuts. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/tile_mem.h"
#include "map/machine_graph.h"
#include "map/partition_conv.h"
#include "map/partition_dense.h"
#include "machine/cost_table.h"
#include "map/tile_cost.h"
#include "spindle/dataspec.h"

/* Fused max pooling: a compare and a store per convolution output. */
/* Fixed-point unit of the dX fan-in of a tile. */
#define FAN_ONE 1000u

/* ------------------------------------------------------------ geometry */

spd_range_t spd__pc_block_of(uint32_t n, uint32_t parts, uint32_t i) {
  uint32_t size = spd__ceil_div(n, parts), lo = i * size;
  return (spd_range_t){lo, lo >= n ? 0 : (n - lo < size ? n - lo : size)};
}

spd_range_t spd__pc_intersect(spd_range_t x, spd_range_t y) {
  uint32_t lo = x.lo > y.lo ? x.lo : y.lo;
  uint32_t hi = x.lo + x.n < y.lo + y.n ? x.lo + x.n : y.lo + y.n;
  return (spd_range_t){lo, hi > lo ? hi - lo : 0};
}

spd_range_t spd_conv_input_rows(spd_range_t out, uint32_t stride, uint32_t k, uint32_t dil,
                                uint32_t pad_before, uint32_t in_h) {
  if (!out.n)
    return (spd_range_t){0, 0};
  int64_t lo = (int64_t)out.lo * stride - pad_before;
  int64_t hi = (int64_t)(out.lo + out.n - 1) * stride - pad_before + (int64_t)(k - 1) * dil + 1;
  lo = lo < 0 ? 0 : lo;
  hi = hi > in_h ? in_h : hi;
  return (spd_range_t){(uint32_t)lo, hi > lo ? (uint32_t)(hi - lo) : 0};
}

/* Rows a tile of stage si is cut by: the pooled rows when a pooling is fused. */
uint32_t spd__pc_tile_rows_of(const csearch_t *S, int si) {
  const wstage_t *st = &S->st[si];
  return st->fused >= 0 ? S->st[st->fused].out_h : st->out_h;
}

/* The convolution rows behind pooled rows @p p of a fused pair: windows do
 * not overlap (k <= stride), so [p0*s - pad, p1*s - pad) holds every window
 * of the block; the first and last blocks reach the edges so that the
 * blocks cover every convolution row exactly once. */
static spd_range_t fused_conv_rows(const wstage_t *conv, const wstage_t *pool, spd_range_t p) {
  int64_t lo = p.lo == 0 ? 0 : (int64_t)p.lo * pool->s_h - pool->pad_t;
  int64_t hi = p.lo + p.n >= pool->out_h ? conv->out_h
                                         : (int64_t)(p.lo + p.n) * pool->s_h - pool->pad_t;
  lo = lo < 0 ? 0 : lo > conv->out_h ? conv->out_h : lo;
  hi = hi > conv->out_h ? conv->out_h : hi;
  return (spd_range_t){(uint32_t)lo, hi > lo ? (uint32_t)(hi - lo) : 0};
}

/* A tile's own output rows of its (convolution or pooling) layer. */
spd_range_t spd__pc_own_rows(const csearch_t *S, int si, spd_range_t rows) {
  const wstage_t *st = &S->st[si];
  return st->fused >= 0 ? fused_conv_rows(st, &S->st[st->fused], rows) : rows;
}

spd_range_t spd__pc_need_rows(const wstage_t *st, spd_range_t own) {
  return spd_conv_input_rows(own, st->s_h, st->k_h, st->d_h, st->pad_t, st->in_h);
}

/* Columns, as rows: a fused pooling's windows do not overlap in columns
 * either when the tile is cut by columns (best_cut). */
uint32_t spd__pc_tile_cols_of(const csearch_t *S, int si) {
  const wstage_t *st = &S->st[si];
  return st->fused >= 0 ? S->st[st->fused].out_w : st->out_w;
}

spd_range_t spd__pc_own_cols(const csearch_t *S, int si, spd_range_t p) {
  const wstage_t *conv = &S->st[si];
  if (conv->fused < 0)
    return p;
  const wstage_t *pool = &S->st[conv->fused];
  int64_t lo = p.lo == 0 ? 0 : (int64_t)p.lo * pool->s_w - pool->pad_l;
  int64_t hi = p.lo + p.n >= pool->out_w ? conv->out_w
                                         : (int64_t)(p.lo + p.n) * pool->s_w - pool->pad_l;
  lo = lo < 0 ? 0 : lo > conv->out_w ? conv->out_w : lo;
  hi = hi > conv->out_w ? conv->out_w : hi;
  return (spd_range_t){(uint32_t)lo, hi > lo ? (uint32_t)(hi - lo) : 0};
}

spd_range_t spd__pc_need_cols(const wstage_t *st, spd_range_t own) {
  return spd_conv_input_rows(own, st->s_w, st->k_w, st->d_w, st->pad_l, st->in_w);
}

spd_range_t spd__pc_block_rows(const csearch_t *S, int si, const wcut_t *cut, uint32_t p) {
  return spd__pc_block_of(spd__pc_tile_rows_of(S, si), cut->R, p / cut->Q);
}

spd_range_t spd__pc_block_cols(const csearch_t *S, int si, const wcut_t *cut, uint32_t p) {
  return spd__pc_block_of(spd__pc_tile_cols_of(S, si), cut->Q, p % cut->Q);
}

int spd__pc_owner(const csearch_t *S, int si) {
  return si >= 0 && S->st[si].fused_into >= 0 ? S->st[si].fused_into : si;
}

int spd__pc_readers(const csearch_t *S, int si, int *out) {
  int o = S->st[si].fused >= 0 ? S->st[si].fused : si, n = 0;
  for (int c = si + 1; c < S->n && n < SPD_PC_MAX_READERS; c++) {
    if (S->st[c].fused_into >= 0)
      continue;
    for (int k = 0; k < S->st[c].n_src; k++)
      if (S->st[c].src[k] == o) {
        out[n++] = c;
        break;
      }
  }
  return n;
}

/* ---------------------------------------------------------------- cost */

static uint32_t sat32(uint64_t v) { return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v; }

/* How many of the rows @p rows that a tile of stage si sends some tile of
 * the stage reading them reads (send_block sends only those): every one
 * when the Dense layers read them; rows no window of the next layer
 * touches (a stride longer than its window) are never sent. */
static uint64_t rows_read_by(const csearch_t *S, int ci, spd_range_t rows, spd_range_t cols) {
  const wstage_t *c = &S->st[ci];
  uint32_t R = S->cut[ci].R, n = spd__pc_tile_rows_of(S, ci);
  uint32_t Q = S->cut[ci].Q ? S->cut[ci].Q : 1, w = spd__pc_tile_cols_of(S, ci);
  uint64_t read = 0, read_c = 0;
  for (uint32_t r = rows.lo; r < rows.lo + rows.n; r++) {
    bool seen = false;
    for (uint32_t i = 0; i < R && !seen; i++) {
      spd_range_t in = spd__pc_need_rows(c, spd__pc_own_rows(S, ci, spd__pc_block_of(n, R, i)));
      seen = r >= in.lo && r < in.lo + in.n;
    }
    read += seen;
  }
  /* the reader's tiles are a grid: a value is read when its row and its
   * column are */
  for (uint32_t x = cols.lo; x < cols.lo + cols.n; x++) {
    bool seen = false;
    for (uint32_t q = 0; q < Q && !seen; q++) {
      spd_range_t in = spd__pc_need_cols(c, spd__pc_own_cols(S, ci, spd__pc_block_of(w, Q, q)));
      seen = x >= in.lo && x < in.lo + in.n;
    }
    read_c += seen;
  }
  return read * read_c;
}

/* With several readers (a fan-out) each gets its own partitions: @p sum
 * counts the rows once per reader (what the tile stages), else the rows
 * any reader reads. */
static uint64_t rows_read(const csearch_t *S, int si, spd_range_t rows, spd_range_t cols,
                          bool sum) {
  int rd[SPD_PC_MAX_READERS], nr = spd__pc_readers(S, si, rd);
  if (!nr)
    return (uint64_t)rows.n * cols.n;
  uint64_t total = 0, most = 0;
  for (int k = 0; k < nr; k++) {
    uint64_t r = rows_read_by(S, rd[k], rows, cols);
    total += r;
    most = r > most ? r : most;
  }
  return sum ? total : most;
}

/* Weights of a convolution tile of @p b output channels (kernel slice and
 * biases). */
uint64_t spd__pc_tile_weights(const wstage_t *st, uint32_t b) {
  return st->pool ? 0 : (uint64_t)st->k_h * st->k_w * st->in_c * b + (st->bias ? b : 0);
}

/* Values of @p rows x @p cols that the tiles of reader stage ci read, each
 * counted once per tile reading it (halo overlaps), times its channel
 * blocks: the dX partial sums they send back for them. */
static uint64_t reader_overlap(const csearch_t *S, int ci, spd_range_t rows, spd_range_t cols) {
  const wstage_t *c = &S->st[ci];
  const wcut_t *cut = &S->cut[ci];
  uint32_t n = spd__pc_tile_rows_of(S, ci), w = spd__pc_tile_cols_of(S, ci);
  uint32_t Q = cut->Q ? cut->Q : 1;
  uint64_t sum = 0, sum_c = 0;
  for (uint32_t i = 0; i < cut->R; i++)
    sum += spd__pc_intersect(rows, spd__pc_need_rows(c, spd__pc_own_rows(
                                       S, ci, spd__pc_block_of(n, cut->R, i)))).n;
  for (uint32_t q = 0; q < Q; q++)
    sum_c += spd__pc_intersect(cols, spd__pc_need_cols(c, spd__pc_own_cols(
                                         S, ci, spd__pc_block_of(w, Q, q)))).n;
  return sum * sum_c * (c->pool ? 1 : cut->C);
}

/* dY partial sums a tile of stage si whose sent rows and columns are
 * @p rows x @p cols (@p b channels) receives per sample: every tile of the
 * stage that reads them sends its overlap (a Dense consumer: every column
 * block all of them). */
static uint64_t dx_received(const csearch_t *S, int si, spd_range_t rows, spd_range_t cols,
                            uint64_t b) {
  int rd[SPD_PC_MAX_READERS], nr = spd__pc_readers(S, si, rd);
  if (!nr)
    return (uint64_t)rows.n * cols.n * b * (S->dense_cols ? S->dense_cols : 1);
  uint64_t total = 0;
  for (int k = 0; k < nr; k++)
    total += reader_overlap(S, rd[k], rows, cols) * b;
  return total;
}

/* One tile of stage si: tile rows @p rows, @p b channels, @p R row blocks
 * (the owner of a channel block sums the others' dW and updates); @p fan:
 * dX partial sums it receives per output value, in FAN_ONE units (every
 * reader of a value sends one: the next layer's channel blocks times its
 * halo overlap, or the first Dense layer's column blocks). */
void spd__pc_cost_tile(const csearch_t *S, int si, spd_range_t rows, spd_range_t cols, uint32_t b,
                       uint32_t R, spd_tile_memory_t mem, uint64_t fan, spd__vertex_cost_t *c) {
  const spd_partition_opts_t *o = S->o;
  const wstage_t *st = &S->st[si];
  const wstage_t *pool = st->fused >= 0 ? &S->st[st->fused] : NULL;
  spd_range_t own = spd__pc_own_rows(S, si, rows), in = spd__pc_need_rows(st, own);
  spd_range_t own_c = spd__pc_own_cols(S, si, cols), in_c = spd__pc_need_cols(st, own_c);
  uint64_t words = spd__cost_psum_words(o->numeric), recv = spd__cost_recv_cycles();
  uint64_t send = spd__cost_send_cycles(), mac = spd__cost_conv_mac_cycles(o->numeric);
  uint64_t add = spd__cost_add_cycles(o->numeric);
  uint64_t in_vals = (uint64_t)in.n * in_c.n * (st->pool ? b : st->in_c) *
                     (st->add ? (uint64_t)st->n_src : 1u); /* an Add: every input's block */
  uint64_t outs = (uint64_t)own.n * own_c.n * b;
  uint64_t sent = (uint64_t)rows.n * cols.n * b;
  uint64_t ops = outs * st->k_h * st->k_w * (st->pool ? 1 : st->in_c) *
                 (st->add ? (uint64_t)st->n_src : 1u); /* MACs, pool ops or sums */
  uint64_t op = st->pool ? add : mac, K = spd__pc_tile_weights(st, b);
  uint32_t wd = 0, ws = 0;
  spd__cost_weight_bytes(o, mem, &wd, &ws);
  bool first = si == 0;
  /* DTCM: what conv.c allocates, by the same function it checks itself
   * against (base/tile_mem.h). */
  const wstage_t *pw = st->pool ? st : pool;
  /* the values it stages to send (a fan-out: to each reader in partitions
   * of its own) */
  uint64_t staged = rows_read(S, si, rows, cols, true) * b;
  spd_conv_mem_t cm = {
      .fixed = o->numeric == SPD_NUMERIC_FIXED, .train = o->training, .conv = !st->pool,
      .pool = !pw ? SPD_DS_POOL_NONE : pw->add ? SPD_DS_POOL_ADD : pw->max ? SPD_DS_POOL_MAX : SPD_DS_POOL_AVG,
      .pool_taps = pw ? pw->k_h * pw->k_w : 0, .bias = st->bias,
      .owner = rows.lo == 0 && cols.lo == 0,
      .others = R > 1, .slots = o->slots, .b = b, .n_in = sat32(in_vals),
      .n_conv = st->pool ? 0 : sat32(outs), .n_out = sat32(sent),
      .n_w = sat32(st->pool ? 0 : K - (st->bias ? b : 0)),
      .stage = sat32(staged),
      .dxstage = o->training && !first ? sat32(in_vals * words) : 0,
      .state = spd__cost_state(o)};
  /* Float partial sums from more than two senders wait for their slot
   * (spd_kc_held): the dY sums of the layer above, and the owner's dW sums
   * of the other row blocks. */
  *c = (spd__vertex_cost_t){0};
  uint64_t held = 0;
  if (o->numeric == SPD_NUMERIC_FLOAT && o->training) {
    held += fan > FAN_ONE ? dx_received(S, si, rows, cols, b) * words * o->slots : 0;
    held += rows.lo == 0 && cols.lo == 0 && spd_kc_held(SPD_DS_KIND_DWSUM, R - 1) ? (uint64_t)(R - 1) * K * words : 0;
  }
  c->held = sat32(held * 4u);
  c->dtcm = sat32(spd__cost_vertex_overhead() + spd_conv_mem_dtcm(&cm) + c->held);
  c->busy = in_vals * recv + ops * op + sent * send +
            (st->pool ? 0 : outs * (add + spd__cost_act_cycles(o, st->act))) +
            (pool ? outs * SPD_COST_POOL_OP : 0);
  c->sends = staged > sent ? staged : sent;
  c->busy += staged > sent ? (staged - sent) * send : 0;
  if (o->training) {
    /* dY sums from the next layer, the derivative, dW and bias gradient
     * accumulated exactly per sample, dX to the layer below. */
    c->busy += sent * words * (recv + add) * fan / FAN_ONE + outs * spd__cost_act_bwd_cycles(o) +
               (st->pool ? 0 : ops * mac + outs * add);
    if (!first) {
      c->busy += ops * op + in_vals * words * send;
      c->sends += in_vals * words;
    }
    if (K) {
      /* The weight-sharing reduction once per batch: every tile sends its
       * exact dW to the channel block's owner, which sums, updates and
       * sends the new weights back (counted for every tile: the owner's
       * load bounds the block). */
      uint64_t batch = o->batch_size;
      c->busy += (K * spd__cost_update_cycles(o) + (uint64_t)(R - 1) * K * words * (recv + add) +
                  K * words * send + K * recv) / batch;
      c->dma += spd__cost_dma_cycles(2 * K * ws) / batch;
    }
  }
  c->sdram = K * ws;
}

/* Average number of dX partial sums per output value of stage si, given
 * the cut of the stage that reads it (FAN_ONE units). */
uint64_t spd__pc_fan_of(const csearch_t *S, int si) {
  int rd[SPD_PC_MAX_READERS], nr = spd__pc_readers(S, si, rd);
  if (!nr)
    return (uint64_t)FAN_ONE * (S->dense_cols ? S->dense_cols : 1);
  uint64_t fan = 0;
  for (int k = 0; k < nr; k++) { /* every reader sends its own partial sums */
    const wstage_t *c = &S->st[rd[k]];
    fan += reader_overlap(S, rd[k], (spd_range_t){0, c->in_h}, (spd_range_t){0, c->in_w}) *
           FAN_ONE / ((uint64_t)(c->in_h ? c->in_h : 1) * (c->in_w ? c->in_w : 1));
  }
  return fan;
}

/* Whether stage si may be cut by columns: it is wider than one column and
 * a fused pooling's windows do not overlap in columns (its tile computes
 * its own columns' windows, as its rows'). */
static bool cols_cuttable(const csearch_t *S, int si) {
  const wstage_t *st = &S->st[si];
  return spd__pc_tile_cols_of(S, si) > 1 &&
         (st->fused < 0 || S->st[st->fused].k_w <= S->st[st->fused].s_w);
}

static void evaluate(const csearch_t *S, int si, uint32_t R, uint32_t Q, uint32_t C,
                     spd_tile_memory_t mem, wcut_t *out) {
  const wstage_t *st = &S->st[si];
  *out = (wcut_t){.R = R, .C = C, .Q = Q, .mem = mem, .cores = R * Q * C};
  uint32_t b = spd__ceil_div(st->out_c, C);
  uint64_t link = spd__cost_link_cycles(), fan = spd__pc_fan_of(S, si);
  for (uint32_t p = 0; p < R * Q; p++) {
    spd__vertex_cost_t c;
    spd_range_t rows = spd__pc_block_rows(S, si, out, p), cols = spd__pc_block_cols(S, si, out, p);
    spd__pc_cost_tile(S, si, rows, cols, b, R * Q, mem, fan, &c);
    out->unread |= rows_read(S, si, rows, cols, false) == 0;
    uint64_t period = spd__max64(spd__max64(c.busy, c.dma), c.sends * link);
    out->period = spd__max64(out->period, period);
    out->dtcm = c.dtcm > out->dtcm ? c.dtcm : out->dtcm;
    out->sdram = spd__max64(out->sdram, c.sdram);
  }
}

/* Distinct block counts of n: every block size once. */
static bool canonical(uint32_t n, uint32_t k) { return spd__ceil_div(n, spd__ceil_div(n, k)) == k; }

/* The one producer stage (owning tiles) of stage si whose only reader it
 * is, for the look-back; -1 otherwise (the input, a join, a fan-out). */
static int producer_of(const csearch_t *S, int si) {
  if (S->st[si].n_src != 1 || S->st[si].src[0] < 0)
    return -1;
  int p = spd__pc_owner(S, S->st[si].src[0]), rd[SPD_PC_MAX_READERS];
  return spd__pc_readers(S, p, rd) == 1 ? p : -1;
}

/* The cheapest cut of stage si within T: fewest cores, counting (when
 * @p look_back) the cores its dX fan-in costs the stage before it, whose
 * tiles receive one dX partial sum per reader of each value. */
static bool best_cut(csearch_t *S, int si, uint64_t T, bool look_back, wcut_t *out) {
  const wstage_t *st = &S->st[si];
  uint32_t rows = spd__pc_tile_rows_of(S, si);
  int pi = look_back ? producer_of(S, si) : -1;
  wcut_t saved = pi >= 0 ? S->cut[pi] : (wcut_t){0};
  bool have = false;
  uint64_t best_score = UINT64_MAX;
  /* conv.c keeps its weights, master, state and gradient in DTCM: a split
   * tile would be planned smaller than it runs. */
  /* Columns are cut only when every row block alone is too big. */
  uint32_t width = spd__pc_tile_cols_of(S, si);
  bool col_cut = cols_cuttable(S, si);
  if (col_cut) { /* only when its smallest tile of every column does not fit */
    wcut_t whole;
    evaluate(S, si, rows, 1, st->out_c, SPD_TILE_RESIDENT, &whole);
    col_cut = whole.dtcm > S->budget;
  }
  for (int mem = SPD_TILE_RESIDENT; mem <= SPD_TILE_RESIDENT; mem++)
    for (uint32_t R = 1; R <= rows; R++) {
      if (!canonical(rows, R))
        continue;
      for (uint32_t C = 1; C <= st->out_c; C++) {
        if (!canonical(st->out_c, C))
          continue;
        if ((uint64_t)R * C > S->cores || (uint64_t)R * C >= best_score)
          break;
        /* the fewest column blocks whose tiles fit: more would only add
         * halo traffic and partitions (rows and channels cut for speed) */
        wcut_t c = {0};
        for (uint32_t Q = 1; Q <= (col_cut ? width : 1u); Q++) {
          if (!canonical(width, Q))
            continue;
          if ((uint64_t)R * Q * C > S->cores || (uint64_t)R * Q * C >= best_score)
            break;
          evaluate(S, si, R, Q, C, (spd_tile_memory_t)mem, &c);
          if (c.dtcm <= S->budget)
            break;
        }
        /* A training tile that sends nothing would wait for dY sums that
         * never come (one row block always has rows to send). */
        if (!c.cores || (uint64_t)c.cores > S->cores || c.cores >= best_score ||
            c.dtcm > S->budget || c.sdram > S->chip_sdram || c.period > T ||
            (c.unread && S->o->training))
          continue;
        uint64_t score = c.cores;
        if (pi >= 0) {
          wcut_t pc, keep = S->cut[si];
          S->cut[si] = c;
          score = best_cut(S, pi, T, false, &pc) ? score + pc.cores : UINT64_MAX;
          S->cut[si] = keep;
        }
        if (score < best_score || (score == best_score && have && c.period < out->period)) {
          *out = c;
          best_score = score;
          have = true;
        }
      }
    }
  if (pi >= 0)
    S->cut[pi] = saved;
  return have;
}

static uint32_t source_values(const csearch_t *S, uint32_t k) {
  const wstage_t *st = &S->st[0];
  return spd__ceil_div(st->in_h, k) * st->in_w * st->in_c;
}

static uint32_t sources_for(const csearch_t *S, uint64_t T) {
  uint32_t h = S->st[0].in_h;
  for (uint32_t k = 1; k <= h && k <= S->cores; k++) {
    if (!canonical(h, k))
      continue;
    spd__vertex_cost_t c;
    uint32_t n = source_values(S, k);
    spd__cost_source(S->o, n, &c);
    uint64_t period = spd__max64(spd__max64(c.busy, c.dma), (uint64_t)n * spd__cost_link_cycles());
    if (period <= T && c.dtcm <= S->budget && c.sdram <= S->chip_sdram)
      return k;
  }
  return 0;
}

/* Cores of the window layers and their sources within T (0: impossible). */
static uint64_t window_cores(csearch_t *S, uint64_t T) {
  uint64_t cores = 0;
  S->missing = -1;
  /* Last to first: a tile's dX fan-in depends on the next layer's cut. */
  for (int si = S->n - 1; si >= 0; si--) {
    if (S->st[si].fused_into >= 0)
      continue;
    if (!best_cut(S, si, T, true, &S->cut[si])) {
      S->missing = si;
      return 0;
    }
    cores += S->cut[si].cores;
  }
  S->n_sources = sources_for(S, T);
  return S->n_sources ? cores + S->n_sources : 0;
}


/* ------------------------------------------------------------ diagnostics */

/* What would shrink a tile that does not fit a core's DTCM (the tile's
 * inputs, their dX and the samples in flight dominate): one line of
 * hints for the messages below. */
static void tile_hints(const csearch_t *S, char *buf, size_t size) {
  int n = snprintf(buf, size, "what would help:");
  const char *sep = " ";
  if (S->o->numeric == SPD_NUMERIC_FLOAT) {
    n += snprintf(buf + n, size - (size_t)n, "%s--numeric fixed (2-byte values)", sep);
    sep = ", ";
  }
  if (S->o->slots > 1) {
    n += snprintf(buf + n, size - (size_t)n, "%sfewer samples in flight (--in-flight %" PRIu32
                  ")", sep, S->o->slots / 2);
    sep = ", ";
  }
  snprintf(buf + n, size - (size_t)n, "%sfewer input channels or a narrower input (input "
           "channels are not split across cores yet: docs/conv-on-machine.md); more cores "
           "do not help", sep);
}

static int explain(csearch_t *S, uint64_t dense_cores) {
  if (S->missing >= 0) {
    const wstage_t *st = &S->st[S->missing];
    wcut_t c;
    uint32_t width = spd__pc_tile_cols_of(S, S->missing);
    bool cols = cols_cuttable(S, S->missing);
    evaluate(S, S->missing, spd__pc_tile_rows_of(S, S->missing), cols ? width : 1, st->out_c,
             SPD_TILE_RESIDENT, &c);
    if (c.dtcm <= S->budget && c.sdram <= S->chip_sdram) { /* it fits, given more cores */
      uint32_t cores = S->cores; /* its fewest cores on a machine without limit */
      S->cores = UINT32_MAX;
      wcut_t fewest;
      if (best_cut(S, S->missing, UINT64_MAX, false, &fewest))
        c = fewest;
      S->cores = cores;
      return spd_ctx_fail(S->ctx, SPD_ENOFIT,
                          "machine '%s' offers %" PRIu32 " application cores, too few for the "
                          "model: layer '%s' (%s %" PRIu32 "x%" PRIu32 "x%" PRIu32
                          " -> %" PRIu32 "x%" PRIu32 "x%" PRIu32 ") fits only in %" PRIu32
                          " cores of %" PRIu32 " bytes of DTCM (a core has %" PRIu32 "): its "
                          "tiles hold every input channel and their kernel slices; what "
                          "would help: a bigger machine (--machine NBoards) if the tables of "
                          "that many tiles fit, fewer channels (input channels are not split "
                          "across cores yet: docs/conv-on-machine.md)",
                          S->m->name, S->cores, st->name, spd_layer_kind_name(st->kind),
                          st->in_h, st->in_w, st->in_c, st->out_h, st->out_w, st->out_c,
                          c.cores, c.dtcm, S->budget);
    }
    char hints[320];
    tile_hints(S, hints, sizeof hints);
    if (c.dtcm <= S->budget)
      return spd_ctx_fail(S->ctx, SPD_ENOFIT,
                          "layer '%s' (%s %" PRIu32 "x%" PRIu32 "x%" PRIu32 " -> %" PRIu32
                          "x%" PRIu32 "x%" PRIu32 ") does not fit machine '%s': its smallest "
                          "tile needs %" PRIu64 " bytes of SDRAM, a chip has %" PRIu64,
                          st->name, spd_layer_kind_name(st->kind), st->in_h, st->in_w,
                          st->in_c, st->out_h, st->out_w, st->out_c, S->m->name, c.sdram,
                          S->chip_sdram);
    if (S->o->dtcm_reserve && c.dtcm <= S->budget + S->o->dtcm_reserve)
      return spd_ctx_fail(S->ctx, SPD_ENOFIT,
                          "model does not fit machine '%s': the cut tried first overflowed a "
                          "core's DTCM with its partition tables (too many partitions meet "
                          "there), and with %" PRIu32 " bytes kept back on every core for "
                          "tables layer '%s' (%s "
                          "%" PRIu32 "x%" PRIu32 "x%" PRIu32 " -> %" PRIu32 "x%" PRIu32 "x%"
                          PRIu32 ") no longer fits: its smallest tile needs %" PRIu32 " bytes of "
                          "DTCM, %" PRIu32 " are left; what would help: fewer samples in flight "
                          "(--in-flight), fewer channels or a narrower input (the partitioner does "
                          "not yet count the tables of a layer's fan-in: docs/conv-on-machine.md)",
                          S->m->name, S->o->dtcm_reserve, st->name, spd_layer_kind_name(st->kind),
                          st->in_h, st->in_w, st->in_c, st->out_h, st->out_w, st->out_c, c.dtcm,
                          S->budget);
    return spd_ctx_fail(S->ctx, SPD_ENOFIT,
                        "layer '%s' (%s %" PRIu32 "x%" PRIu32 "x%" PRIu32 " -> %" PRIu32 "x%" PRIu32
                        "x%" PRIu32 ") does not fit a core of machine '%s': its smallest tile "
                        "(one output row, %s, one channel%s) needs %" PRIu32
                        " bytes of DTCM and a core has %" PRIu32 " for it%s; %s",
                        st->name, spd_layer_kind_name(st->kind), st->in_h, st->in_w, st->in_c,
                        st->out_h, st->out_w, st->out_c, S->m->name,
                        cols ? "one output column" : "every column",
                        st->pool ? "" : ", every input channel", c.dtcm, S->budget,
                        S->o->dtcm_reserve ? " (the rest of its DTCM kept for the partition "
                                             "tables of the cut tried before)" : "",
                        hints);
  }
  if (!S->n_sources)
    return spd_ctx_fail(S->ctx, SPD_ENOFIT, "the input of layer '%s' cannot be held by the "
                        "sources on machine '%s'", S->st[0].name, S->m->name);
  int worst = 0;
  uint64_t total = dense_cores + S->n_sources;
  for (int si = 0; si < S->n; si++) {
    if (S->st[si].fused_into >= 0)
      continue;
    total += S->cut[si].cores;
    if (S->cut[si].cores > S->cut[worst].cores)
      worst = si;
  }
  const wstage_t *st = &S->st[worst];
  return spd_ctx_fail(S->ctx, SPD_ENOFIT,
                      "model needs at least %" PRIu64 " application cores but machine '%s' "
                      "offers %" PRIu32 "; layer '%s' (%s %" PRIu32 "x%" PRIu32 "x%" PRIu32
                      " -> %" PRIu32 "x%" PRIu32 "x%" PRIu32 ") alone needs %" PRIu32
                      " cores (grid %" PRIu32 " rows x %" PRIu32 " columns x %" PRIu32 " channels, %"
                      PRIu32 " bytes of DTCM per core of %" PRIu32 "); what would help: a "
                      "bigger machine (--machine)",
                      total, S->m->name, S->cores, st->name, spd_layer_kind_name(st->kind),
                      st->in_h, st->in_w, st->in_c, st->out_h, st->out_w, st->out_c,
                      S->cut[worst].cores, S->cut[worst].R, S->cut[worst].Q, S->cut[worst].C,
                      S->cut[worst].dtcm,
                      S->budget);
}

/* ---------------------------------------------------------------- search */

static uint32_t dense_cores(const spd_machine_graph_t *d) {
  uint32_t n = 0;
  for (uint32_t v = 0; v < d->n_vertices; v++)
    n += d->vertices[v].role != SPD_ROLE_SOURCE;
  return n;
}

static uint64_t window_period(const csearch_t *S) {
  uint64_t p = 0;
  for (int si = 0; si < S->n; si++)
    if (S->st[si].fused_into < 0)
      p = spd__max64(p, S->cut[si].period);
  return p;
}

/* The window layers' cut for the fewest-period T with @p held cores taken
 * by the Dense tail, relaxed by the slack; leaves it in S->cut. */
static bool window_fit(csearch_t *S, uint64_t held, uint64_t *T, uint64_t *cores) {
  uint64_t lo = 1, c = window_cores(S, UINT64_MAX);
  if (!c || c + held > S->cores)
    return false;
  uint64_t hi = window_period(S);
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    c = window_cores(S, mid);
    if (c && c + held <= S->cores)
      hi = mid;
    else
      lo = mid + 1;
  }
  c = window_cores(S, hi + hi / 100 * S->o->slack_percent);
  if (!c || c + held > S->cores)
    c = window_cores(S, hi);
  *T = hi;
  *cores = c;
  return c && c + held <= S->cores;
}

/* Alternate: the window layers take the fastest cut the cores left by the
 * Dense tail allow; the tail is cut again with that period as its floor,
 * which frees cores for the window layers; a few rounds settle it. */
static int choose_and_build(csearch_t *S, const spd_model_t *model, spd_machine_graph_t **out) {
  uint64_t cmin = window_cores(S, UINT64_MAX);
  if (!cmin || cmin + 3 > S->cores)
    return explain(S, 3);
  spd_machine_graph_t *d = NULL;
  int err = spd__partition_dense_tail(S->ctx, model, S->tail, S->m, S->o,
                                      S->cores - (uint32_t)cmin, 0, &d);
  if (err)
    return err;
  uint64_t held = d->n_vertices, T = 0, c = 0;
  for (int round = 0;; round++) {
    S->dense_cols = d->dense[0].grid_cols;
    spd_machine_graph_free(d);
    d = NULL;
    if (!window_fit(S, held, &T, &c))
      return explain(S, held);
    err = spd__partition_dense_tail(S->ctx, model, S->tail, S->m, S->o, S->cores - (uint32_t)c, T,
                                    &d);
    if (err)
      return err;
    if (d->n_vertices >= held || round == 3)
      break;
    held = d->n_vertices;
  }
  if (d->dense[0].grid_cols != S->dense_cols) {
    /* The tail's first layer changed its column blocks: the last window
     * layer's dX fan-in with it. */
    S->dense_cols = d->dense[0].grid_cols;
    c = window_cores(S, T + T / 100 * S->o->slack_percent);
    if (!c || c + dense_cores(d) > S->cores)
      c = window_cores(S, UINT64_MAX);
  }
  if (!c || c + dense_cores(d) > S->cores) {
    spd_machine_graph_free(d);
    return explain(S, held);
  }
  err = spd__pc_build(S, d, out);
  spd_machine_graph_free(d);
  return err;
}

static int conv_once(spd_ctx_t *ctx, const spd_model_t *model, const spd_machine_t *machine,
                     const spd_partition_opts_t *opts, spd_machine_graph_t **out) {
  uint32_t budget = spd_partition_dtcm_budget();
  csearch_t S = {.ctx = ctx, .o = opts, .m = machine,
                 .budget = opts->dtcm_reserve < budget ? budget - opts->dtcm_reserve : 0,
                 .cores = spd_machine_app_cores(machine), .missing = -1};
  int err = 0;
  if (opts->max_cores && opts->max_cores < S.cores)
    S.cores = opts->max_cores;
  for (uint32_t i = 0; i < machine->n_chips; i++)
    S.chip_sdram = spd__max64(S.chip_sdram, machine->chips[i].sdram_bytes);
  if (opts->slots == 0 || (opts->slots & (opts->slots - 1)) || opts->slots > 64 ||
      opts->batch_size == 0)
    return spd_ctx_fail(ctx, SPD_EINVAL, "samples in flight must be a power of two <= 64 and "
                        "the batch size positive (%" PRIu32 ", %" PRIu32 ")", opts->slots,
                        opts->batch_size);
  S.st = spd_calloc(ctx, (size_t)model->n_layers, sizeof *S.st);
  S.cut = spd_calloc(ctx, (size_t)model->n_layers, sizeof *S.cut);
  err = S.st && S.cut ? 0 : SPD_ENOMEM;
  if (!err)
    err = spd__pc_stages(&S, model);
  if (!err)
    err = choose_and_build(&S, model, out);
  spd_free(ctx, S.st);
  spd_free(ctx, S.cut);
  return err;
}

int spd_partition_model(spd_ctx_t *ctx, const spd_model_t *model, const spd_machine_t *machine,
                        const spd_partition_opts_t *opts, spd_machine_graph_t **out) {
  spd_partition_opts_t defaults;
  int err = spd__partition_args(ctx, model, machine, &opts, &defaults, out);
  if (err)
    return err;
  if (!spd__pc_model_has_windows(model))
    return spd_partition_dense(ctx, model, machine, opts, out);
  return spd__partition_fit_tables(ctx, model, machine, opts, conv_once, out);
}
