/* Every vertex the partitioner plans fits its core when the kernels run
 * (docs/dense-on-machine.md, "Memory per tile"): the MLP and LeNet-5 of
 * examples/, fixed and float, SGD, SGD with momentum and Adam, on spinn3
 * and spinn5, train a few samples on the emulated machine. The kernels
 * check that what they allocate equals the size functions the plan used
 * (base/tile_mem.h: a tile kernel's buffers and every kernel's partition
 * tables), so a run that starts is a plan that was exact; every planned
 * vertex is within the DTCM budget and no packet is dropped. */
#include <string.h>

#include "spindle/keras.h"
#include "spindle/machine_run.h"
#include "spindle/partition.h"
#include "support/test_machine_data.h"
#include "support/test_models.h"
#include "support/test_support.h"

static spd_model_t *load(spd_ctx_t *ctx, const char *relative) {
  spd_model_t *m = NULL;
  if (spd_keras_json_load(ctx, spd_test_source_path(relative), 7, &m))
    fail_msg("%s: %s", relative, spd_ctx_message(ctx));
  return m;
}

typedef struct opt_case {
  const char *name;
  spd_optimizer_kind_t kind;
  float momentum;
} opt_case_t;

static void fit_case(const char *model, const char *machine, spd_numeric_t numeric,
                     const opt_case_t *oc) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = load(&ctx, model);
  spd_machine_t *mc = spd_test_machine(&ctx, machine, NULL);
  spd_test_samples_t s;
  size_t n = 6;
  spd_test_samples_make(&s, n, m->layers[0].output_shape, 10, true);
  spd_fit_config_t cfg;
  spd_fit_config_defaults(&cfg);
  cfg.epochs = 1;
  cfg.batch_size = 4;
  cfg.optimizer.kind = oc->kind;
  cfg.optimizer.momentum = oc->momentum;
  spd_machine_run_opts_t o = {.numeric = numeric};
  spd_machine_stats_t st;
  spd_history_t h = {0};
  int err = spd_machine_fit(&ctx, m, mc, &o, &cfg, &s.d, &h, &st);
  if (err)
    fail_msg("%s on %s, %s, %s: %s", model, machine,
             numeric == SPD_NUMERIC_FIXED ? "fixed" : "float", oc->name, spd_ctx_message(&ctx));
  assert_int_equal(st.packets_dropped, 0);
  assert_int_equal(st.samples, n);
  spd_history_free(&h);
  spd_test_samples_free(&s);
  spd_machine_free(mc);
  spd_model_free(m);
}

/* The plan itself: with the partition tables counted, every vertex is
 * within the budget. @return whether the model maps (else the message
 * names the cores it lacks). */
static bool plan_case(const char *model, const char *machine, spd_numeric_t numeric,
                      const opt_case_t *oc) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = load(&ctx, model);
  spd_machine_t *mc = spd_test_machine(&ctx, machine, NULL);
  spd_partition_opts_t po;
  spd_partition_opts_default(&po);
  po.numeric = numeric;
  po.optimizer = oc->kind;
  po.momentum = oc->momentum != 0.0f;
  po.slots = 2;
  po.slack_percent = 100;
  spd_machine_graph_t *g = NULL;
  int err = spd_partition_model(&ctx, m, mc, &po, &g);
  if (err) {
    assert_int_equal(err, SPD_ENOFIT);
    assert_non_null(strstr(spd_ctx_message(&ctx), "application cores"));
    spd_machine_free(mc);
    spd_model_free(m);
    return false;
  }
  for (uint32_t v = 0; v < g->n_vertices; v++)
    assert_true(g->vertices[v].dtcm_bytes <= spd_partition_dtcm_budget());
  spd_machine_graph_free(g);
  spd_machine_free(mc);
  spd_model_free(m);
  return true;
}

static const opt_case_t OPTS[] = {{"sgd", SPD_OPT_SGD, 0.0f},
                                  {"sgd+momentum", SPD_OPT_SGD, 0.9f},
                                  {"adam", SPD_OPT_ADAM, 0.0f}};

/* Every combination maps and trains, except (@p no_fit) float Adam on
 * spinn3, which the partitioner refuses for want of cores. */
static void every_case(const char *model, bool no_fit) {
  const char *machines[] = {"spinn3", "spinn5"};
  for (int mi = 0; mi < 2; mi++)
    for (int nu = 0; nu < 2; nu++)
      for (int k = 0; k < 3; k++) {
        spd_numeric_t numeric = nu ? SPD_NUMERIC_FLOAT : SPD_NUMERIC_FIXED;
        bool expect = !(no_fit && mi == 0 && nu && OPTS[k].kind == SPD_OPT_ADAM);
        bool maps = plan_case(model, machines[mi], numeric, &OPTS[k]);
        assert_true(maps == expect);
        if (maps)
          fit_case(model, machines[mi], numeric, &OPTS[k]);
      }
}

static void test_mlp_fits(void **state) {
  (void)state;
  /* Float tiles keep a float gradient and Adam's m and v beside every
   * weight (16 B): 784x256 alone needs 62 of spinn3's 68 cores. */
  every_case("examples/mlp.json", true);
}

static void test_lenet5_fits(void **state) {
  (void)state;
  every_case("examples/lenet5.json", false);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mlp_fits),
      cmocka_unit_test(test_lenet5_fits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
