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

#include "map/machine_graph.h"
#include "map/partition_chain.h"
#include "map/partition_dense.h"
#include "map/tile_cost.h"
#include "nn/layer_op.h"

/* ------------------------------------------------------------ the model */

static spd_op_machine_t role_of(spd_layer_kind_t k) { return spd__layer_op(k)->machine; }

static bool pass_through(spd_layer_kind_t k) {
  return role_of(k) == SPD_OPM_PASS || role_of(k) == SPD_OPM_MASK;
}

/* Walk the chain input -> ... -> output, collecting Dense stages. */
static int collect_stages(spd_ctx_t *ctx, const spd_model_t *m, int first, stage_t *st,
                          int *n_out) {
  int n = 0;
  for (int i = first; i < m->n_layers; i++) {
    const spd_layer_t *l = &m->layers[i];
    if (l->n_inbound != 1 || l->inbound[0] != i - 1)
      return spd_ctx_fail(ctx, SPD_EUNSUPPORTED,
                          "layer '%s': the Dense partitioner maps chains of layers; this one "
                          "is not fed by the layer before it", l->config.name);
    spd_layer_kind_t k = l->config.kind;
    if (pass_through(k))
      continue;
    if (!spd__act_has_fixed_form(l->config.activation) &&
        (role_of(k) == SPD_OPM_DENSE || role_of(k) == SPD_OPM_FOLD_ACT))
      return spd_ctx_fail(ctx, SPD_EUNSUPPORTED, "layer '%s' (%s): the machine's kernels have "
                          "no %s yet (--backend reference runs it)", l->config.name,
                          spd_layer_kind_name(k), spd__act_display_name(l->config.activation));
    if ((role_of(k) == SPD_OPM_DENSE || role_of(k) == SPD_OPM_FOLD_ACT) &&
        !spd__act_alpha_fits(&l->config))
      return spd_ctx_fail(ctx, SPD_EUNSUPPORTED, "layer '%s' (%s): the machine's kernels take "
                          "a %s slope or alpha from 0 to below 2 (--backend reference runs it)",
                          l->config.name, spd_layer_kind_name(k),
                          spd_activation_name(l->config.activation));
    if (role_of(k) == SPD_OPM_DENSE && l->input_shape.rank > 1)
      return spd_ctx_fail(ctx, SPD_EUNSUPPORTED,
                          "layer '%s' (Dense): the machine maps Dense on rank-1 inputs only, "
                          "this one has rank %d (Dense on the last axis); add a Flatten "
                          "before it", l->config.name, l->input_shape.rank);
    if (role_of(k) == SPD_OPM_DENSE) {
      st[n++] = (stage_t){i, l->config.name, (uint32_t)spd_shape_size(&l->input_shape),
                          (uint32_t)l->config.units, l->config.activation, l->config.use_bias};
      continue;
    }
    if (role_of(k) == SPD_OPM_FOLD_ACT && n > 0 && st[n - 1].activation == SPD_ACT_LINEAR &&
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
    if (spd__ceil_div(n, spd__ceil_div(n, r)) == r)
      k[c++] = r;
  b->n = c;
  b->count = k;
  return 0;
}

spd__tile_shape_t spd__stage_shape(const search_t *S, int si, uint32_t rows, uint32_t cols,
                                   spd_tile_memory_t mem, uint32_t R, uint32_t c_next) {
  const stage_t *st = &S->st[si];
  return (spd__tile_shape_t){.rows = rows, .cols = cols, .memory = mem,
                             .activation = st->activation,
                             .first_layer = si == 0 && !S->dx_first,
                             .last_layer = si == S->n - 1, .row_blocks = R,
                             .dx_values = cols * (c_next ? c_next : 1), .bias = st->bias,
                             .dx_to_map = si == 0 && S->dx_first};
}

/* The period and memory of layer @p s cut R x C in @p mem, given the column
 * count of the next layer (@p c_next, 0 for the last layer). */
static void evaluate(const search_t *S, int si, uint32_t R, uint32_t C, spd_tile_memory_t mem,
                     uint32_t c_next, config_t *out) {
  const stage_t *st = &S->st[si];
  const spd_partition_opts_t *o = S->o;
  uint32_t a = spd__ceil_div(st->in, R), b = spd__ceil_div(st->out, C);
  spd__tile_shape_t sh = spd__stage_shape(S, si, a, b, mem, R, c_next);
  uint64_t link = spd__cost_link_cycles(), recv = spd__cost_recv_cycles();
  uint64_t words = spd__cost_psum_words(o->numeric);
  spd__vertex_cost_t t, r = {0};
  spd__cost_tile(o, &sh, R == 1, &t);
  /* Paced sends (spd__graph_pace): all packets at the link's rate, or each
   * partition spread over its receiver's time for that kind of packet. */
  uint64_t out_packets = R == 1 ? b : b * words, dx_packets = o->training && (si > 0 || S->dx_first) ? a * words : 0;
  uint64_t sends = spd__max64((out_packets + dx_packets) * link,
                         spd__max64(R == 1 ? 0 : out_packets * recv * R, dx_packets * recv * C));
  uint64_t period = spd__max64(spd__max64(t.busy, t.dma), sends);
  uint32_t dtcm = t.dtcm;
  if (R > 1) {
    spd__cost_reducer(o, &sh, &r);
    uint64_t rs = b * link * (o->training && !sh.last_layer ? 2 : 1);
    period = spd__max64(period, spd__max64(r.busy, rs));
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

/* The last memory mode the kernels run: streamed tiles do not train. */
static spd_tile_memory_t last_memory(const search_t *S) {
  return S->o->training ? SPD_TILE_SPLIT : SPD_TILE_STREAMED;
}

/* The cheapest cut of stage @p si within period @p T. */
static bool best_config(const search_t *S, int si, uint32_t c_next, uint64_t T, config_t *out) {
  bool have = false;
  config_t best = {0};
  const blocks_t *rb = &S->rows[si], *cb = &S->cols[si];
  for (int mem = SPD_TILE_RESIDENT; mem <= (int)last_memory(S); mem++)
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
  uint64_t period = spd__max64(spd__max64(c.busy, c.dma), (uint64_t)n * spd__cost_link_cycles());
  return period <= T && c.dtcm <= S->budget && c.sdram <= S->chip_sdram;
}

static uint32_t sources_for(const search_t *S, uint64_t T) {
  uint32_t in = S->st[0].in;
  for (uint32_t k = 1; k <= in && k <= S->cores; k++)
    if (spd__ceil_div(in, spd__ceil_div(in, k)) == k && source_ok(S, spd__ceil_div(in, k), T))
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
  char has[160];
  if (S->cores < spd_machine_app_cores(m))
    snprintf(has, sizeof has, "may use %" PRIu32 " (max_cores) of the %" PRIu32
             " of machine '%s'", S->cores, spd_machine_app_cores(m), m->name);
  else
    snprintf(has, sizeof has, "machine '%s' has %" PRIu32, m->name, S->cores);
  if (S->missing >= 0) {
    const stage_t *st = &S->st[S->missing];
    config_t c;
    evaluate(S, S->missing, S->rows[S->missing].count[S->rows[S->missing].n - 1],
             S->cols[S->missing].count[S->cols[S->missing].n - 1], last_memory(S), 0, &c);
    if (fits(S, &c)) /* its tiles fit a core only when there are more cores */
      return spd_ctx_fail(S->ctx, SPD_ENOFIT,
                          "model needs more application cores, but %s: layer '%s' (Dense "
                          "%" PRIu32 "x%" PRIu32 ") fits only in tiles of %" PRIu32 "x%" PRIu32
                          " (%" PRIu32 " cores, %s weights, %" PRIu32 " bytes of DTCM per core "
                          "of %" PRIu32 ")",
                          has, st->name, st->in, st->out, c.a, c.b, c.cores,
                          spd_tile_memory_name(c.memory), c.dtcm, S->budget);
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
                      "model needs at least %" PRIu32 " application cores but %s; layer '%s' "
                      "(Dense %" PRIu32 "x%" PRIu32 ", %" PRIu64 " weights) alone needs %" PRIu32
                      " cores (grid %" PRIu32 "x%" PRIu32 ", %s weights, %" PRIu32
                      " bytes of DTCM per core of %" PRIu32 ")",
                      S->total_cores, has, st->name, st->in, st->out, (uint64_t)st->in * st->out,
                      c->cores, c->R, c->C, spd_tile_memory_name(c->memory), c->dtcm, S->budget);
}

/* --------------------------------------------------------------- search */

static int choose(search_t *S) {
  spd__vertex_cost_t loss, sink;
  spd__cost_loss(S->o, S->st[S->n - 1].out, &loss);
  spd__cost_sink(S->o, S->st[S->n - 1].out, &sink);
  S->floor = spd__max64(spd__max64(spd__max64(loss.busy, sink.busy), 1), S->min_period);
  if (loss.dtcm > S->budget || sink.dtcm > S->budget)
    return spd_ctx_fail(S->ctx, SPD_ENOFIT, "the loss core of layer '%s' (%" PRIu32
                        " outputs) needs %" PRIu32 " bytes of DTCM, a core has %" PRIu32,
                        S->st[S->n - 1].name, S->st[S->n - 1].out,
                        loss.dtcm > sink.dtcm ? loss.dtcm : sink.dtcm, S->budget);
  if (!feasible(S, UINT64_MAX))
    return explain(S);
  uint64_t hi = S->floor;
  for (int si = 0; si < S->n; si++)
    hi = spd__max64(hi, S->cfg[si].period);
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
    T = spd__max64(T, S->cfg[si].period);
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
    best = spd__max64(best, m->chips[i].sdram_bytes);
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
  if ((err = collect_stages(S->ctx, model, S->first_layer, S->st, &n)))
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

/* The search and build for stages from model layer @p first on. */
static int run(spd_ctx_t *ctx, const spd_model_t *model, const spd_machine_t *machine,
               const spd_partition_opts_t *opts, int first, uint32_t cores, uint64_t min_period,
               spd_machine_graph_t **out) {
  int err = check_opts(ctx, opts);
  if (err)
    return err;
  uint32_t budget = spd_partition_dtcm_budget();
  search_t S = {.ctx = ctx, .o = opts, .m = machine,
                .budget = opts->dtcm_reserve < budget ? budget - opts->dtcm_reserve : 0,
                .chip_sdram = largest_chip_sdram(machine),
                .cores = spd_machine_app_cores(machine), .first_layer = first,
                .dx_first = first > 1 && opts->training, .min_period = min_period};
  if (opts->max_cores && opts->max_cores < S.cores)
    S.cores = opts->max_cores;
  if (cores < S.cores)
    S.cores = cores;
  /* A source, a tile, a loss and a sink core at the very least. */
  if (S.cores < 4)
    return spd_ctx_fail(ctx, SPD_ENOFIT, "machine '%s' offers %" PRIu32 " usable application cores; "
                        "a model needs at least 4 (source, tile, loss, sink)",
                        machine->name, S.cores);
  err = search_init(&S, model);
  if (!err)
    err = choose(&S);
  if (!err) {
    fuse_small(&S);
    err = spd__partition_build(&S, out);
  }
  search_free(&S);
  return err;
}

int spd__partition_args(spd_ctx_t *ctx, const spd_model_t *model, const spd_machine_t *machine,
                        const spd_partition_opts_t **opts, spd_partition_opts_t *defaults,
                        spd_machine_graph_t **out) {
  if (!*opts) {
    spd_partition_opts_default(defaults);
    *opts = defaults;
  }
  if (!model || !machine || !out)
    return spd_ctx_fail(ctx, SPD_EINVAL, "partition: model, machine and output are required");
  if (!model->built)
    return spd_ctx_fail(ctx, SPD_EINVAL, "model '%s' is not built", model->name);
  return spd__partition_chain_check(ctx, model);
}

static int dense_once(spd_ctx_t *ctx, const spd_model_t *model, const spd_machine_t *machine,
                      const spd_partition_opts_t *opts, spd_machine_graph_t **out) {
  return run(ctx, model, machine, opts, 1, UINT32_MAX, 0, out);
}

int spd_partition_dense(spd_ctx_t *ctx, const spd_model_t *model, const spd_machine_t *machine,
                        const spd_partition_opts_t *opts, spd_machine_graph_t **out) {
  spd_partition_opts_t defaults;
  int err = spd__partition_args(ctx, model, machine, &opts, &defaults, out);
  if (err)
    return err;
  return spd__partition_fit_tables(ctx, model, machine, opts, dense_once, out);
}

int spd__partition_dense_tail(spd_ctx_t *ctx, const spd_model_t *model, int first_layer,
                              const spd_machine_t *machine, const spd_partition_opts_t *opts,
                              uint32_t cores, uint64_t min_period, spd_machine_graph_t **out) {
  return run(ctx, model, machine, opts, first_layer, cores, min_period, out);
}
