#include "test_models.h"

#include "test_support.h"

#include <stdio.h>

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

spd_machine_t *spd_test_machine(spd_ctx_t *ctx, const char *name, const char *faults) {
  spd_machine_t *mc = NULL;
  if (spd_machine_new(ctx, name, &mc) < 0)
    fail_msg("spd_machine_new(%s): %s", name, spd_ctx_message(ctx));
  if (faults && spd_machine_apply_faults(mc, faults) < 0)
    fail_msg("faults '%s': %s", faults, spd_ctx_message(ctx));
  return mc;
}
