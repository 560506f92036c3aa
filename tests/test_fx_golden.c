/* Pinned bits of the fixed-point arithmetic: the SpiNNaker kernels must
 * reproduce the reference's fixed mode bit for bit (docs/numerics.md), so
 * any change to a rounding, a format or the order of stochastic draws must
 * be deliberate. These checksums of exact integer results change only then;
 * update them together with docs/numerics.md. (SGD only: Adam's per-step
 * constant uses pow(), which libms may round differently.) */
#include "test_support.h"

#include <stdio.h>

#include "base/fx_update.h"
#include "nn/fx_net_internal.h"
#include "spindle/fixed_math.h"

/* FNV-1a over bytes. */
static uint64_t fnv(uint64_t h, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

static const uint64_t FNV_BASIS = 0xcbf29ce484222325ULL;
#define NONLINEARITY_GOLDEN 0xe5610962dc0037d0ULL
#define TRAINING_GOLDEN 0x0c4c4621feadc271ULL

static void nonlinearity_bits_are_pinned(void **state) {
  (void)state;
  uint64_t h = FNV_BASIS;
  spd_fx_act_params_t p = {SPD_FX_ACT_ELU, 12, 1 << 30};
  for (int32_t z = -(20 << 16); z <= (20 << 16); z += 977) {
    uint32_t e = spd_fx_exp_neg(z < 0 ? z : -z);
    int32_t s = spd_fx_sigmoid_q30(z), t = spd_fx_tanh_q30(z);
    int16_t y = spd_fx_act_forward(&p, z, NULL);
    int64_t l = spd_fx_log((uint64_t)(z < 0 ? -(int64_t)z : z) + 1, 16);
    h = fnv(h, &e, sizeof e);
    h = fnv(h, &s, sizeof s);
    h = fnv(h, &t, sizeof t);
    h = fnv(h, &y, sizeof y);
    h = fnv(h, &l, sizeof l);
  }
  printf("nonlinearities: 0x%016llx\n", (unsigned long long)h);
  assert_true(h == NONLINEARITY_GOLDEN);
}

static spd_model_t *mlp(void) {
  spd_model_t *m;
  assert_int_equal(spd_model_new(NULL, "g", &m), 0);
  spd_layer_config_t cfg;
  int idx = -1, prev;
  spd_layer_config_defaults(&cfg, SPD_LAYER_INPUT, "in");
  cfg.input_shape = (spd_shape_t){1, {6}};
  assert_int_equal(spd_model_add(m, &cfg, NULL, 0, &idx), 0);
  prev = idx;
  spd_layer_config_defaults(&cfg, SPD_LAYER_DENSE, "h");
  cfg.units = 8;
  cfg.activation = SPD_ACT_SIGMOID;
  assert_int_equal(spd_model_add(m, &cfg, &prev, 1, &idx), 0);
  prev = idx;
  spd_layer_config_defaults(&cfg, SPD_LAYER_DENSE, "o");
  cfg.units = 3;
  cfg.activation = SPD_ACT_SOFTMAX;
  assert_int_equal(spd_model_add(m, &cfg, &prev, 1, &idx), 0);
  assert_int_equal(spd_model_build(m, 8), 0);
  return m;
}

static void training_bits_are_pinned(void **state) {
  (void)state;
  spd_model_t *m = mlp();
  spd_numeric_plan_t *plan;
  assert_int_equal(spd_numeric_plan_new(NULL, m, &plan), 0);
  spd_fx_net_t *net;
  assert_int_equal(spd__fx_net_new(NULL, m, plan, SPD_FX_LOSS_SPARSE_CE, false, 4, 99, &net), 0);
  spd_numeric_plan_free(plan);
  float x[4 * 6];
  int32_t labels[4] = {0, 1, 2, 1};
  for (int i = 0; i < 24; i++)
    x[i] = (float)((i * 37) % 17) / 17.0f;
  spd_fx_batch_t b = {x, labels, NULL, 4};
  spd_fx_hyper_t h = {.kind = SPD_FX_OPT_SGD, .lr = 0.05, .momentum = 0.9, .nesterov = true};
  for (int step = 0; step < 5; step++) {
    spd_fx_result_t res = {0};
    h.step = step;
    assert_int_equal(spd__fx_net_train_batch(net, &b, &h, NULL, &res), 0);
  }
  uint64_t hash = FNV_BASIS;
  for (int i = 1; i < net->n_layers; i++) {
    const fx_layer_t *fl = &net->layers[i];
    hash = fnv(hash, fl->kernel.master, fl->kernel.n * sizeof *fl->kernel.master);
    hash = fnv(hash, fl->kernel.a, fl->kernel.n * sizeof *fl->kernel.a);
    hash = fnv(hash, fl->bias.master, fl->bias.n * sizeof *fl->bias.master);
  }
  printf("training: 0x%016llx\n", (unsigned long long)hash);
  assert_true(hash == TRAINING_GOLDEN);
  spd__fx_net_free(net);
  spd_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(nonlinearity_bits_are_pinned),
      cmocka_unit_test(training_bits_are_pinned),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
