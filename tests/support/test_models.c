#include "test_models.h"

#include "test_support.h"

#include <stdio.h>

#include "spindle/partition.h"

spd_model_t *spd_test_dense_chain_unbuilt(spd_ctx_t *ctx, const char *name, int32_t in,
                                          const int32_t *units, int n) {
  spd_model_t *m = NULL;
  assert_int_equal(spd_model_new(ctx, name, &m), 0);
  spd_layer_config_t cfg;
  spd_layer_config_defaults(&cfg, SPD_LAYER_INPUT, "input");
  cfg.input_shape = (spd_shape_t){1, {in}};
  assert_int_equal(spd_model_add(m, &cfg, NULL, 0, NULL), 0);
  for (int i = 0; i < n; i++) {
    char layer_name[32];
    snprintf(layer_name, sizeof layer_name, "dense_%d", i);
    spd_layer_config_defaults(&cfg, SPD_LAYER_DENSE, layer_name);
    cfg.units = units[i];
    cfg.activation = i + 1 < n ? SPD_ACT_RELU : SPD_ACT_SOFTMAX;
    int prev = m->n_layers - 1;
    assert_int_equal(spd_model_add(m, &cfg, &prev, 1, NULL), 0);
  }
  return m;
}

spd_model_t *spd_test_dense_chain(spd_ctx_t *ctx, const char *name, int32_t in,
                                  const int32_t *units, int n, uint64_t seed) {
  spd_model_t *m = spd_test_dense_chain_unbuilt(ctx, name, in, units, n);
  if (spd_model_build(m, seed) < 0)
    fail_msg("spd_model_build(%s): %s", name, spd_ctx_message(ctx));
  return m;
}

spd_model_t *spd_test_stack(spd_ctx_t *ctx, const char *name, spd_shape_t input_shape,
                            const spd_layer_config_t *layers, int n, uint64_t seed) {
  spd_model_t *m = NULL;
  assert_int_equal(spd_model_new(ctx, name, &m), 0);
  spd_layer_config_t cfg;
  spd_layer_config_defaults(&cfg, SPD_LAYER_INPUT, "in");
  cfg.input_shape = input_shape;
  assert_int_equal(spd_model_add(m, &cfg, NULL, 0, NULL), 0);
  for (int i = 0; i < n; i++) {
    int prev = m->n_layers - 1;
    if (spd_model_add(m, &layers[i], &prev, 1, NULL) < 0)
      fail_msg("spd_model_add(%s): %s", layers[i].name, spd_ctx_message(ctx));
  }
  if (spd_model_build(m, seed) < 0)
    fail_msg("spd_model_build(%s): %s", name, spd_ctx_message(ctx));
  return m;
}

spd_layer_config_t spd_test_conv2d(const char *name, int32_t filters, int32_t k, int32_t stride,
                                   int32_t dil, spd_padding_t pad, spd_activation_t act,
                                   bool bias) {
  spd_layer_config_t c;
  spd_layer_config_defaults(&c, SPD_LAYER_CONV2D, name);
  c.filters = filters;
  c.kernel_size[0] = c.kernel_size[1] = k;
  c.strides[0] = c.strides[1] = stride;
  c.dilation_rate[0] = c.dilation_rate[1] = dil;
  c.padding = pad;
  c.activation = act;
  c.use_bias = bias;
  return c;
}

spd_layer_config_t spd_test_pool2d(const char *name, spd_layer_kind_t kind, int32_t k,
                                   int32_t stride, spd_padding_t pad) {
  spd_layer_config_t c;
  spd_layer_config_defaults(&c, kind, name);
  c.pool_size[0] = c.pool_size[1] = k;
  c.strides[0] = c.strides[1] = stride;
  c.padding = pad;
  return c;
}

void spd_test_conv1d_maxpool(spd_layer_config_t *l) {
  spd_layer_config_defaults(&l[0], SPD_LAYER_CONV1D, "c");
  l[0].filters = 5;
  l[0].kernel_size[0] = 3;
  l[0].strides[0] = 2;
  l[0].padding = SPD_PAD_SAME;
  l[0].activation = SPD_ACT_RELU;
  spd_layer_config_defaults(&l[1], SPD_LAYER_MAXPOOL1D, "p");
  l[1].pool_size[0] = 2;
  l[1].strides[0] = 2;
}

spd_layer_config_t spd_test_dense(const char *name, int32_t units, spd_activation_t act) {
  spd_layer_config_t c;
  spd_layer_config_defaults(&c, SPD_LAYER_DENSE, name);
  c.units = units;
  c.activation = act;
  return c;
}

spd_layer_config_t spd_test_dropout(const char *name, double rate, uint64_t seed) {
  spd_layer_config_t c;
  spd_layer_config_defaults(&c, SPD_LAYER_DROPOUT, name);
  c.rate = rate;
  c.dropout_seed = seed;
  return c;
}

spd_machine_t *spd_test_machine(spd_ctx_t *ctx, const char *name, const char *faults) {
  spd_machine_t *mc = NULL;
  if (spd_machine_new(ctx, name, &mc) < 0)
    fail_msg("spd_machine_new(%s): %s", name, spd_ctx_message(ctx));
  if (faults && spd_machine_apply_faults(mc, faults) < 0)
    fail_msg("faults '%s': %s", faults, spd_ctx_message(ctx));
  return mc;
}

void spd_test_expect_dense_row_blocks(spd_ctx_t *ctx, const spd_model_t *m,
                                      spd_optimizer_kind_t optimizer) {
  spd_machine_t *mc = spd_test_machine(ctx, "spinn5", NULL);
  spd_partition_opts_t po;
  spd_partition_opts_default(&po);
  po.optimizer = optimizer;
  po.batch_size = 8;
  po.slots = 2;
  po.dataset_samples = 37;
  spd_machine_graph_t *g = NULL;
  assert_int_equal(spd_partition_dense(ctx, m, mc, &po, &g), 0);
  assert_true(g->dense[0].grid_rows > 1);
  spd_machine_graph_free(g);
  spd_machine_free(mc);
}
