/* The Dense partitioner: choose every layer's tile grid and memory mode,
 * then build the machine graph (docs/dense-on-machine.md).
 *
 * The grid search: samples stream through the pipeline, so the time per
 * sample is the period of the slowest vertex. For a target period T each
 * layer takes its cheapest grid (fewest cores) whose vertices all fit their
 * DTCM budget and run within T; T is lowered by bisection while the cores
 * of all layers, sources, loss and sink fit the machine; the final choice
 * allows a slack above the best period for fewer cores. Layers are chosen
 * from the last to the first, because a column block's dX reduction load
 * depends on the next layer's column count. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "map/machine_graph.h"
#include "map/tile_cost.h"

/* A Dense layer as the partitioner sees it. */
typedef struct stage {
  int layer;
  const char *name;
  uint32_t in, out;
  spd_activation_t activation;
} stage_t;

/* One candidate cut of a layer. */
typedef struct config {
  uint32_t R, C;          /* grid */
  uint32_t a, b;          /* largest row and column block */
  spd_tile_memory_t memory;
  uint32_t cores;
  uint64_t period;
  uint32_t dtcm;          /* largest vertex DTCM */
  uint64_t tile_sdram;
} config_t;

/* Canonical block counts: every distinct block size ceil(n / k) once. */
typedef struct blocks {
  uint32_t n;
  uint32_t *count;        /* block counts k, increasing */
} blocks_t;

typedef struct search {
  spd_ctx_t *ctx;
  const spd_partition_opts_t *o;
  const spd_machine_t *m;
  int n;                  /* stages */
  stage_t *st;
  blocks_t *rows, *cols;  /* per stage */
  uint32_t budget;        /* DTCM per vertex */
  uint64_t chip_sdram;    /* largest SDRAM of one chip */
  uint32_t cores;         /* application cores available */
  uint64_t floor;         /* loss and sink periods */
  /* the result of the last feasibility check */
  config_t *cfg;
  uint32_t n_sources;
  uint32_t total_cores;
  int missing;            /* stage with no config, or -1 */
  int *group;             /* group[si]: first stage of the core si shares */
} search_t;

static uint32_t ceil_div(uint64_t a, uint64_t b) { return (uint32_t)((a + b - 1) / b); }
static uint64_t max64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* ------------------------------------------------------------ the model */

static bool pass_through(spd_layer_kind_t k) {
  return k == SPD_LAYER_FLATTEN || k == SPD_LAYER_RESHAPE || k == SPD_LAYER_DROPOUT;
}

/* Walk the chain input -> ... -> output, collecting Dense stages. */
static int collect_stages(spd_ctx_t *ctx, const spd_model_t *m, stage_t *st, int *n_out) {
  int n = 0;
  for (int i = 1; i < m->n_layers; i++) {
    const spd_layer_t *l = &m->layers[i];
    if (l->n_inbound != 1 || l->inbound[0] != i - 1)
      return spd_ctx_fail(ctx, SPD_EUNSUPPORTED,
                          "layer '%s': the Dense partitioner maps chains of layers; this one "
                          "is not fed by the layer before it", l->config.name);
    spd_layer_kind_t k = l->config.kind;
    if (pass_through(k))
      continue;
    if (k == SPD_LAYER_DENSE) {
      st[n++] = (stage_t){i, l->config.name, (uint32_t)spd_shape_size(&l->input_shape),
                          (uint32_t)l->config.units, l->config.activation};
      continue;
    }
    if (k == SPD_LAYER_ACTIVATION && n > 0 && st[n - 1].activation == SPD_ACT_LINEAR &&
        st[n - 1].layer == i - 1) {
      st[n - 1].activation = l->config.activation;
      continue;
    }
    return spd_ctx_fail(ctx, SPD_EUNSUPPORTED,
                        "layer '%s' (%s): the partitioner maps InputLayer, Flatten, Reshape, "
                        "Dropout, Dense and an Activation after a linear Dense",
                        l->config.name, spd_layer_kind_name(k));
  }
  if (n == 0)
    return spd_ctx_fail(ctx, SPD_EUNSUPPORTED, "model '%s' has no Dense layer to map", m->name);
  *n_out = n;
  return 0;
}

/* ---------------------------------------------------------- candidates */

static int blocks_make(spd_ctx_t *ctx, uint32_t n, uint32_t cap, blocks_t *b) {
  uint32_t lim = n < cap ? n : cap;
  uint32_t *k = spd_malloc(ctx, sizeof *k * (lim ? lim : 1));
  if (!k)
    return SPD_ENOMEM;
  uint32_t c = 0;
  for (uint32_t r = 1; r <= n && r <= cap; r++)
    if (ceil_div(n, ceil_div(n, r)) == r)
      k[c++] = r;
  b->n = c;
  b->count = k;
  return 0;
}

/* The period and memory of layer @p s cut R x C in @p mem, given the column
 * count of the next layer (@p c_next, 0 for the last layer). */
static void evaluate(const search_t *S, int si, uint32_t R, uint32_t C, spd_tile_memory_t mem,
                     uint32_t c_next, config_t *out) {
  const stage_t *st = &S->st[si];
  const spd_partition_opts_t *o = S->o;
  uint32_t a = ceil_div(st->in, R), b = ceil_div(st->out, C);
  spd__tile_shape_t sh = {.rows = a, .cols = b, .memory = mem, .activation = st->activation,
                          .first_layer = si == 0, .last_layer = si == S->n - 1,
                          .row_blocks = R, .dx_values = b * (c_next ? c_next : 1)};
  uint64_t link = spd__cost_link_cycles(), recv = spd__cost_recv_cycles();
  uint64_t words = spd__cost_psum_words(o->numeric);
  spd__vertex_cost_t t, r = {0};
  spd__cost_tile(o, &sh, R == 1, &t);
  /* Paced sends (spd__graph_pace): all packets at the link's rate, or each
   * partition spread over its receiver's time for that kind of packet. */
  uint64_t out_packets = R == 1 ? b : b * words, dx_packets = o->training && si > 0 ? a * words : 0;
  uint64_t sends = max64((out_packets + dx_packets) * link,
                         max64(R == 1 ? 0 : out_packets * recv * R, dx_packets * recv * C));
  uint64_t period = max64(max64(t.busy, t.dma), sends);
  uint32_t dtcm = t.dtcm;
  if (R > 1) {
    spd__cost_reducer(o, &sh, &r);
    uint64_t rs = b * link * (o->training && !sh.last_layer ? 2 : 1);
    period = max64(period, max64(r.busy, rs));
    dtcm = r.dtcm > dtcm ? r.dtcm : dtcm;
  }
  *out = (config_t){R, C, a, b, mem, R * C + (R > 1 ? C : 0), period, dtcm, t.sdram};
}

static bool fits(const search_t *S, const config_t *c) {
  return c->dtcm <= S->budget && c->tile_sdram <= S->chip_sdram;
}

/* Better = fewer cores, then shorter period, then the earlier mode. */
static bool better(const config_t *c, const config_t *best, bool have) {
  if (!have)
    return true;
  if (c->cores != best->cores)
    return c->cores < best->cores;
  return c->period < best->period;
}

/* The cheapest cut of stage @p si within period @p T. */
static bool best_config(const search_t *S, int si, uint32_t c_next, uint64_t T, config_t *out) {
  bool have = false;
  config_t best = {0};
  const blocks_t *rb = &S->rows[si], *cb = &S->cols[si];
  for (int mem = SPD_TILE_RESIDENT; mem <= SPD_TILE_STREAMED; mem++)
    for (uint32_t i = 0; i < rb->n; i++)
      for (uint32_t j = 0; j < cb->n; j++) {
        uint64_t cores = (uint64_t)rb->count[i] * cb->count[j];
        if (cores > S->cores || (have && cores > best.cores))
          break;
        config_t c;
        evaluate(S, si, rb->count[i], cb->count[j], (spd_tile_memory_t)mem, c_next, &c);
        if (fits(S, &c) && c.period <= T && better(&c, &best, have)) {
          best = c;
          have = true;
        }
      }
  *out = best;
  return have;
}

/* Period of one source injecting @p n values. */
static bool source_ok(const search_t *S, uint32_t n, uint64_t T) {
  spd__vertex_cost_t c;
  spd__cost_source(S->o, n, &c);
  uint64_t period = max64(max64(c.busy, c.dma), (uint64_t)n * spd__cost_link_cycles());
  return period <= T && c.dtcm <= S->budget && c.sdram <= S->chip_sdram;
}

static uint32_t sources_for(const search_t *S, uint64_t T) {
  uint32_t in = S->st[0].in;
  for (uint32_t k = 1; k <= in && k <= S->cores; k++)
    if (ceil_div(in, ceil_div(in, k)) == k && source_ok(S, ceil_div(in, k), T))
      return k;
  return 0;
}

/* Can every vertex run within T on the machine's cores? Leaves the choice
 * in S->cfg, S->n_sources, S->total_cores. */
static bool feasible(search_t *S, uint64_t T) {
  uint64_t cores = 2; /* loss and sink */
  S->missing = -1;
  uint32_t c_next = 0;
  for (int si = S->n - 1; si >= 0; si--) {
    if (!best_config(S, si, c_next, T, &S->cfg[si])) {
      S->missing = si;
      return false;
    }
    cores += S->cfg[si].cores;
    c_next = S->cfg[si].C;
  }
  S->n_sources = sources_for(S, T);
  cores += S->n_sources;
  S->total_cores = cores > UINT32_MAX ? UINT32_MAX : (uint32_t)cores;
  return S->n_sources && cores <= S->cores;
}

/* ---------------------------------------------------------- diagnostics */

/* Why not even the slowest cut fits: a layer without any tile that fits a
 * core, too few cores, or sources that cannot fit. */
static int explain(search_t *S) {
  const spd_machine_t *m = S->m;
  if (S->missing >= 0) {
    const stage_t *st = &S->st[S->missing];
    config_t c;
    evaluate(S, S->missing, S->rows[S->missing].count[S->rows[S->missing].n - 1],
             S->cols[S->missing].count[S->cols[S->missing].n - 1], SPD_TILE_STREAMED, 0, &c);
    return spd_ctx_fail(S->ctx, SPD_ENOFIT,
                        "layer '%s' (Dense %" PRIu32 "x%" PRIu32 ") does not fit machine '%s': "
                        "its smallest tile (%" PRIu32 "x%" PRIu32 ", %" PRIu32
                        " cores) needs %" PRIu32 " bytes of DTCM (a core has %" PRIu32
                        ") and %" PRIu64 " bytes of SDRAM (a chip has %" PRIu64 ")",
                        st->name, st->in, st->out, m->name, c.a, c.b, c.cores, c.dtcm,
                        S->budget, c.tile_sdram, S->chip_sdram);
  }
  if (!S->n_sources)
    return spd_ctx_fail(S->ctx, SPD_ENOFIT,
                        "the input of layer '%s' (%" PRIu32 " values per sample, %" PRIu32
                        " samples) cannot be held by the sources on machine '%s'",
                        S->st[0].name, S->st[0].in, S->o->dataset_samples, m->name);
  int worst = 0;
  for (int si = 1; si < S->n; si++)
    if (S->cfg[si].cores > S->cfg[worst].cores)
      worst = si;
  const stage_t *st = &S->st[worst];
  const config_t *c = &S->cfg[worst];
  return spd_ctx_fail(S->ctx, SPD_ENOFIT,
                      "model needs at least %" PRIu32 " application cores but machine '%s' has %"
                      PRIu32 "; layer '%s' (Dense %" PRIu32 "x%" PRIu32 ", %" PRIu64
                      " weights) alone needs %" PRIu32 " cores (grid %" PRIu32 "x%" PRIu32
                      ", %s weights, %" PRIu32 " bytes of DTCM per core of %" PRIu32 ")",
                      S->total_cores, m->name, S->cores, st->name, st->in, st->out,
                      (uint64_t)st->in * st->out, c->cores, c->R, c->C,
                      spd_tile_memory_name(c->memory), c->dtcm, S->budget);
}

/* --------------------------------------------------------------- search */

static int choose(search_t *S) {
  spd__vertex_cost_t loss, sink;
  spd__cost_loss(S->o, S->st[S->n - 1].out, &loss);
  spd__cost_sink(S->o, S->st[S->n - 1].out, &sink);
  S->floor = max64(max64(loss.busy, sink.busy), 1);
  if (loss.dtcm > S->budget || sink.dtcm > S->budget)
    return spd_ctx_fail(S->ctx, SPD_ENOFIT, "the loss core of layer '%s' (%" PRIu32
                        " outputs) needs %" PRIu32 " bytes of DTCM, a core has %" PRIu32,
                        S->st[S->n - 1].name, S->st[S->n - 1].out,
                        loss.dtcm > sink.dtcm ? loss.dtcm : sink.dtcm, S->budget);
  if (!feasible(S, UINT64_MAX))
    return explain(S);
  uint64_t hi = S->floor;
  for (int si = 0; si < S->n; si++)
    hi = max64(hi, S->cfg[si].period);
  uint64_t lo = S->floor;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (feasible(S, mid))
      hi = mid;
    else
      lo = mid + 1;
  }
  /* Within the slack, fewer cores: fewer packets, less energy. */
  uint64_t relaxed = hi + hi / 100 * S->o->slack_percent;
  if (!feasible(S, relaxed))
    feasible(S, hi);
  return 0;
}

/* ---------------------------------------------------------------- fusing */

static bool single_tile(const search_t *S, int si) {
  return S->cfg[si].R == 1 && S->cfg[si].C == 1;
}

/* Consecutive single-tile layers share one core while their DTCM fits the
 * budget and their cycles together stay within the pipeline's period (the
 * sum over-counts: the packets between them disappear). */
static void fuse_small(search_t *S) {
  uint64_t T = S->floor;
  for (int si = 0; si < S->n; si++) {
    S->group[si] = si;
    T = max64(T, S->cfg[si].period);
  }
  if (!S->o->fuse_small)
    return;
  for (int si = 0; si < S->n; si++) {
    if (!single_tile(S, si))
      continue;
    uint64_t dtcm = S->cfg[si].dtcm, time = S->cfg[si].period;
    while (si + 1 < S->n && single_tile(S, si + 1) && dtcm + S->cfg[si + 1].dtcm <= S->budget &&
           time + S->cfg[si + 1].period <= T) {
      dtcm += S->cfg[si + 1].dtcm;
      time += S->cfg[si + 1].period;
      S->group[si + 1] = S->group[si];
      S->total_cores--;
      si++;
    }
  }
}

static bool same_core(const search_t *S, int a, int b) {
  return b >= 0 && b < S->n && S->group[a] == S->group[b];
}

/* ------------------------------------------------------------- building */

typedef struct plan {
  uint32_t first_tile, first_reducer;
} plan_t;

static spd_range_t block(uint32_t n, uint32_t size, uint32_t i) {
  uint32_t lo = i * size;
  return (spd_range_t){lo, n - lo < size ? n - lo : size};
}

static uint32_t tile_index(const plan_t *p, const config_t *c, uint32_t i, uint32_t j) {
  return p->first_tile + i * c->C + j;
}

static uint32_t producer(const plan_t *p, const config_t *c, uint32_t j) {
  return c->R > 1 ? p->first_reducer + j : tile_index(p, c, 0, j);
}

static spd_range_t intersect(spd_range_t x, spd_range_t y) {
  uint32_t lo = x.lo > y.lo ? x.lo : y.lo;
  uint32_t hi = x.lo + x.n < y.lo + y.n ? x.lo + x.n : y.lo + y.n;
  return (spd_range_t){lo, hi > lo ? hi - lo : 0};
}

typedef struct builder {
  search_t *S;
  spd_machine_graph_t *g;
  plan_t *plan;
  uint64_t *dma;           /* per vertex */
  uint32_t *targets;       /* scratch, n_vertices */
  uint32_t first_source, loss, sink;
} builder_t;

static int add_vertex(builder_t *B, const spd_vertex_t *v, const spd__vertex_cost_t *c) {
  spd_vertex_t x = *v;
  x.dtcm_bytes = c->dtcm;
  x.sdram_bytes = c->sdram;
  x.cycles_per_sample = c->busy;
  x.n_layers = 1;
  B->dma[B->g->n_vertices] = c->dma;
  return spd__graph_add_vertex(B->g, &x, NULL);
}

/* Stage si shares the core of its group's first stage: add its tile's
 * memory and cycles there; its tiling points at that core. */
static int join_core(builder_t *B, int si, uint32_t c_next) {
  search_t *S = B->S;
  const stage_t *st = &S->st[si];
  uint32_t v = B->plan[S->group[si]].first_tile;
  spd__tile_shape_t sh = {st->in, st->out, S->cfg[si].memory, st->activation, si == 0,
                          si == S->n - 1, 1, st->out * (c_next ? c_next : 1)};
  spd__vertex_cost_t cost;
  spd__cost_tile(S->o, &sh, true, &cost);
  spd_vertex_t *x = &B->g->vertices[v];
  uint64_t dtcm = (uint64_t)x->dtcm_bytes + cost.dtcm;
  x->dtcm_bytes = dtcm > UINT32_MAX ? UINT32_MAX : (uint32_t)dtcm;
  x->sdram_bytes += cost.sdram;
  x->cycles_per_sample += cost.busy;
  x->cols = (spd_range_t){0, st->out};
  x->n_layers++;
  B->dma[v] += cost.dma;
  B->plan[si].first_tile = B->plan[si].first_reducer = v;
  spd_layer_tiling_t *t = &B->g->dense[si];
  *t = (spd_layer_tiling_t){.layer = st->layer, .in = st->in, .out = st->out, .grid_rows = 1,
                            .grid_cols = 1, .memory = S->cfg[si].memory, .first_vertex = v};
  snprintf(t->name, sizeof t->name, "%s", st->name);
  return 0;
}

static int add_layer_vertices(builder_t *B, int si) {
  search_t *S = B->S;
  const stage_t *st = &S->st[si];
  const config_t *c = &S->cfg[si];
  uint32_t c_next = si + 1 < S->n ? S->cfg[si + 1].C : 0;
  if (S->group[si] != si)
    return join_core(B, si, c_next);
  B->plan[si].first_tile = B->g->n_vertices;
  int err = 0;
  for (uint32_t i = 0; !err && i < c->R; i++)
    for (uint32_t j = 0; !err && j < c->C; j++) {
      spd_vertex_t v = {.role = c->R > 1 ? SPD_ROLE_TILE : SPD_ROLE_TILE_FULL,
                        .layer = st->layer, .grid_row = (uint16_t)i, .grid_col = (uint16_t)j,
                        .rows = block(st->in, c->a, i), .cols = block(st->out, c->b, j),
                        .memory = c->memory};
      spd__tile_shape_t sh = {v.rows.n, v.cols.n, c->memory, st->activation, si == 0,
                              si == S->n - 1, c->R, v.cols.n * (c_next ? c_next : 1)};
      spd__vertex_cost_t cost;
      spd__cost_tile(S->o, &sh, c->R == 1, &cost);
      err = add_vertex(B, &v, &cost);
    }
  B->plan[si].first_reducer = B->g->n_vertices;
  for (uint32_t j = 0; !err && c->R > 1 && j < c->C; j++) {
    spd_vertex_t v = {.role = SPD_ROLE_REDUCER, .layer = st->layer, .grid_col = (uint16_t)j,
                      .cols = block(st->out, c->b, j)};
    spd__tile_shape_t sh = {.cols = v.cols.n, .activation = st->activation,
                            .first_layer = si == 0, .last_layer = si == S->n - 1,
                            .row_blocks = c->R, .dx_values = v.cols.n * (c_next ? c_next : 1)};
    spd__vertex_cost_t cost;
    spd__cost_reducer(S->o, &sh, &cost);
    err = add_vertex(B, &v, &cost);
  }
  spd_layer_tiling_t *t = &B->g->dense[si];
  *t = (spd_layer_tiling_t){.layer = st->layer, .in = st->in, .out = st->out,
                            .grid_rows = (uint16_t)c->R, .grid_cols = (uint16_t)c->C,
                            .memory = c->memory, .first_vertex = B->plan[si].first_tile,
                            .n_vertices = B->g->n_vertices - B->plan[si].first_tile};
  snprintf(t->name, sizeof t->name, "%s", st->name);
  return err;
}

static int add_vertices(builder_t *B) {
  search_t *S = B->S;
  const stage_t *first = &S->st[0], *last = &S->st[S->n - 1];
  uint32_t size = ceil_div(first->in, S->n_sources);
  int err = 0;
  B->first_source = 0;
  for (uint32_t s = 0; !err && s < S->n_sources; s++) {
    spd_vertex_t v = {.role = SPD_ROLE_SOURCE, .layer = 0, .rows = block(first->in, size, s)};
    spd__vertex_cost_t c;
    spd__cost_source(S->o, v.rows.n, &c);
    err = add_vertex(B, &v, &c);
  }
  for (int si = 0; !err && si < S->n; si++)
    err = add_layer_vertices(B, si);
  spd_vertex_t v = {.role = SPD_ROLE_LOSS, .layer = last->layer, .cols = {0, last->out}};
  spd__vertex_cost_t c;
  spd__cost_loss(S->o, last->out, &c);
  B->loss = B->g->n_vertices;
  if (!err)
    err = add_vertex(B, &v, &c);
  v.role = SPD_ROLE_SINK;
  spd__cost_sink(S->o, last->out, &c);
  B->sink = B->g->n_vertices;
  return err ? err : add_vertex(B, &v, &c);
}

/* Tiles of row block @p i (all columns) of stage si. */
static uint32_t row_targets(builder_t *B, int si, uint32_t i) {
  const config_t *c = &B->S->cfg[si];
  for (uint32_t j = 0; j < c->C; j++)
    B->targets[j] = tile_index(&B->plan[si], c, i, j);
  return c->C;
}

/* Values @p vals of the input of stage si, sent by @p src, split by the
 * stage's row blocks: each row block's tiles get exactly their rows. */
static int add_split_by_rows(builder_t *B, uint32_t src, int si, spd_range_t vals,
                             const char *name) {
  const config_t *c = &B->S->cfg[si];
  int err = 0;
  for (uint32_t i = 0; !err && i < c->R; i++) {
    spd_range_t part = intersect(vals, block(B->S->st[si].in, c->a, i));
    if (part.n)
      err = spd__graph_add_partition(B->g, src, name, B->S->st[si].layer, part, 1, B->targets,
                                     row_targets(B, si, i));
  }
  return err;
}

/* Forward edges of stage si: partial sums to reducers, outputs onwards. */
static int add_forward(builder_t *B, int si) {
  search_t *S = B->S;
  const config_t *c = &S->cfg[si];
  const plan_t *p = &B->plan[si];
  uint32_t words = spd__cost_psum_words(S->o->numeric);
  int err = 0;
  for (uint32_t j = 0; !err && j < c->C; j++) {
    spd_range_t cols = block(S->st[si].out, c->b, j);
    for (uint32_t i = 0; !err && c->R > 1 && i < c->R; i++) {
      B->targets[0] = producer(p, c, j);
      err = spd__graph_add_partition(B->g, tile_index(p, c, i, j), "psum", S->st[si].layer, cols,
                                     words, B->targets, 1);
    }
    if (err)
      break;
    if (same_core(S, si, si + 1)) {
      continue;
    } else if (si + 1 < S->n) {
      err = add_split_by_rows(B, producer(p, c, j), si + 1, cols, "y");
    } else {
      B->targets[0] = B->loss;
      err = spd__graph_add_partition(B->g, producer(p, c, j), "y", S->st[si].layer, cols, 1,
                                     B->targets, 1);
    }
  }
  return err;
}

/* dZ of column block j of stage si to its tiles (and, from the loss core,
 * to the reducer that owns the bias). */
static int add_dz(builder_t *B, int si, uint32_t j, uint32_t src) {
  const config_t *c = &B->S->cfg[si];
  const plan_t *p = &B->plan[si];
  uint32_t n = 0;
  for (uint32_t i = 0; i < c->R; i++)
    B->targets[n++] = tile_index(p, c, i, j);
  if (c->R > 1 && src == B->loss)
    B->targets[n++] = producer(p, c, j);
  return spd__graph_add_partition(B->g, src, "dz", B->S->st[si].layer,
                                  block(B->S->st[si].out, c->b, j), 1, B->targets, n);
}

/* Backward edges of stage si: dZ to the tiles, dX partial sums to the
 * producers of the layer below, credits from the first layer to sources. */
static int add_backward(builder_t *B, int si) {
  search_t *S = B->S;
  const config_t *c = &S->cfg[si];
  const plan_t *p = &B->plan[si];
  uint32_t words = spd__cost_psum_words(S->o->numeric);
  int err = 0;
  for (uint32_t j = 0; !err && j < c->C; j++)
    if (si == S->n - 1)
      err = add_dz(B, si, j, B->loss);
    else if (c->R > 1)
      err = add_dz(B, si, j, producer(p, c, j));
  for (uint32_t i = 0; !err && i < c->R; i++)
    for (uint32_t j = 0; !err && j < c->C; j++) {
      spd_range_t rows = block(S->st[si].in, c->a, i);
      uint32_t tile = tile_index(p, c, i, j);
      if (si == 0) {
        uint32_t size = ceil_div(S->st[0].in, S->n_sources);
        for (uint32_t s = 0; !err && s < S->n_sources; s++) {
          if (!intersect(rows, block(S->st[0].in, size, s)).n)
            continue;
          B->targets[0] = B->first_source + s;
          err = spd__graph_add_partition(B->g, tile, "credit", S->st[0].layer,
                                         (spd_range_t){0, 1}, 1, B->targets, 1);
        }
        continue;
      }
      if (same_core(S, si, si - 1))
        continue;
      const config_t *below = &S->cfg[si - 1];
      for (uint32_t k = 0; !err && k < below->C; k++) {
        spd_range_t part = intersect(rows, block(S->st[si - 1].out, below->b, k));
        if (!part.n)
          continue;
        B->targets[0] = producer(&B->plan[si - 1], below, k);
        err = spd__graph_add_partition(B->g, tile, "dxpsum", S->st[si - 1].layer, part, words,
                                       B->targets, 1);
      }
    }
  return err;
}

static int add_partitions(builder_t *B) {
  search_t *S = B->S;
  uint32_t size = ceil_div(S->st[0].in, S->n_sources);
  int err = 0;
  for (uint32_t s = 0; !err && s < S->n_sources; s++)
    err = add_split_by_rows(B, B->first_source + s, 0, block(S->st[0].in, size, s), "x");
  for (int si = 0; !err && si < S->n; si++)
    err = add_forward(B, si);
  for (int si = S->n - 1; !err && S->o->training && si >= 0; si--)
    err = add_backward(B, si);
  if (!err && !S->o->training)
    for (uint32_t s = 0; !err && s < S->n_sources; s++) {
      B->targets[0] = B->first_source + s;
      err = spd__graph_add_partition(B->g, B->loss, "credit", S->st[S->n - 1].layer,
                                     (spd_range_t){0, 1}, 1, B->targets, 1);
    }
  B->targets[0] = B->sink;
  if (!err)
    err = spd__graph_add_partition(B->g, B->loss, "record", S->st[S->n - 1].layer,
                                   (spd_range_t){0, S->st[S->n - 1].out + SPD__RECORD_EXTRA}, 1,
                                   B->targets, 1);
  return err;
}

/* Per-layer summaries once periods are known. */
static void summarise(spd_machine_graph_t *g) {
  for (int si = 0; si < g->n_dense; si++) {
    spd_layer_tiling_t *t = &g->dense[si];
    uint32_t n = t->n_vertices ? t->n_vertices : 1; /* a shared core counts for each layer */
    for (uint32_t v = t->first_vertex; v < t->first_vertex + n; v++) {
      t->period_cycles = max64(t->period_cycles, g->vertices[v].period_cycles);
      if (g->vertices[v].dtcm_bytes > t->max_tile_dtcm)
        t->max_tile_dtcm = g->vertices[v].dtcm_bytes;
    }
  }
}

/* SDRAM of the sources (samples, order) and of the loss and sink (labels,
 * records): what the data, not the layers, need. */
static uint64_t data_sdram(const spd_machine_graph_t *g) {
  uint64_t sum = 0;
  for (uint32_t v = 0; v < g->n_vertices; v++) {
    spd_vertex_role_t r = g->vertices[v].role;
    if (r == SPD_ROLE_SOURCE || r == SPD_ROLE_LOSS || r == SPD_ROLE_SINK)
      sum += g->vertices[v].sdram_bytes;
  }
  return sum;
}

/* The whole graph's SDRAM against the machine's; the message names the
 * largest consumer: a layer, or the dataset held by sources, loss and sink. */
static int check_sdram(search_t *S, const spd_machine_graph_t *g) {
  uint64_t total = 0, worst = 0, data = data_sdram(g);
  int worst_layer = 0;
  for (uint32_t v = 0; v < g->n_vertices; v++)
    total += g->vertices[v].sdram_bytes;
  if (total <= spd_machine_sdram(S->m))
    return 0;
  for (int si = 0; si < g->n_dense; si++) {
    uint64_t sum = 0;
    for (uint32_t v = 0; v < g->dense[si].n_vertices; v++)
      sum += g->vertices[g->dense[si].first_vertex + v].sdram_bytes;
    if (sum > worst) {
      worst = sum;
      worst_layer = si;
    }
  }
  if (data >= worst)
    return spd_ctx_fail(S->ctx, SPD_ENOFIT,
                        "model needs %" PRIu64 " MiB of SDRAM but machine '%s' has %" PRIu64
                        " MiB; the %" PRIu32 " samples (%" PRIu32 " values each), labels and "
                        "records alone need %" PRIu64 " MiB",
                        total >> 20, S->m->name, spd_machine_sdram(S->m) >> 20,
                        S->o->dataset_samples, S->st[0].in, data >> 20);
  return spd_ctx_fail(S->ctx, SPD_ENOFIT,
                      "model needs %" PRIu64 " MiB of SDRAM but machine '%s' has %" PRIu64
                      " MiB; layer '%s' (Dense %" PRIu32 "x%" PRIu32 ", %s weights) alone needs %"
                      PRIu64 " MiB",
                      total >> 20, S->m->name, spd_machine_sdram(S->m) >> 20,
                      S->st[worst_layer].name, S->st[worst_layer].in, S->st[worst_layer].out,
                      spd_tile_memory_name(S->cfg[worst_layer].memory), worst >> 20);
}

static int build(search_t *S, spd_machine_graph_t **out) {
  spd_machine_graph_t *g = NULL;
  int err = spd__graph_new(S->ctx, S->o, S->n, &g);
  if (err)
    return err;
  builder_t B = {.S = S, .g = g};
  B.plan = spd_calloc(S->ctx, (size_t)S->n, sizeof *B.plan);
  B.dma = spd_calloc(S->ctx, S->total_cores, sizeof *B.dma);
  B.targets = spd_calloc(S->ctx, S->total_cores, sizeof *B.targets);
  err = B.plan && B.dma && B.targets ? 0 : SPD_ENOMEM;
  if (!err)
    err = add_vertices(&B);
  if (!err)
    err = add_partitions(&B);
  if (!err)
    err = spd__graph_pace(g, B.dma);
  if (!err) {
    summarise(g);
    err = check_sdram(S, g);
  }
  spd_free(S->ctx, B.plan);
  spd_free(S->ctx, B.dma);
  spd_free(S->ctx, B.targets);
  if (err) {
    spd_machine_graph_free(g);
    return err;
  }
  *out = g;
  return 0;
}

/* ---------------------------------------------------------------- entry */

static int check_opts(spd_ctx_t *ctx, const spd_partition_opts_t *o) {
  if (o->slots == 0 || (o->slots & (o->slots - 1)) || o->slots > 64)
    return spd_ctx_fail(ctx, SPD_EINVAL, "samples in flight must be a power of two <= 64, "
                        "not %" PRIu32, o->slots);
  if (o->batch_size == 0 || o->input_bytes == 0 || o->input_bytes > 4)
    return spd_ctx_fail(ctx, SPD_EINVAL, "batch size must be positive and input values 1..4 "
                        "bytes (batch %" PRIu32 ", %" PRIu32 " bytes)", o->batch_size,
                        o->input_bytes);
  return 0;
}

static uint64_t largest_chip_sdram(const spd_machine_t *m) {
  uint64_t best = 0;
  for (uint32_t i = 0; i < m->n_chips; i++)
    best = max64(best, m->chips[i].sdram_bytes);
  return best;
}

static void search_free(search_t *S) {
  for (int i = 0; i < S->n && S->rows; i++) {
    spd_free(S->ctx, S->rows[i].count);
    spd_free(S->ctx, S->cols[i].count);
  }
  spd_free(S->ctx, S->rows);
  spd_free(S->ctx, S->cols);
  spd_free(S->ctx, S->cfg);
  spd_free(S->ctx, S->group);
  spd_free(S->ctx, S->st);
}

static int search_init(search_t *S, const spd_model_t *model) {
  int n = 0, err = 0;
  S->st = spd_calloc(S->ctx, (size_t)model->n_layers, sizeof *S->st);
  if (!S->st)
    return SPD_ENOMEM;
  if ((err = collect_stages(S->ctx, model, S->st, &n)))
    return err;
  S->rows = spd_calloc(S->ctx, (size_t)n, sizeof *S->rows);
  S->cols = spd_calloc(S->ctx, (size_t)n, sizeof *S->cols);
  S->cfg = spd_calloc(S->ctx, (size_t)n, sizeof *S->cfg);
  S->group = spd_calloc(S->ctx, (size_t)n, sizeof *S->group);
  if (!S->rows || !S->cols || !S->cfg || !S->group)
    return SPD_ENOMEM;
  S->n = n;
  for (int i = 0; !err && i < n; i++) {
    err = blocks_make(S->ctx, S->st[i].in, S->cores, &S->rows[i]);
    if (!err)
      err = blocks_make(S->ctx, S->st[i].out, S->cores, &S->cols[i]);
  }
  return err;
}

int spd_partition_dense(spd_ctx_t *ctx, const spd_model_t *model, const spd_machine_t *machine,
                        const spd_partition_opts_t *opts, spd_machine_graph_t **out) {
  spd_partition_opts_t defaults;
  if (!opts) {
    spd_partition_opts_default(&defaults);
    opts = &defaults;
  }
  if (!model || !machine || !out)
    return spd_ctx_fail(ctx, SPD_EINVAL, "partition: model, machine and output are required");
  if (!model->built)
    return spd_ctx_fail(ctx, SPD_EINVAL, "model '%s' is not built", model->name);
  int err = check_opts(ctx, opts);
  if (err)
    return err;
  search_t S = {.ctx = ctx, .o = opts, .m = machine, .budget = spd_partition_dtcm_budget(),
                .chip_sdram = largest_chip_sdram(machine),
                .cores = spd_machine_app_cores(machine)};
  if (opts->max_cores && opts->max_cores < S.cores)
    S.cores = opts->max_cores;
  err = search_init(&S, model);
  if (!err)
    err = choose(&S);
  if (!err) {
    fuse_small(&S);
    err = build(&S, out);
  }
  search_free(&S);
  return err;
}
