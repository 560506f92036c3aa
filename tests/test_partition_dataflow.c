/* The machine graph as a program: run a fixed-point forward and backward
 * pass by moving values only along the graph's partitions (what the packets
 * will carry) and computing each tile's block with the kernels' arithmetic
 * (base/fx_dense.h). A 784x1024 layer split over many tiles and chips must
 * give exactly the unsplit sums: forward partial sums reduced per column
 * block, dX partial sums reduced per input block, dW per tile. */
#include "test_support.h"

#include <stdlib.h>
#include <string.h>

#include "base/fx_dense.h"
#include "spindle/machine.h"
#include "spindle/model.h"
#include "spindle/partition.h"

#define MAX_LAYERS 4

typedef struct net {
  int n;
  uint32_t in[MAX_LAYERS], out[MAX_LAYERS];
  int16_t *w[MAX_LAYERS];          /* in x out, row-major */
} net_t;

/* Per vertex: the values it has received and what it computed. */
typedef struct state {
  int16_t *x;                      /* tile: its input rows */
  uint8_t *x_seen;
  int16_t *dz;                     /* tile: its dZ columns */
  int64_t *acc;                    /* tile: forward partial sums; producer: sums */
  int64_t *dx;                     /* tile: dX partial sums; producer: dX sums */
} state_t;

static uint32_t lcg(uint32_t *s) {
  *s = *s * 1664525u + 1013904223u;
  return *s >> 8;
}

static int16_t small(uint32_t *s) { return (int16_t)((int32_t)(lcg(s) % 4001u) - 2000); }

/* The next tensor from a full sum: the same rounding for both paths. */
static int16_t narrow(int64_t v) {
  int64_t r = v >> 14;
  return (int16_t)(r > 32767 ? 32767 : r < -32768 ? -32768 : r);
}

static spd_model_t *chain_model(spd_ctx_t *ctx, const net_t *nt) {
  spd_model_t *m = NULL;
  assert_int_equal(spd_model_new(ctx, "flow", &m), 0);
  spd_layer_config_t cfg;
  spd_layer_config_defaults(&cfg, SPD_LAYER_INPUT, "input");
  cfg.input_shape = (spd_shape_t){1, {(int32_t)nt->in[0]}};
  assert_int_equal(spd_model_add(m, &cfg, NULL, 0, NULL), 0);
  for (int i = 0; i < nt->n; i++) {
    static const char *const names[MAX_LAYERS] = {"wide", "middle", "out", "extra"};
    spd_layer_config_defaults(&cfg, SPD_LAYER_DENSE, names[i]);
    cfg.units = (int32_t)nt->out[i];
    int prev = i;
    assert_int_equal(spd_model_add(m, &cfg, &prev, 1, NULL), 0);
  }
  /* Shapes only: the partitioner reads no parameter. */
  for (int i = 0; i <= nt->n; i++) {
    m->layers[i].input_shape = (spd_shape_t){1, {(int32_t)(i ? nt->in[i - 1] : nt->in[0])}};
    m->layers[i].output_shape = (spd_shape_t){1, {(int32_t)(i ? nt->out[i - 1] : nt->in[0])}};
  }
  m->built = true;
  return m;
}

static int stage_of(const spd_machine_graph_t *g, int layer) {
  for (int d = 0; d < g->n_dense; d++)
    if (g->dense[d].layer == layer)
      return d;
  return -1;
}

static bool is_tile(const spd_vertex_t *v) {
  return v->role == SPD_ROLE_TILE || v->role == SPD_ROLE_TILE_FULL;
}

static bool is_producer(const spd_vertex_t *v) {
  return v->role == SPD_ROLE_REDUCER || v->role == SPD_ROLE_TILE_FULL;
}

static void alloc_states(const spd_machine_graph_t *g, state_t *st) {
  for (uint32_t v = 0; v < g->n_vertices; v++) {
    const spd_vertex_t *x = &g->vertices[v];
    st[v].x = calloc(x->rows.n + 1, sizeof(int16_t));
    st[v].x_seen = calloc(x->rows.n + 1, 1);
    st[v].dz = calloc(x->cols.n + 1, sizeof(int16_t));
    st[v].acc = calloc(x->cols.n + 1, sizeof(int64_t));
    st[v].dx = calloc((x->rows.n > x->cols.n ? x->rows.n : x->cols.n) + 1, sizeof(int64_t));
  }
}

static void free_states(const spd_machine_graph_t *g, state_t *st) {
  for (uint32_t v = 0; v < g->n_vertices; v++) {
    free(st[v].x);
    free(st[v].x_seen);
    free(st[v].dz);
    free(st[v].acc);
    free(st[v].dx);
  }
}

/* Deliver the input tensor of stage d (kind "x" or "y") to its tiles, after
 * checking each sender owns the values it sends. */
static void deliver_inputs(const spd_machine_graph_t *g, state_t *st, int d, const int16_t *in) {
  for (uint32_t i = 0; i < g->n_partitions; i++) {
    const spd_partition_t *p = &g->partitions[i];
    const spd_vertex_t *src = &g->vertices[p->source];
    bool ours = d == 0 ? !strcmp(p->name, "x") : !strcmp(p->name, "y") && is_tile(&g->vertices[p->targets[0]]) &&
                                                     stage_of(g, g->vertices[p->targets[0]].layer) == d;
    if (!ours)
      continue;
    spd_range_t own = src->role == SPD_ROLE_SOURCE ? src->rows : src->cols;
    assert_true(p->values.lo >= own.lo && p->values.lo + p->values.n <= own.lo + own.n);
    for (uint32_t t = 0; t < p->n_targets; t++) {
      state_t *s = &st[p->targets[t]];
      const spd_vertex_t *x = &g->vertices[p->targets[t]];
      for (uint32_t k = 0; k < p->values.n; k++) {
        uint32_t r = p->values.lo + k - x->rows.lo;
        s->x[r] = in[p->values.lo + k];
        s->x_seen[r]++;
      }
    }
  }
}

/* Forward of stage d through the graph: returns the full sums per output. */
static void forward(const spd_machine_graph_t *g, state_t *st, const net_t *nt, int d,
                    const int16_t *in, int64_t *sums) {
  const spd_layer_tiling_t *t = &g->dense[d];
  deliver_inputs(g, st, d, in);
  for (uint32_t v = t->first_vertex; v < t->first_vertex + t->n_vertices; v++) {
    const spd_vertex_t *x = &g->vertices[v];
    if (!is_tile(x))
      continue;
    for (uint32_t r = 0; r < x->rows.n; r++)
      assert_int_equal(st[v].x_seen[r], 1);
    memset(st[v].acc, 0, sizeof(int64_t) * x->cols.n);
    spd_fx_dense_forward_block(st[v].acc, st[v].x, nt->w[d] + (size_t)x->rows.lo * t->out + x->cols.lo,
                               (int)x->rows.n, (int)x->cols.n, (int)t->out);
  }
  for (uint32_t v = t->first_vertex; v < t->first_vertex + t->n_vertices; v++)
    if (g->vertices[v].role == SPD_ROLE_REDUCER)
      memset(st[v].acc, 0, sizeof(int64_t) * g->vertices[v].cols.n);
  for (uint32_t i = 0; i < g->n_partitions; i++) {
    const spd_partition_t *p = &g->partitions[i];
    if (strcmp(p->name, "psum") || stage_of(g, g->vertices[p->source].layer) != d)
      continue;
    const spd_vertex_t *r = &g->vertices[p->targets[0]];
    for (uint32_t k = 0; k < p->values.n; k++)
      st[p->targets[0]].acc[p->values.lo + k - r->cols.lo] += st[p->source].acc[k];
  }
  uint8_t *seen = calloc(t->out, 1);
  for (uint32_t v = t->first_vertex; v < t->first_vertex + t->n_vertices; v++) {
    const spd_vertex_t *x = &g->vertices[v];
    if (!is_producer(x))
      continue;
    for (uint32_t c = 0; c < x->cols.n; c++) {
      sums[x->cols.lo + c] = st[v].acc[c];
      seen[x->cols.lo + c]++;
    }
  }
  for (uint32_t c = 0; c < t->out; c++)
    assert_int_equal(seen[c], 1);
  free(seen);
}

/* Backward of stage d: dZ (full, of its outputs) to the tiles along "dz"
 * partitions (full tiles take theirs from the sums they reduced), dX
 * partial sums along "dxpsum" to the producers of stage d-1; returns the
 * full dX sums. Also checks each tile's dW block against @p gw_ref. */
static void backward(const spd_machine_graph_t *g, state_t *st, const net_t *nt, int d,
                     const int16_t *dz, int64_t *dx_sums, const int64_t *gw_ref) {
  const spd_layer_tiling_t *t = &g->dense[d];
  for (uint32_t v = t->first_vertex; v < t->first_vertex + t->n_vertices; v++)
    if (is_tile(&g->vertices[v]))
      memset(st[v].dz, 0x7f, sizeof(int16_t) * g->vertices[v].cols.n);
  for (uint32_t i = 0; i < g->n_partitions; i++) {
    const spd_partition_t *p = &g->partitions[i];
    if (strcmp(p->name, "dz"))
      continue;
    for (uint32_t tg = 0; tg < p->n_targets; tg++) {
      const spd_vertex_t *x = &g->vertices[p->targets[tg]];
      if (!is_tile(x) || stage_of(g, x->layer) != d)
        continue;
      for (uint32_t k = 0; k < p->values.n; k++)
        st[p->targets[tg]].dz[p->values.lo + k - x->cols.lo] = dz[p->values.lo + k];
    }
  }
  for (uint32_t v = t->first_vertex; v < t->first_vertex + t->n_vertices; v++) {
    const spd_vertex_t *x = &g->vertices[v];
    if (!is_tile(x))
      continue;
    if (x->role == SPD_ROLE_TILE_FULL && d + 1 < g->n_dense)
      memcpy(st[v].dz, dz + x->cols.lo, sizeof(int16_t) * x->cols.n); /* its own */
    for (uint32_t c = 0; c < x->cols.n; c++)
      assert_int_equal(st[v].dz[c], dz[x->cols.lo + c]);
    const int16_t *wb = nt->w[d] + (size_t)x->rows.lo * t->out + x->cols.lo;
    memset(st[v].dx, 0, sizeof(int64_t) * x->rows.n);
    spd_fx_dense_backward_input_block(st[v].dx, st[v].dz, wb, (int)x->rows.n, (int)x->cols.n,
                                      (int)t->out);
    int64_t *gw = calloc((size_t)x->rows.n * x->cols.n, sizeof *gw);
    spd_fx_dense_grad_block(gw, st[v].x, st[v].dz, (int)x->rows.n, (int)x->cols.n, (int)x->cols.n);
    for (uint32_t r = 0; r < x->rows.n; r++)
      for (uint32_t c = 0; c < x->cols.n; c++)
        assert_true(gw[(size_t)r * x->cols.n + c] ==
                    gw_ref[(size_t)(x->rows.lo + r) * t->out + x->cols.lo + c]);
    free(gw);
  }
  if (d == 0)
    return;
  const spd_layer_tiling_t *below = &g->dense[d - 1];
  for (uint32_t v = below->first_vertex; v < below->first_vertex + below->n_vertices; v++)
    if (is_producer(&g->vertices[v]))
      memset(st[v].dx, 0, sizeof(int64_t) * g->vertices[v].cols.n);
  for (uint32_t i = 0; i < g->n_partitions; i++) {
    const spd_partition_t *p = &g->partitions[i];
    if (strcmp(p->name, "dxpsum") || stage_of(g, g->vertices[p->source].layer) != d)
      continue;
    const spd_vertex_t *src = &g->vertices[p->source], *dst = &g->vertices[p->targets[0]];
    for (uint32_t k = 0; k < p->values.n; k++)
      st[p->targets[0]].dx[p->values.lo + k - dst->cols.lo] +=
          st[p->source].dx[p->values.lo + k - src->rows.lo];
  }
  for (uint32_t v = below->first_vertex; v < below->first_vertex + below->n_vertices; v++) {
    const spd_vertex_t *x = &g->vertices[v];
    if (is_producer(x))
      for (uint32_t c = 0; c < x->cols.n; c++)
        dx_sums[x->cols.lo + c] = st[v].dx[c];
  }
}

static void run_split_equals_unsplit(const char *machine_name, spd_numeric_t numeric) {
  net_t nt = {3, {784, 1024, 64}, {1024, 64, 10}, {NULL}};
  uint32_t seed = 12345;
  for (int d = 0; d < nt.n; d++) {
    nt.w[d] = malloc(sizeof(int16_t) * nt.in[d] * nt.out[d]);
    for (size_t i = 0; i < (size_t)nt.in[d] * nt.out[d]; i++)
      nt.w[d][i] = small(&seed);
  }
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = chain_model(&ctx, &nt);
  spd_machine_t *mc = NULL;
  assert_int_equal(spd_machine_new(&ctx, machine_name, &mc), 0);
  spd_partition_opts_t o;
  spd_partition_opts_default(&o);
  o.numeric = numeric;
  spd_machine_graph_t *g = NULL;
  if (spd_partition_dense(&ctx, m, mc, &o, &g))
    fail_msg("%s", spd_ctx_message(&ctx));
  assert_true(g->dense[0].n_vertices > SPD_CORES_PER_CHIP); /* spans chips */
  state_t *st = calloc(g->n_vertices, sizeof *st);
  alloc_states(g, st);

  int16_t *act[MAX_LAYERS + 1];
  act[0] = malloc(sizeof(int16_t) * nt.in[0]);
  for (uint32_t i = 0; i < nt.in[0]; i++)
    act[0][i] = (int16_t)(lcg(&seed) % 16385u);
  for (int d = 0; d < nt.n; d++) {
    int64_t *sums = calloc(nt.out[d], sizeof *sums), *ref = calloc(nt.out[d], sizeof *ref);
    forward(g, st, &nt, d, act[d], sums);
    spd_fx_dense_forward_block(ref, act[d], nt.w[d], (int)nt.in[d], (int)nt.out[d], (int)nt.out[d]);
    assert_memory_equal(sums, ref, sizeof *sums * nt.out[d]);
    act[d + 1] = malloc(sizeof(int16_t) * nt.out[d]);
    for (uint32_t c = 0; c < nt.out[d]; c++)
      act[d + 1][c] = narrow(ref[c]);
    free(sums);
    free(ref);
  }
  int16_t *dz = malloc(sizeof(int16_t) * nt.out[nt.n - 1]);
  for (uint32_t c = 0; c < nt.out[nt.n - 1]; c++)
    dz[c] = small(&seed);
  for (int d = nt.n - 1; d >= 0; d--) {
    int64_t *gw_ref = calloc((size_t)nt.in[d] * nt.out[d], sizeof *gw_ref);
    spd_fx_dense_grad_block(gw_ref, act[d], dz, (int)nt.in[d], (int)nt.out[d], (int)nt.out[d]);
    int64_t *dx = calloc(nt.in[d], sizeof *dx), *ref = calloc(nt.in[d], sizeof *ref);
    backward(g, st, &nt, d, dz, dx, gw_ref);
    if (d > 0) {
      spd_fx_dense_backward_input_block(ref, dz, nt.w[d], (int)nt.in[d], (int)nt.out[d],
                                        (int)nt.out[d]);
      assert_memory_equal(dx, ref, sizeof *dx * nt.in[d]);
      free(dz);
      dz = malloc(sizeof(int16_t) * nt.in[d]);
      for (uint32_t r = 0; r < nt.in[d]; r++)
        dz[r] = narrow(ref[r]);
    }
    free(gw_ref);
    free(dx);
    free(ref);
  }
  free(dz);
  for (int d = 0; d <= nt.n; d++)
    free(act[d]);
  free_states(g, st);
  free(st);
  spd_machine_graph_free(g);
  spd_machine_free(mc);
  spd_model_free(m);
  for (int d = 0; d < nt.n; d++)
    free(nt.w[d]);
}

static void split_equals_unsplit_spinn5(void **state) {
  (void)state;
  run_split_equals_unsplit("spinn5", SPD_NUMERIC_FIXED);
}

static void split_equals_unsplit_spinn3(void **state) {
  (void)state;
  run_split_equals_unsplit("spinn3", SPD_NUMERIC_FIXED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(split_equals_unsplit_spinn5),
      cmocka_unit_test(split_equals_unsplit_spinn3),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
