/* map/ partitioner: tile grids that fit DTCM and cover W exactly once, the
 * graph's partitions, failures that name the layer, allocation failures. */
#include "test_models.h"
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spindle/machine.h"
#include "spindle/model.h"
#include "spindle/partition.h"

static spd_layer_config_t layer(spd_layer_kind_t kind, const char *name) {
  spd_layer_config_t cfg;
  spd_layer_config_defaults(&cfg, kind, name);
  return cfg;
}

/* A chain InputLayer(in) -> Dense(units[0]) -> ... with relu hidden layers
 * and a softmax output. With @p build false the shapes are set by hand and
 * no parameter is allocated (the partitioner reads shapes only), so layers
 * too large to allocate on the test host can be mapped. */
static spd_model_t *chain(spd_ctx_t *ctx, int32_t in, const int32_t *units, int n, bool build) {
  if (build)
    return spd_test_dense_chain(ctx, "chain", in, units, n, 7);
  spd_model_t *m = spd_test_dense_chain_unbuilt(ctx, "chain", in, units, n);
  for (int i = 0; i < m->n_layers; i++) {
    spd_layer_t *l = &m->layers[i];
    l->input_shape = (spd_shape_t){1, {i == 0 ? in : i == 1 ? in : units[i - 2]}};
    l->output_shape = (spd_shape_t){1, {i == 0 ? in : units[i - 1]}};
  }
  m->built = true;
  return m;
}

/* Every Dense weight is in exactly one tile; reducers cover every column
 * once; tiles have the layer's grid. */
static void assert_covers_once(const spd_machine_graph_t *g) {
  for (int d = 0; d < g->n_dense; d++) {
    const spd_layer_tiling_t *t = &g->dense[d];
    uint8_t *seen = calloc((size_t)t->in * t->out, 1);
    uint8_t *col = calloc(t->out, 1);
    assert_non_null(seen);
    assert_non_null(col);
    uint32_t tiles = 0;
    for (uint32_t v = t->first_vertex; v < t->first_vertex + t->n_vertices; v++) {
      const spd_vertex_t *x = &g->vertices[v];
      assert_int_equal(x->layer, t->layer);
      if (x->role == SPD_ROLE_REDUCER) {
        for (uint32_t c = x->cols.lo; c < x->cols.lo + x->cols.n; c++)
          col[c]++;
        continue;
      }
      tiles++;
      assert_true(x->rows.lo + x->rows.n <= t->in && x->cols.lo + x->cols.n <= t->out);
      for (uint32_t r = x->rows.lo; r < x->rows.lo + x->rows.n; r++)
        for (uint32_t c = x->cols.lo; c < x->cols.lo + x->cols.n; c++)
          seen[(size_t)r * t->out + c]++;
      if (x->role == SPD_ROLE_TILE_FULL)
        for (uint32_t c = x->cols.lo; c < x->cols.lo + x->cols.n; c++)
          col[c]++;
    }
    assert_int_equal(tiles, (uint32_t)t->grid_rows * t->grid_cols);
    for (size_t i = 0; i < (size_t)t->in * t->out; i++)
      if (seen[i] != 1)
        fail_msg("layer %d weight (%zu,%zu) is in %d tiles", t->layer, i / t->out, i % t->out,
                 seen[i]);
    for (uint32_t c = 0; c < t->out; c++)
      assert_int_equal(col[c], 1);
    free(seen);
    free(col);
  }
}

/* Every vertex fits the DTCM budget; partitions are well formed. */
static void assert_graph_sane(const spd_machine_graph_t *g) {
  uint32_t budget = spd_partition_dtcm_budget();
  assert_true(budget <= SPD_DTCM_BYTES - 2048);
  for (uint32_t v = 0; v < g->n_vertices; v++) {
    if (g->vertices[v].dtcm_bytes > budget)
      fail_msg("vertex %u (%s) needs %u bytes of DTCM, budget %u", v,
               spd_vertex_role_name(g->vertices[v].role), g->vertices[v].dtcm_bytes, budget);
    assert_true(g->vertices[v].period_cycles >= g->vertices[v].cycles_per_sample);
    assert_true(g->vertices[v].period_cycles <= g->period_cycles);
  }
  for (uint32_t i = 0; i < g->n_partitions; i++) {
    const spd_partition_t *p = &g->partitions[i];
    assert_true(p->source < g->n_vertices);
    assert_true(p->n_targets >= 1);
    assert_true(p->values.n >= 1);
    assert_true(((uint64_t)1 << p->value_bits) >= (uint64_t)p->values.n * p->words);
    /* The slot and its round (kernel_common.h, duplicates). */
    assert_int_equal(p->n_keys, 2u * g->opts.slots << p->value_bits);
    assert_true(p->pace_cycles > 0);
    for (uint32_t t = 0; t < p->n_targets; t++) {
      assert_true(p->targets[t] < g->n_vertices);
      assert_int_not_equal(p->targets[t], p->source);
    }
  }
}

/* Times each value of @p want is carried by partitions named @p name that
 * target vertex @p v; every value must be carried exactly @p times times. */
static void assert_receives(const spd_machine_graph_t *g, uint32_t v, const char *name,
                            spd_range_t want, uint32_t times) {
  uint32_t *count = calloc(want.n ? want.n : 1, sizeof *count);
  assert_non_null(count);
  for (uint32_t i = 0; i < g->n_partitions; i++) {
    const spd_partition_t *p = &g->partitions[i];
    if (strcmp(p->name, name))
      continue;
    for (uint32_t t = 0; t < p->n_targets; t++) {
      if (p->targets[t] != v)
        continue;
      assert_true(p->values.lo >= want.lo && p->values.lo + p->values.n <= want.lo + want.n);
      for (uint32_t k = 0; k < p->values.n; k++)
        count[p->values.lo - want.lo + k]++;
    }
  }
  for (uint32_t k = 0; k < want.n; k++)
    if (count[k] != times)
      fail_msg("vertex %u gets value %u of '%s' %u times, not %u", v, want.lo + k, name,
               count[k], times);
  free(count);
}

/* Every vertex receives exactly the values its role needs: tiles their
 * input rows once (forward) and their dZ columns once (backward); reducers
 * one partial sum per row block; producers one dX partial sum per column
 * block of the next layer; the loss every output once; the sink a record. */
static void assert_dataflow_complete(const spd_machine_graph_t *g) {
  for (int d = 0; d < g->n_dense; d++) {
    const spd_layer_tiling_t *t = &g->dense[d];
    for (uint32_t v = t->first_vertex; v < t->first_vertex + t->n_vertices; v++) {
      const spd_vertex_t *x = &g->vertices[v];
      int dl = d + x->n_layers - 1; /* the last layer this core holds */
      bool last = dl == g->n_dense - 1;
      bool producer = x->role == SPD_ROLE_REDUCER || x->role == SPD_ROLE_TILE_FULL;
      if (x->role != SPD_ROLE_REDUCER) {
        assert_receives(g, v, d == 0 ? "x" : "y", x->rows, 1);
        assert_receives(g, v, "dz", x->cols, x->role == SPD_ROLE_TILE || last ? 1 : 0);
      }
      if (x->role == SPD_ROLE_REDUCER) {
        assert_receives(g, v, "psum", x->cols, t->grid_rows);
        assert_receives(g, v, "dz", x->cols, last ? 1 : 0);
      }
      if (producer)
        assert_receives(g, v, "dxpsum", x->cols, last ? 0 : g->dense[dl + 1].grid_cols);
    }
  }
  const spd_layer_tiling_t *out = &g->dense[g->n_dense - 1];
  for (uint32_t v = 0; v < g->n_vertices; v++) {
    if (g->vertices[v].role == SPD_ROLE_LOSS)
      assert_receives(g, v, "y", (spd_range_t){0, out->out}, 1);
    if (g->vertices[v].role == SPD_ROLE_SINK)
      assert_receives(g, v, "record", (spd_range_t){0, out->out + 4}, 1);
  }
}

static uint32_t count_role(const spd_machine_graph_t *g, spd_vertex_role_t r) {
  uint32_t n = 0;
  for (uint32_t v = 0; v < g->n_vertices; v++)
    n += g->vertices[v].role == r;
  return n;
}

static void mlp_on(const char *machine_name, spd_numeric_t numeric) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  const int32_t units[] = {256, 128, 10};
  spd_model_t *m = chain(&ctx, 784, units, 3, true);
  spd_machine_t *mc = spd_test_machine(&ctx, machine_name, NULL);
  spd_partition_opts_t o;
  spd_partition_opts_default(&o);
  o.numeric = numeric;
  /* Float tiles keep a float gradient and their optimizer slots beside
   * every weight in DTCM (16 B a weight with Adam: 784x256 alone would need
   * 64 of spinn3's 68 cores); SGD with momentum, 12 B. */
  if (numeric == SPD_NUMERIC_FLOAT) {
    o.optimizer = SPD_OPT_SGD;
    o.momentum = true;
  }
  spd_machine_graph_t *g = NULL;
  int err = spd_partition_dense(&ctx, m, mc, &o, &g);
  if (err)
    fail_msg("%s", spd_ctx_message(&ctx));
  assert_int_equal(g->n_dense, 3);
  assert_true(g->n_vertices <= spd_machine_app_cores(mc));
  assert_int_equal(count_role(g, SPD_ROLE_LOSS), 1);
  assert_int_equal(count_role(g, SPD_ROLE_SINK), 1);
  assert_true(count_role(g, SPD_ROLE_SOURCE) >= 1);
  assert_covers_once(g);
  assert_graph_sane(g);
  assert_dataflow_complete(g);
  spd_machine_graph_free(g);
  spd_machine_free(mc);
  spd_model_free(m);
}

static void mlp_fits_spinn3_fixed(void **state) {
  (void)state;
  mlp_on("spinn3", SPD_NUMERIC_FIXED);
}
static void mlp_fits_spinn3_float(void **state) {
  (void)state;
  mlp_on("spinn3", SPD_NUMERIC_FLOAT);
}
static void mlp_fits_spinn5(void **state) {
  (void)state;
  mlp_on("spinn5", SPD_NUMERIC_FIXED);
  mlp_on("spinn5", SPD_NUMERIC_FLOAT);
}

/* 784x1024 and 1024x2048 layers are far larger than one core's DTCM: they
 * split over many tiles, which on a SpiNN-5 needs many chips. */
static void wide_layers_split_over_many_tiles(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  const int32_t units[] = {1024, 2048, 10};
  spd_model_t *m = chain(&ctx, 784, units, 3, true);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn5", NULL);
  spd_machine_graph_t *g = NULL;
  if (spd_partition_dense(&ctx, m, mc, NULL, &g))
    fail_msg("%s", spd_ctx_message(&ctx));
  const spd_layer_tiling_t *t = spd_machine_graph_tiling(g, 1);
  assert_non_null(t);
  assert_int_equal(t->in, 784);
  assert_int_equal(t->out, 1024);
  /* 784 x 1024 int16 weights alone are 1.6 MB: at least 27 cores' DTCM. */
  assert_true((uint32_t)t->grid_rows * t->grid_cols >= 784u * 1024u * 2u / spd_partition_dtcm_budget());
  t = spd_machine_graph_tiling(g, 2);
  assert_true((uint32_t)t->grid_rows * t->grid_cols > 2u * SPD_CORES_PER_CHIP);
  assert_covers_once(g);
  assert_graph_sane(g);
  assert_dataflow_complete(g);
  spd_machine_graph_free(g);
  spd_machine_free(mc);
  spd_model_free(m);
}

/* Partial sums of a tile go to the reducer of its column; the reducer's
 * outputs reach exactly the next layer's tiles whose rows they are. */
static void partitions_follow_the_grid(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  const int32_t units[] = {256, 128, 10};
  spd_model_t *m = chain(&ctx, 784, units, 3, true);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn5", NULL);
  spd_machine_graph_t *g = NULL;
  assert_int_equal(spd_partition_dense(&ctx, m, mc, NULL, &g), 0);
  uint32_t to_leader = 0, from_leader = 0;
  for (uint32_t i = 0; i < g->n_partitions; i++) {
    const spd_partition_t *p = &g->partitions[i];
    const spd_vertex_t *src = &g->vertices[p->source];
    if (!strcmp(p->name, "credit") && src->role == SPD_ROLE_TILE) {
      /* The first layer's tiles credit their column's leader, tile (0, j),
       * which credits every source: the reducers, whose partial sums set
       * the layer's pace, take no credits. */
      const spd_vertex_t *d = &g->vertices[p->targets[0]];
      if (d->role == SPD_ROLE_TILE) {
        assert_int_equal(p->n_targets, 1);
        assert_int_equal(d->rows.lo, 0);
        assert_true(src->rows.lo > 0);
        assert_int_equal(d->cols.lo, src->cols.lo);
        assert_int_equal(d->layer, src->layer);
        to_leader++;
      } else {
        assert_int_equal(src->rows.lo, 0);
        for (uint32_t t = 0; t < p->n_targets; t++)
          assert_int_equal(g->vertices[p->targets[t]].role, SPD_ROLE_SOURCE);
        from_leader++;
      }
    }
    for (uint32_t t = 0; !strcmp(p->name, "credit") && t < p->n_targets; t++)
      assert_int_not_equal(g->vertices[p->targets[t]].role, SPD_ROLE_REDUCER);
    if (!strcmp(p->name, "psum")) {
      assert_int_equal(src->role, SPD_ROLE_TILE);
      assert_int_equal(p->words, 2); /* int64 partial sums in fixed point */
      const spd_vertex_t *r = &g->vertices[p->targets[0]];
      assert_int_equal(r->role, SPD_ROLE_REDUCER);
      assert_int_equal(r->cols.lo, src->cols.lo);
    } else if (!strcmp(p->name, "y") || !strcmp(p->name, "x")) {
      for (uint32_t t = 0; t < p->n_targets; t++) {
        const spd_vertex_t *d = &g->vertices[p->targets[t]];
        if (d->role == SPD_ROLE_LOSS)
          continue;
        assert_true(p->values.lo >= d->rows.lo);
        assert_true(p->values.lo + p->values.n <= d->rows.lo + d->rows.n);
      }
    } else if (!strcmp(p->name, "dxpsum")) {
      const spd_vertex_t *d = &g->vertices[p->targets[0]];
      assert_true(p->values.lo >= d->cols.lo);
      assert_true(p->values.lo + p->values.n <= d->cols.lo + d->cols.n);
      assert_true(d->layer < src->layer);
    }
  }
  assert_true(to_leader > 0);
  assert_true(from_leader > 0);
  assert_int_equal(to_leader % from_leader, 0); /* R - 1 tiles a column */
  spd_machine_graph_free(g);
  spd_machine_free(mc);
  spd_model_free(m);
}

/* A 8192x8192 layer with Adam needs over 1 GB of weights and state and,
 * for its sample buffers, more cores than SpiNN-3's 68. The message names
 * the layer, what it needs and what the machine has. */
static void too_large_for_spinn3_names_the_layer(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  const int32_t units[] = {8192, 8192, 10};
  spd_model_t *m = chain(&ctx, 784, units, 3, false);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn3", NULL);
  spd_machine_graph_t *g = (spd_machine_graph_t *)&ctx; /* must stay untouched */
  int err = spd_partition_dense(&ctx, m, mc, NULL, &g);
  assert_int_equal(err, SPD_ENOFIT);
  assert_ptr_equal(g, (spd_machine_graph_t *)&ctx);
  const char *msg = spd_ctx_message(&ctx);
  assert_non_null(strstr(msg, "dense_1"));
  assert_non_null(strstr(msg, "8192x8192"));
  assert_non_null(strstr(msg, "spinn3"));
  if (!strstr(msg, "needs") || !strstr(msg, "has"))
    fail_msg("%s", msg);
  spd_machine_free(mc);
  spd_model_free(m);
}

/* More samples than the machine's SDRAM holds: the message says so. */
static void too_much_data_for_spinn3(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  const int32_t units[] = {256, 128, 10};
  spd_model_t *m = chain(&ctx, 784, units, 3, true);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn3", NULL);
  spd_partition_opts_t o;
  spd_partition_opts_default(&o);
  o.dataset_samples = 1000000; /* 784 MB of pixels; SpiNN-3 has 512 MB */
  spd_machine_graph_t *g = NULL;
  assert_int_equal(spd_partition_dense(&ctx, m, mc, &o, &g), SPD_ENOFIT);
  assert_null(g);
  const char *msg = spd_ctx_message(&ctx);
  if (!strstr(msg, "1000000 samples") || !strstr(msg, "MiB") || !strstr(msg, "spinn3"))
    fail_msg("%s", msg);
  spd_machine_free(mc);
  spd_model_free(m);
}

/* Too few cores: the message says how many the model needs and which layer
 * needs the most. */
static void too_few_cores_names_the_layer(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  const int32_t units[] = {256, 128, 10};
  spd_model_t *m = chain(&ctx, 784, units, 3, true);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn3", NULL);
  spd_partition_opts_t o;
  spd_partition_opts_default(&o);
  o.max_cores = 4;
  spd_machine_graph_t *g = NULL;
  assert_int_equal(spd_partition_dense(&ctx, m, mc, &o, &g), SPD_ENOFIT);
  assert_null(g);
  const char *msg = spd_ctx_message(&ctx);
  assert_non_null(strstr(msg, "application cores"));
  assert_non_null(strstr(msg, "may use 4"));
  assert_non_null(strstr(msg, "dense_"));
  o.max_cores = 3;
  assert_int_equal(spd_partition_dense(&ctx, m, mc, &o, &g), SPD_ENOFIT);
  assert_non_null(strstr(spd_ctx_message(&ctx), "at least 4"));
  spd_machine_free(mc);
  spd_model_free(m);
}

static void unsupported_layer_is_named(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = NULL;
  assert_int_equal(spd_model_new(&ctx, "cnn", &m), 0);
  spd_layer_config_t cfg = layer(SPD_LAYER_INPUT, "input");
  cfg.input_shape = (spd_shape_t){3, {28, 28, 1}};
  assert_int_equal(spd_model_add(m, &cfg, NULL, 0, NULL), 0);
  cfg = layer(SPD_LAYER_CONV2D, "conv_a");
  cfg.filters = 4;
  cfg.kernel_size[0] = cfg.kernel_size[1] = 3;
  int prev = 0;
  assert_int_equal(spd_model_add(m, &cfg, &prev, 1, NULL), 0);
  assert_int_equal(spd_model_build(m, 1), 0);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn3", NULL);
  spd_machine_graph_t *g = NULL;
  assert_int_equal(spd_partition_dense(&ctx, m, mc, NULL, &g), SPD_EUNSUPPORTED);
  assert_non_null(strstr(spd_ctx_message(&ctx), "conv_a"));
  spd_machine_free(mc);
  spd_model_free(m);
}

/* Both partitioners refuse missing arguments and unbuilt models, naming the
 * model, and leave the output alone. */
static void bad_arguments_are_refused(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  const int32_t units[] = {16, 10};
  spd_model_t *m = spd_test_dense_chain_unbuilt(&ctx, "unbuilt", 8, units, 2);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn3", NULL);
  spd_machine_graph_t *g = NULL;
  assert_int_equal(spd_partition_dense(&ctx, m, mc, NULL, &g), SPD_EINVAL);
  assert_non_null(strstr(spd_ctx_message(&ctx), "'unbuilt' is not built"));
  assert_int_equal(spd_partition_model(&ctx, m, mc, NULL, &g), SPD_EINVAL);
  assert_non_null(strstr(spd_ctx_message(&ctx), "'unbuilt' is not built"));
  assert_int_equal(spd_partition_dense(&ctx, NULL, mc, NULL, &g), SPD_EINVAL);
  assert_int_equal(spd_partition_model(&ctx, m, NULL, NULL, &g), SPD_EINVAL);
  assert_int_equal(spd_partition_model(&ctx, m, mc, NULL, NULL), SPD_EINVAL);
  assert_null(g);
  spd_machine_free(mc);
  spd_model_free(m);
}

/* The same inputs give the same graph. */
static void deterministic(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  const int32_t units[] = {300, 100, 10};
  spd_model_t *m = chain(&ctx, 784, units, 3, true);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn5", NULL);
  spd_machine_graph_t *a = NULL, *b = NULL;
  assert_int_equal(spd_partition_dense(&ctx, m, mc, NULL, &a), 0);
  assert_int_equal(spd_partition_dense(&ctx, m, mc, NULL, &b), 0);
  assert_int_equal(a->n_vertices, b->n_vertices);
  assert_int_equal(a->n_partitions, b->n_partitions);
  assert_memory_equal(a->vertices, b->vertices, sizeof *a->vertices * a->n_vertices);
  for (uint32_t i = 0; i < a->n_partitions; i++) {
    assert_int_equal(a->partitions[i].n_targets, b->partitions[i].n_targets);
    assert_memory_equal(a->partitions[i].targets, b->partitions[i].targets,
                        sizeof(uint32_t) * a->partitions[i].n_targets);
  }
  spd_machine_graph_free(a);
  spd_machine_graph_free(b);
  spd_machine_free(mc);
  spd_model_free(m);
}

/* No slack gives the fastest mapping; slack trades a bounded slowdown for
 * fewer cores. */
static void slack_trades_period_for_cores(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  const int32_t units[] = {256, 128, 10};
  spd_model_t *m = chain(&ctx, 784, units, 3, true);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn5", NULL);
  spd_partition_opts_t o;
  spd_partition_opts_default(&o);
  o.slack_percent = 0;
  spd_machine_graph_t *best = NULL, *slack = NULL;
  assert_int_equal(spd_partition_dense(&ctx, m, mc, &o, &best), 0);
  o.slack_percent = 25;
  assert_int_equal(spd_partition_dense(&ctx, m, mc, &o, &slack), 0);
  print_message("slack 0: %u cores, %llu cycles; slack 25: %u cores, %llu cycles\n",
                best->n_vertices, (unsigned long long)best->period_cycles, slack->n_vertices,
                (unsigned long long)slack->period_cycles);
  assert_true(slack->n_vertices < best->n_vertices);
  assert_true(slack->period_cycles >= best->period_cycles);
  assert_true(slack->period_cycles <= best->period_cycles * 5 / 4 + best->period_cycles / 10);
  spd_machine_graph_free(best);
  spd_machine_graph_free(slack);
  spd_machine_free(mc);
  spd_model_free(m);
}

/* With fuse_small, consecutive single-tile layers share one core: one
 * vertex holds them all, no packet travels between them, and every vertex
 * still gets exactly what it needs. */
static void small_layers_share_a_core(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  /* A wide first layer sets the period, so the small ones fit within it
   * on one core at the calibrated costs (with 784-64 first, they did not). */
  const int32_t units[] = {256, 16, 8, 10};
  spd_model_t *m = chain(&ctx, 784, units, 4, true);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn3", NULL);
  spd_partition_opts_t o;
  spd_partition_opts_default(&o);
  spd_machine_graph_t *apart = NULL, *fused = NULL;
  assert_int_equal(spd_partition_dense(&ctx, m, mc, &o, &apart), 0);
  o.fuse_small = true;
  assert_int_equal(spd_partition_dense(&ctx, m, mc, &o, &fused), 0);
  const spd_layer_tiling_t *t = spd_machine_graph_tiling(fused, 4);
  assert_int_equal(t->n_vertices, 0);
  const spd_vertex_t *core = &fused->vertices[t->first_vertex];
  assert_true(core->n_layers >= 2);
  assert_int_equal(core->role, SPD_ROLE_TILE_FULL);
  assert_int_equal(core->cols.n, 10);
  assert_int_equal(fused->n_vertices + (uint32_t)core->n_layers - 1, apart->n_vertices);
  assert_true(core->dtcm_bytes <= spd_partition_dtcm_budget());
  assert_true(fused->period_cycles <= apart->period_cycles);
  assert_graph_sane(fused);
  assert_dataflow_complete(fused);
  spd_machine_graph_free(apart);
  spd_machine_graph_free(fused);
  spd_machine_free(mc);
  spd_model_free(m);
}

/* Failing any allocation returns SPD_ENOMEM, leaves the output alone and
 * leaks nothing. */
typedef struct partition_call {
  const spd_model_t *m;
  const spd_machine_t *mc;
} partition_call_t;

static int partition_and_free(spd_ctx_t *ctx, void *arg) {
  const partition_call_t *c = arg;
  spd_machine_graph_t *g = NULL;
  int err = spd_partition_dense(ctx, c->m, c->mc, NULL, &g);
  if (err)
    assert_null(g);
  spd_machine_graph_free(g);
  return err;
}

static void allocation_failures(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  const int32_t units[] = {64, 10};
  spd_model_t *m = chain(&ctx, 100, units, 2, false);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn3", NULL);
  partition_call_t call = {m, mc};
  assert_true(spd_test_alloc_each(partition_and_free, &call) > 1);
  spd_machine_free(mc);
  spd_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(mlp_fits_spinn3_fixed),
      cmocka_unit_test(mlp_fits_spinn3_float),
      cmocka_unit_test(mlp_fits_spinn5),
      cmocka_unit_test(wide_layers_split_over_many_tiles),
      cmocka_unit_test(partitions_follow_the_grid),
      cmocka_unit_test(too_large_for_spinn3_names_the_layer),
      cmocka_unit_test(too_few_cores_names_the_layer),
      cmocka_unit_test(too_much_data_for_spinn3),
      cmocka_unit_test(unsupported_layer_is_named),
      cmocka_unit_test(bad_arguments_are_refused),
      cmocka_unit_test(deterministic),
      cmocka_unit_test(slack_trades_period_for_cores),
      cmocka_unit_test(small_layers_share_a_core),
      cmocka_unit_test(allocation_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
