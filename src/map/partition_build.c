/* The Dense partitioner's second half: the machine graph of the chosen
 * cuts — vertices with their memory and cycles, partitions split by the
 * receivers' blocks, pacing, and the SDRAM check
 * (docs/dense-on-machine.md). */
#include <inttypes.h>
#include <stdio.h>

#include "base/recovery_switch.h"
#include "map/machine_graph.h"
#include "map/partition_dense.h"
#include "map/tile_cost.h"

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
  x.held_bytes = c->held;
  x.sdram_bytes = c->sdram;
  x.cycles_per_sample = c->busy;
  x.dma_cycles = c->dma;
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
  spd__tile_shape_t sh = spd__stage_shape(S, si, st->in, st->out, S->cfg[si].memory, 1, c_next);
  spd__vertex_cost_t cost;
  spd__cost_tile(S->o, &sh, true, &cost);
  spd_vertex_t *x = &B->g->vertices[v];
  uint64_t dtcm = (uint64_t)x->dtcm_bytes + cost.dtcm;
  x->dtcm_bytes = dtcm > UINT32_MAX ? UINT32_MAX : (uint32_t)dtcm;
  x->held_bytes += cost.held;
  x->sdram_bytes += cost.sdram;
  x->cycles_per_sample += cost.busy;
  x->cols = (spd_range_t){0, st->out};
  x->n_layers++;
  B->dma[v] += cost.dma;
  x->dma_cycles += cost.dma;
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
      spd__tile_shape_t sh = spd__stage_shape(S, si, v.rows.n, v.cols.n, c->memory, c->R, c_next);
      spd__vertex_cost_t cost;
      spd__cost_tile(S->o, &sh, c->R == 1, &cost);
      err = add_vertex(B, &v, &cost);
    }
  B->plan[si].first_reducer = B->g->n_vertices;
  for (uint32_t j = 0; !err && c->R > 1 && j < c->C; j++) {
    spd_vertex_t v = {.role = SPD_ROLE_REDUCER, .layer = st->layer, .grid_col = (uint16_t)j,
                      .cols = block(st->out, c->b, j)};
    spd__tile_shape_t sh = spd__stage_shape(S, si, 0, v.cols.n, c->memory, c->R, c_next);
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
  uint32_t size = spd__ceil_div(first->in, S->n_sources);
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
    if (spd__same_core(S, si, si + 1)) {
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
  /* A first-layer column's leader, tile (0, j), passes its tiles' credits
   * on, one packet to every source its rows (all of them) came from. */
  for (uint32_t j = 0; !err && si == 0 && c->R > 1 && j < c->C; j++) {
    for (uint32_t s = 0; s < S->n_sources; s++)
      B->targets[s] = B->first_source + s;
    err = spd__graph_add_partition(B->g, tile_index(p, c, 0, j), "credit", S->st[0].layer,
                                   (spd_range_t){0, 1}, 1, B->targets, S->n_sources);
  }
  for (uint32_t i = 0; !err && i < c->R; i++)
    for (uint32_t j = 0; !err && j < c->C; j++) {
      spd_range_t rows = block(S->st[si].in, c->a, i);
      uint32_t tile = tile_index(p, c, i, j);
      if (si == 0 && c->R > 1) {
        /* Through the column's leader: a source hears from C leaders
         * rather than R x C tiles finishing together (that incast filled
         * its router's inputs and dropped packets). The column's tiles
         * finish together, as they wait for the same dZ, and their
         * credits into the leader are staggered by its cost per packet
         * (spd__ds_phase_of). The column's reducer, whose packets set the
         * layer's pace, takes none of them: 18 credits a sample were
         * 4.7 % of the float MLP's reducer's work. */
        if (i)
          err = spd__graph_add_partition(B->g, tile, "credit", S->st[0].layer,
                                         (spd_range_t){0, 1}, 1, &(uint32_t){tile_index(p, c, 0, j)},
                                         1);
        continue;
      }
      if (si == 0) {
        uint32_t size = spd__ceil_div(S->st[0].in, S->n_sources);
        for (uint32_t s = 0; !err && s < S->n_sources; s++) {
          if (!intersect(rows, block(S->st[0].in, size, s)).n)
            continue;
          B->targets[0] = B->first_source + s;
          err = spd__graph_add_partition(B->g, tile, "credit", S->st[0].layer,
                                         (spd_range_t){0, 1}, 1, B->targets, 1);
        }
        continue;
      }
      if (spd__same_core(S, si, si - 1))
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
  uint32_t size = spd__ceil_div(S->st[0].in, S->n_sources);
  int err = 0;
  for (uint32_t s = 0; !err && s < S->n_sources; s++)
    err = add_split_by_rows(B, B->first_source + s, 0, block(S->st[0].in, size, s), "x");
  for (int si = 0; !err && si < S->n; si++)
    err = add_forward(B, si);
  for (int si = S->n - 1; !err && S->o->training && si >= 0; si--)
    err = add_backward(B, si);
  B->targets[0] = B->sink;
  if (!err)
    err = spd__graph_add_partition(B->g, B->loss, "record", S->st[S->n - 1].layer,
                                   (spd_range_t){0, S->st[S->n - 1].out + SPD_DS_RECORD_EXTRA}, 1,
                                   B->targets, 1);
  /* The sink credits the sources when a sample's record is whole, so no
   * slot is used again while the sink may still ask for a lost packet of
   * its record (kernels/resend.c); in inference that is the only credit. */
  for (uint32_t s = 0; s < S->n_sources; s++)
    B->targets[s] = B->first_source + s;
  if (!err && (SPD_RECOVERY || !S->o->training))
    err = spd__graph_add_partition(B->g, B->sink, "credit", S->st[S->n - 1].layer,
                                   (spd_range_t){0, 1}, 1, B->targets, S->n_sources);
  return err;
}

/* Per-layer summaries once periods are known. */
static void summarise(spd_machine_graph_t *g) {
  for (int si = 0; si < g->n_dense; si++) {
    spd_layer_tiling_t *t = &g->dense[si];
    uint32_t n = t->n_vertices ? t->n_vertices : 1; /* a shared core counts for each layer */
    for (uint32_t v = t->first_vertex; v < t->first_vertex + n; v++) {
      t->period_cycles = spd__max64(t->period_cycles, g->vertices[v].period_cycles);
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

int spd__partition_build(search_t *S, spd_machine_graph_t **out) {
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

