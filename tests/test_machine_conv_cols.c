/* Convolution tiles cut by output columns as well as rows
 * (docs/conv-on-machine.md, "Tiles"; issue 12 part 5): a layer whose
 * smallest tile of every column does not fit a core's DTCM is cut into
 * column blocks, each reading its columns' halo; the halo columns travel
 * to two tiles, their dX partial sums come back from both, a pooling fused
 * into the convolution pools its own columns' windows, and the
 * weight-sharing reduction gathers every row and column block's dW. The
 * partitioner's cut is checked (columns cut, every tile within the
 * budget), then training on the machine is compared with the reference:
 * fixed point bit for bit, float within 1e-4. */
#include <string.h>

#include "spindle/fit_fixed.h"
#include "spindle/machine_run.h"
#include "spindle/partition.h"
#include "support/test_machine_data.h"
#include "support/test_models.h"
#include "support/test_support.h"

#define CLASSES 5

#define conv spd_test_conv2d
#define pool spd_test_pool2d

/* A 1x1 convolution widening 8 channels to 16 (a tile of one row reads
 * 64 x 8 values), then a same 3x3 convolution with a fused 2x2 max
 * pooling: one pooled row of it reads 4 x 64 x 16 input values, far more
 * than a core holds with their dX, so its tiles are cut by columns too. */
static const spd_shape_t IN = {3, {6, 64, 8}};

static int layers(spd_layer_config_t *l) {
  l[0] = conv("c1", 16, 1, 1, 1, SPD_PAD_SAME, SPD_ACT_RELU, true);
  l[1] = conv("c2", 4, 3, 1, 1, SPD_PAD_SAME, SPD_ACT_RELU, true);
  l[2] = pool("p", SPD_LAYER_MAXPOOL2D, 2, 2, SPD_PAD_VALID);
  spd_layer_config_defaults(&l[3], SPD_LAYER_FLATTEN, "flatten");
  spd_layer_config_defaults(&l[4], SPD_LAYER_DENSE, "dense");
  l[4].units = CLASSES;
  l[4].activation = SPD_ACT_SOFTMAX;
  return 5;
}

static spd_model_t *model(spd_ctx_t *ctx) {
  spd_layer_config_t l[8];
  int n = layers(l);
  spd_model_t *m = spd_test_stack(ctx, "cols", IN, l, n, 11);
  spd_tensor_t *k = &m->layers[m->n_layers - 1].params[0].value;
  for (size_t e = 0; e < spd_shape_size(&k->shape); e++) /* no saturated softmax */
    k->data[e] *= 0.1f;
  return m;
}

/* The training cut of the machine runs below (2 samples in flight). */
static void expect_column_cut(spd_numeric_t numeric) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = model(&ctx);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn5", NULL);
  spd_partition_opts_t po;
  spd_partition_opts_default(&po);
  po.numeric = numeric;
  po.slots = 2;
  po.optimizer = SPD_OPT_SGD;
  po.momentum = true;
  spd_machine_graph_t *g = NULL;
  if (spd_partition_model(&ctx, m, mc, &po, &g))
    fail_msg("%s", spd_ctx_message(&ctx));
  const spd_conv_tiling_t *c2 = spd_machine_graph_conv_tiling(g, 2);
  assert_non_null(c2);
  assert_true(c2->grid_wcols > 1);
  assert_int_equal(c2->n_vertices, (uint32_t)c2->grid_rows * c2->grid_wcols * c2->grid_cols);
  assert_true(c2->max_tile_dtcm <= spd_partition_dtcm_budget());
  /* every pooled column exactly once; the halo columns of c2's input read twice */
  uint32_t covered = 0, read = 0;
  for (uint32_t v = c2->first_vertex; v < c2->first_vertex + c2->n_vertices; v++) {
    const spd_vertex_t *x = &g->vertices[v];
    assert_true(x->in_cols.n >= x->conv_cols.n);
    if (x->rows.lo == 0 && x->cols.lo == 0) {
      covered += x->out_cols.n;
      read += x->in_cols.n;
    }
  }
  assert_int_equal(covered, 32);
  assert_true(read > 64);
  spd_machine_graph_free(g);
  spd_machine_free(mc);
  spd_model_free(m);
}

static void train(spd_numeric_t numeric) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *on_machine = model(&ctx), *on_host = model(&ctx);
  spd_machine_t *mc = spd_test_machine(&ctx, "spinn5", NULL);
  spd_test_samples_t s;
  size_t n = 10;
  spd_test_samples_make(&s, n, IN, CLASSES, true);
  spd_fit_config_t cfg;
  spd_test_fit_config(&cfg, SPD_OPT_SGD, 0.9f);
  spd_machine_run_opts_t o = {.numeric = numeric, .slack_percent = 10, .slots = 2};
  spd_machine_stats_t st;
  spd_test_expect_trains_as_reference(&ctx, on_host, on_machine, mc, &o, &cfg, &s, &st);
  assert_int_equal(st.packets_dropped, 0);
  assert_int_equal(st.samples, (uint64_t)cfg.epochs * n);
  spd_test_samples_free(&s);
  spd_machine_free(mc);
  spd_model_free(on_machine);
  spd_model_free(on_host);
}

static void test_fixed_column_cut_trains_exactly(void **state) {
  (void)state;
  expect_column_cut(SPD_NUMERIC_FIXED);
  train(SPD_NUMERIC_FIXED);
}

static void test_float_column_cut_trains_close(void **state) {
  (void)state;
  expect_column_cut(SPD_NUMERIC_FLOAT);
  train(SPD_NUMERIC_FLOAT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixed_column_cut_trains_exactly),
      cmocka_unit_test(test_float_column_cut_trains_close),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
