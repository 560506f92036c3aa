/* The machine graph: names, options, growth, pacing and freeing. */
#include "map/machine_graph.h"

#include <stdio.h>
#include <string.h>

#include "base/recovery_switch.h"
#include "base/tile_mem.h"
#include "machine/cost_table.h"
#include "map/tile_cost.h"

/* DTCM kept back from the kernels for the spin1 runtime beyond the stacks:
 * its task queues (4 priorities x 16 slots, SPINNAKER.md #26), TX queue,
 * the data-specification header and the kernel's static data
 * (assumption; docs/dense-on-machine.md, "Memory per tile"). */
#define RUNTIME_DTCM_BYTES 4096u

static const char *const role_names[] = {
#define SPD_VERTEX_ROLE_NAME_(id, name) name,
    SPD_VERTEX_ROLES(SPD_VERTEX_ROLE_NAME_)
#undef SPD_VERTEX_ROLE_NAME_
};

const char *spd_vertex_role_name(spd_vertex_role_t role) {
  return (unsigned)role < SPD_ROLE_COUNT ? role_names[role] : "unknown";
}

const char *spd_tile_memory_name(spd_tile_memory_t m) {
  switch (m) {
  case SPD_TILE_RESIDENT:
    return "resident";
  case SPD_TILE_SPLIT:
    return "split";
  case SPD_TILE_STREAMED:
    return "streamed";
  }
  return "unknown";
}

uint32_t spd_partition_dtcm_budget(void) {
  return SPD_DTCM_BYTES - SPD_COST_DTCM_STACK_BYTES - RUNTIME_DTCM_BYTES;
}

void spd_partition_opts_default(spd_partition_opts_t *o) {
  *o = (spd_partition_opts_t){
      .numeric = SPD_NUMERIC_FIXED,
      .optimizer = SPD_OPT_ADAM,
      .training = true,
      .batch_size = 32,
      .slots = 4,
      .dataset_samples = 60000,
      .input_bytes = 1,
      .slack_percent = 10,
  };
}

int spd__graph_new(spd_ctx_t *ctx, const spd_partition_opts_t *opts, int n_dense,
                   spd_machine_graph_t **out) {
  spd_machine_graph_t *g = spd_calloc(ctx, 1, sizeof *g);
  if (!g)
    return SPD_ENOMEM;
  g->ctx = ctx;
  g->opts = *opts;
  g->n_dense = n_dense;
  g->dense = spd_calloc(ctx, (size_t)(n_dense ? n_dense : 1), sizeof *g->dense);
  if (!g->dense) {
    spd_free(ctx, g);
    return SPD_ENOMEM;
  }
  *out = g;
  return 0;
}

void spd_machine_graph_free(spd_machine_graph_t *g) {
  if (!g)
    return;
  for (uint32_t i = 0; i < g->n_partitions; i++)
    spd_free(g->ctx, g->partitions[i].targets);
  spd_free(g->ctx, g->partitions);
  spd_free(g->ctx, g->vertices);
  spd_free(g->ctx, g->dense);
  spd_free(g->ctx, g->conv);
  spd_free(g->ctx, g);
}

const spd_layer_tiling_t *spd_machine_graph_tiling(const spd_machine_graph_t *g, int layer) {
  for (int i = 0; i < g->n_dense; i++)
    if (g->dense[i].layer == layer)
      return &g->dense[i];
  return NULL;
}

const spd_conv_tiling_t *spd_machine_graph_conv_tiling(const spd_machine_graph_t *g, int layer) {
  for (int i = 0; i < g->n_conv; i++)
    if (g->conv[i].layer == layer)
      return &g->conv[i];
  return NULL;
}

void spd_vertex_describe(const spd_machine_graph_t *g, uint32_t v, char *buf, size_t size) {
  const spd_vertex_t *x = &g->vertices[v];
  if (x->role == SPD_ROLE_CONV || x->role == SPD_ROLE_POOL) {
    const spd_conv_tiling_t *c = spd_machine_graph_conv_tiling(g, x->layer);
    snprintf(buf, size, "vertex %u (%s (%u,%u) of layer '%s')", v,
             spd_vertex_role_name(x->role), x->grid_row, x->grid_col, c ? c->name : "?");
    return;
  }
  const spd_layer_tiling_t *t = spd_machine_graph_tiling(g, x->layer);
  const char *role = spd_vertex_role_name(x->role);
  if (x->role == SPD_ROLE_TILE)
    snprintf(buf, size, "vertex %u (%s (%u,%u) of layer '%s')", v, role, x->grid_row,
             x->grid_col, t ? t->name : "?");
  else if (x->n_layers > 1)
    snprintf(buf, size, "vertex %u (%s of layer '%s' and the next %d)", v, role,
             t ? t->name : "?", x->n_layers - 1);
  else if (x->role == SPD_ROLE_TILE_FULL || x->role == SPD_ROLE_REDUCER)
    snprintf(buf, size, "vertex %u (%s %u of layer '%s')", v, role, x->grid_col,
             t ? t->name : "?");
  else
    snprintf(buf, size, "vertex %u (%s)", v, role);
}

/* Make room for element n: capacities are 8, 16, 32, ..., so the array
 * grows exactly when n reaches one of them. */
static int grow(spd_ctx_t *ctx, void **array, uint32_t n, size_t elem) {
  if (n != 0 && (n < 8 || (n & (n - 1))))
    return 0;
  size_t cap = n ? (size_t)n * 2 : 8;
  void *p = spd_realloc(ctx, *array, cap * elem);
  if (!p)
    return SPD_ENOMEM;
  *array = p;
  return 0;
}

int spd__graph_add_vertex(spd_machine_graph_t *g, const spd_vertex_t *v, uint32_t *index) {
  int err = grow(g->ctx, (void **)&g->vertices, g->n_vertices, sizeof *v);
  if (err)
    return err;
  g->vertices[g->n_vertices] = *v;
  if (index)
    *index = g->n_vertices;
  g->n_vertices++;
  return 0;
}

static uint32_t bits_for(uint64_t n) {
  uint32_t b = 0;
  while (((uint64_t)1 << b) < n)
    b++;
  return b;
}

int spd__graph_add_partition(spd_machine_graph_t *g, uint32_t source, const char *name, int layer,
                             spd_range_t values, uint32_t words, const uint32_t *targets,
                             uint32_t n_targets) {
  uint32_t *t = spd_malloc(g->ctx, sizeof *t * (n_targets ? n_targets : 1));
  if (!t)
    return SPD_ENOMEM;
  int err = grow(g->ctx, (void **)&g->partitions, g->n_partitions, sizeof *g->partitions);
  if (err) {
    spd_free(g->ctx, t);
    return err;
  }
  memcpy(t, targets, sizeof *t * n_targets);
  spd_partition_t *p = &g->partitions[g->n_partitions++];
  *p = (spd_partition_t){.source = source, .layer = layer, .values = values, .words = words,
                         .n_targets = n_targets, .targets = t};
  snprintf(p->name, sizeof p->name, "%s", name);
  p->value_bits = bits_for((uint64_t)values.n * words);
  /* The slot and its round (kernels/kernel_common.h: duplicates). */
  p->n_keys = 2u * g->opts.slots << p->value_bits;
  return 0;
}

/* Kinds of traffic: pacing shares a receiver among the senders of one kind,
 * which arrive in the same phase of a sample. */
static const char *const pace_names[] = {"x",      "psum",   "y",     "dz",  "dxpsum",
                                         "record", "credit", "dwsum", "wupd"};
#define N_PACE_NAMES (sizeof pace_names / sizeof pace_names[0])

static uint32_t name_index(const char *name) {
  for (uint32_t k = 0; k < N_PACE_NAMES; k++)
    if (!strcmp(name, pace_names[k]))
      return k;
  return 0;
}

static uint64_t packets(const spd_partition_t *p) { return (uint64_t)p->values.n * p->words; }

typedef struct spd_graph_pace_ctx {
  uint64_t batch;
} spd_graph_pace_ctx_t;

/* Packets per sample: a per-batch partition's burst spread over the batch. */
static uint64_t per_sample(const spd_graph_pace_ctx_t *c, const spd_partition_t *p, uint64_t n) {
  return p->per_batch ? (n + c->batch - 1) / c->batch : n;
}

/* Each sender spreads its packets over the time the receiver needs for all
 * packets of that kind (recv[t][kind] handling cycles), so concurrent
 * senders together never outrun it; no sender goes faster than it can send
 * or than a link carries a 72-bit packet (SPINNAKER.md #18). A vertex's
 * sends take the longer of all its packets at that fastest rate and its
 * slowest paced partition. */
int spd__graph_pace(spd_machine_graph_t *g, const uint64_t *dma_cycles) {
  size_t n = (size_t)(g->n_vertices ? g->n_vertices : 1);
  uint64_t *recv = spd_calloc(g->ctx, n * N_PACE_NAMES, sizeof *recv);
  uint64_t *fast = spd_calloc(g->ctx, n, sizeof *fast);
  uint64_t *slow = spd_calloc(g->ctx, n, sizeof *slow);
  if (!recv || !fast || !slow) {
    spd_free(g->ctx, recv);
    spd_free(g->ctx, fast);
    spd_free(g->ctx, slow);
    return SPD_ENOMEM;
  }
  spd_graph_pace_ctx_t pc = {g->opts.batch_size ? g->opts.batch_size : 1};
  uint64_t base = spd__cost_send_cycles();
  base = base > spd__cost_link_cycles() ? base : spd__cost_link_cycles();
  for (uint32_t i = 0; i < g->n_partitions; i++)
    for (uint32_t t = 0; t < g->partitions[i].n_targets; t++)
      recv[(size_t)g->partitions[i].targets[t] * N_PACE_NAMES + name_index(g->partitions[i].name)] +=
          packets(&g->partitions[i]) * spd__cost_recv_cycles();
  for (uint32_t i = 0; i < g->n_partitions; i++) {
    spd_partition_t *p = &g->partitions[i];
    uint64_t pace = base, k = name_index(p->name);
    for (uint32_t t = 0; t < p->n_targets; t++) {
      uint64_t r = (recv[(size_t)p->targets[t] * N_PACE_NAMES + k] + packets(p) - 1) / packets(p);
      pace = r > pace ? r : pace;
    }
    p->pace_cycles = pace > UINT32_MAX ? UINT32_MAX : (uint32_t)pace;
    fast[p->source] += per_sample(&pc, p, packets(p) * base);
    if (per_sample(&pc, p, packets(p) * pace) > slow[p->source])
      slow[p->source] = per_sample(&pc, p, packets(p) * pace);
  }
  g->period_cycles = 0;
  for (uint32_t v = 0; v < g->n_vertices; v++) {
    spd_vertex_t *x = &g->vertices[v];
    uint64_t t = x->cycles_per_sample;
    t = dma_cycles[v] > t ? dma_cycles[v] : t;
    t = fast[v] > t ? fast[v] : t;
    x->period_cycles = slow[v] > t ? slow[v] : t;
    if (x->period_cycles > g->period_cycles)
      g->period_cycles = x->period_cycles;
  }
  spd_free(g->ctx, recv);
  spd_free(g->ctx, fast);
  spd_free(g->ctx, slow);
  return 0;
}

uint32_t spd__graph_add_tables(spd_machine_graph_t *g, uint32_t budget, uint32_t *over_tables) {
  uint32_t worst = 0;
  *over_tables = 0;
  for (uint32_t v = 0; v < g->n_vertices; v++) {
    uint32_t n_in = 0, n_out = 0, n_data = 0;
    uint64_t packets_in = 0, held_in = 0, values[N_PACE_NAMES] = {0};
    uint32_t parts[N_PACE_NAMES] = {0};
    spd__graph_tables(g, v, &n_in, &n_out);
    for (uint32_t p = 0; p < g->n_partitions; p++)
      for (uint32_t t = 0; t < g->partitions[p].n_targets; t++)
        if (g->partitions[p].targets[t] == v && strcmp(g->partitions[p].name, "nack")) {
          uint64_t n = (uint64_t)g->partitions[p].values.n * g->partitions[p].words;
          packets_in += n;
          values[name_index(g->partitions[p].name)] += n;
          parts[name_index(g->partitions[p].name)]++;
          n_data += strcmp(g->partitions[p].name, "credit") != 0;
        }
    /* Float partial sums a kernel holds (spd_kc_held): the exact bytes
     * replace the search's estimate. They are the vertex's own, not a
     * table every core keeps, so they stay out of the reserve. */
    uint64_t held_batch = 0;
    for (uint32_t k = 0; g->opts.numeric == SPD_NUMERIC_FLOAT && k < N_PACE_NAMES; k++)
      if (spd_kc_held(k, parts[k]) && k == SPD_DS_KIND_DWSUM)
        held_batch += values[k];
      else if (spd_kc_held(k, parts[k]))
        held_in += values[k];
    uint64_t t = spd_kc_init_dtcm(n_in, n_data, n_out, g->opts.slots, packets_in, 0, 0);
    uint64_t held =
        spd_kc_init_dtcm(n_in, n_data, n_out, g->opts.slots, packets_in, held_in, held_batch) - t;
    spd_vertex_t *x = &g->vertices[v];
    uint64_t d = (uint64_t)x->dtcm_bytes - (x->held_bytes < x->dtcm_bytes ? x->held_bytes : 0) +
                 held + t;
    x->dtcm_bytes = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
    x->held_bytes = (uint32_t)held;
    if (d > budget && t > *over_tables)
      *over_tables = (uint32_t)t;
    worst = g->vertices[v].dtcm_bytes > worst ? g->vertices[v].dtcm_bytes : worst;
  }
  return worst;
}

int spd__graph_add_nacks(spd_machine_graph_t *g) {
  if (!SPD_RECOVERY)
    return 0;
  uint32_t V = g->n_vertices, P = g->n_partitions;
  uint32_t *senders = spd_calloc(g->ctx, V ? V : 1, sizeof *senders);
  uint8_t *seen = spd_calloc(g->ctx, V ? V : 1, 1);
  int err = senders && seen ? 0 : SPD_ENOMEM;
  for (uint32_t v = 0; !err && v < V; v++) {
    uint32_t n = 0;
    for (uint32_t p = 0; p < P; p++) {
      const spd_partition_t *part = &g->partitions[p];
      for (uint32_t t = 0; t < part->n_targets; t++)
        if (part->targets[t] == v && part->source != v && !seen[part->source]) {
          seen[part->source] = 1;
          senders[n++] = part->source;
        }
    }
    for (uint32_t i = 0; i < n; i++)
      seen[senders[i]] = 0;
    if (!n)
      continue;
    err = spd__graph_add_partition(g, v, "nack", 0, (spd_range_t){0, 1}, 1, senders, n);
    if (!err)
      g->partitions[g->n_partitions - 1].pace_cycles = (uint32_t)spd__cost_link_cycles();
  }
  spd_free(g->ctx, senders);
  spd_free(g->ctx, seen);
  return err;
}

int spd__partition_fit_tables(spd_ctx_t *ctx, const spd_model_t *model,
                              const spd_machine_t *machine, const spd_partition_opts_t *opts,
                              spd__partition_fn once, spd_machine_graph_t **out) {
  spd_partition_opts_t o = *opts;
  uint32_t budget = spd_partition_dtcm_budget();
  for (int round = 0;; round++) {
    spd_machine_graph_t *g = NULL;
    int err = once(ctx, model, machine, &o, &g);
    if (!err && (err = spd__graph_add_nacks(g)))
      spd_machine_graph_free(g);
    if (err)
      return err;
    uint32_t tables, worst = spd__graph_add_tables(g, budget, &tables);
    if (worst <= budget) {
      *out = g;
      return 0;
    }
    if (round == 3) { /* a plan the kernels could not meet: refuse it here */
      uint32_t v = 0;
      while (v + 1 < g->n_vertices && g->vertices[v].dtcm_bytes != worst)
        v++;
      char who[96];
      spd_vertex_describe(g, v, who, sizeof who);
      spd_machine_graph_free(g);
      return spd_ctx_fail(ctx, SPD_ENOFIT, "%s needs %u bytes of DTCM with its partition "
                          "tables, a core has %u; fewer samples in flight (--in-flight) or "
                          "more cores would make room", who, worst, budget);
    }
    /* The search did not count the tables of the cores that overflowed:
     * keep that much back (more if it was kept back already). */
    uint32_t more = o.dtcm_reserve + (worst - budget);
    o.dtcm_reserve = tables > more ? tables : more;
    spd_machine_graph_free(g);
  }
}

void spd__graph_tables(const spd_machine_graph_t *g, uint32_t v, uint32_t *n_in, uint32_t *n_out) {
  *n_in = *n_out = 0;
  for (uint32_t p = 0; p < g->n_partitions; p++) {
    const spd_partition_t *part = &g->partitions[p];
    *n_out += part->source == v;
    for (uint32_t t = 0; t < part->n_targets; t++)
      *n_in += part->targets[t] == v;
  }
}
