/* nn/optim: Keras's update rules checked against multi-step values worked
 * out by hand from the formulas in keras/src/optimizers, the schedules
 * against their closed forms, and the allocation paths. */
#include "test_support.h"

#include <math.h>
#include <string.h>

#include "golden_npy.h"
#include "spindle/optim.h"

#define CLOSE(a, b) assert_true(fabs((double)(a) - (double)(b)) <= 1e-6 * (1.0 + fabs((double)(b))))

/* Run @p steps updates of a one-element tensor with gradient g[step]. */
static float run_scalar(const spd_optimizer_config_t *cfg, float w, const float *g,
                        int steps, float *trace) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  size_t size = 1;
  spd_optimizer_t *opt = NULL;
  assert_int_equal(spd_optimizer_new(&ctx, cfg, &size, 1, &opt), 0);
  for (int t = 0; t < steps; t++) {
    float *p = &w;
    const float *gp = &g[t];
    spd_optimizer_step(opt, &p, &gp);
    if (trace)
      trace[t] = w;
  }
  assert_int_equal(opt->iterations, steps);
  spd_optimizer_free(opt);
  return w;
}

static void sgd_defaults_and_plain_step(void **state) {
  (void)state;
  spd_optimizer_config_t cfg;
  spd_optimizer_config_defaults(&cfg, SPD_OPT_SGD);
  assert_true(cfg.learning_rate.initial_learning_rate == 0.01);
  assert_true(cfg.momentum == 0.0f && !cfg.nesterov);
  const float g[2] = {2.0f, -1.0f};
  /* w = 1 - 0.01*2 + 0.01*1 */
  CLOSE(run_scalar(&cfg, 1.0f, g, 2, NULL), 0.99);
}

static void sgd_momentum_three_steps(void **state) {
  (void)state;
  spd_optimizer_config_t cfg;
  spd_optimizer_config_defaults(&cfg, SPD_OPT_SGD);
  spd_lr_schedule_constant(&cfg.learning_rate, 0.1);
  cfg.momentum = 0.9f;
  const float g[3] = {1.0f, 1.0f, 1.0f};
  float trace[3];
  run_scalar(&cfg, 1.0f, g, 3, trace);
  /* v: -0.1, -0.19, -0.271; w: 0.9, 0.71, 0.439 */
  CLOSE(trace[0], 0.9);
  CLOSE(trace[1], 0.71);
  CLOSE(trace[2], 0.439);
}

static void sgd_nesterov_three_steps(void **state) {
  (void)state;
  spd_optimizer_config_t cfg;
  spd_optimizer_config_defaults(&cfg, SPD_OPT_SGD);
  spd_lr_schedule_constant(&cfg.learning_rate, 0.1);
  cfg.momentum = 0.9f;
  cfg.nesterov = true;
  const float g[3] = {1.0f, 1.0f, 1.0f};
  float trace[3];
  run_scalar(&cfg, 1.0f, g, 3, trace);
  /* w += 0.9 v - 0.1 g with v = -0.1, -0.19, -0.271 */
  CLOSE(trace[0], 0.81);
  CLOSE(trace[1], 0.539);
  CLOSE(trace[2], 0.1951);
}

static void adam_defaults_and_steps(void **state) {
  (void)state;
  spd_optimizer_config_t cfg;
  spd_optimizer_config_defaults(&cfg, SPD_OPT_ADAM);
  assert_true(cfg.learning_rate.initial_learning_rate == 0.001);
  assert_true(cfg.beta_1 == 0.9f && cfg.beta_2 == 0.999f && cfg.epsilon == 1e-7f);
  const float g[3] = {0.5f, -1.0f, 2.0f};
  float trace[3];
  run_scalar(&cfg, 1.0f, g, 3, trace);
  /* Keras's form step by step in double. */
  double m = 0, v = 0, w = 1;
  for (int t = 1; t <= 3; t++) {
    double alpha = 0.001 * sqrt(1 - pow(0.999, t)) / (1 - pow(0.9, t));
    m += (g[t - 1] - m) * 0.1;
    v += ((double)g[t - 1] * g[t - 1] - v) * (1 - 0.999);
    w -= alpha * m / (sqrt(v) + 1e-7);
    CLOSE(trace[t - 1], w);
  }
  /* First step: m = 0.05, v = 0.00025, alpha = 0.001*sqrt(0.001)/0.1, so
   * the step is lr * 0.5/(0.5 + 1e-7*sqrt(1000)) ~ 0.001. */
  CLOSE(trace[0], 1.0 - 0.001 * 0.5 / (0.5 + 1e-7 * sqrt(1000.0)));
}

static void rmsprop_defaults_and_steps(void **state) {
  (void)state;
  spd_optimizer_config_t cfg;
  spd_optimizer_config_defaults(&cfg, SPD_OPT_RMSPROP);
  assert_true(cfg.learning_rate.initial_learning_rate == 0.001);
  assert_true(cfg.rho == 0.9f && cfg.momentum == 0.0f && !cfg.centered);
  const float g[2] = {1.0f, 1.0f};
  float trace[2];
  run_scalar(&cfg, 1.0f, g, 2, trace);
  /* vel 0.1 then 0.19; epsilon inside the square root (Keras). */
  CLOSE(trace[0], 1.0 - 0.001 / sqrt(0.1 + 1e-7));
  CLOSE(trace[1], trace[0] - 0.001 / sqrt(0.19 + 1e-7));
}

static void rmsprop_momentum_centered(void **state) {
  (void)state;
  spd_optimizer_config_t cfg;
  spd_optimizer_config_defaults(&cfg, SPD_OPT_RMSPROP);
  cfg.momentum = 0.5f;
  cfg.centered = true;
  const float g[3] = {1.0f, -2.0f, 0.5f};
  float trace[3];
  run_scalar(&cfg, 0.0f, g, 3, trace);
  double vel = 0, avg = 0, mom = 0, w = 0;
  for (int t = 0; t < 3; t++) {
    vel = 0.9 * vel + 0.1 * g[t] * g[t];
    avg = 0.9 * avg + 0.1 * g[t];
    mom = 0.5 * mom + 0.001 * g[t] / sqrt(vel - avg * avg + 1e-7);
    w -= mom;
    assert_true(fabs(trace[t] - w) <= 1e-5 * (1 + fabs(w)));
  }
}


/* Three steps of each optimizer against the committed goldens (Keras 3's
 * rules written out in PyTorch, tests/golden), rtol 1e-5. */
static void matches_goldens(void **state) {
  (void)state;
  static const struct {
    const char *name; spd_optimizer_kind_t kind; double lr; float momentum; bool nesterov;
    float beta_1, beta_2; bool centered;
  } cases[] = {
      {"sgd", SPD_OPT_SGD, 0.01, 0.0f, false, 0, 0, false},
      {"sgd_momentum", SPD_OPT_SGD, 0.01, 0.9f, false, 0, 0, false},
      {"sgd_nesterov", SPD_OPT_SGD, 0.01, 0.9f, true, 0, 0, false},
      {"adam", SPD_OPT_ADAM, 0.001, 0, false, 0.9f, 0.999f, false},
      {"adam_lr0.01", SPD_OPT_ADAM, 0.01, 0, false, 0.8f, 0.99f, false},
      {"rmsprop", SPD_OPT_RMSPROP, 0.001, 0.0f, false, 0, 0, false},
      {"rmsprop_momentum_centered", SPD_OPT_RMSPROP, 0.001, 0.5f, false, 0, 0, true},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    spd_optimizer_config_t cfg;
    spd_optimizer_config_defaults(&cfg, cases[c].kind);
    spd_lr_schedule_constant(&cfg.learning_rate, cases[c].lr);
    cfg.momentum = cases[c].momentum;
    cfg.nesterov = cases[c].nesterov;
    cfg.centered = cases[c].centered;
    if (cases[c].kind == SPD_OPT_ADAM) {
      cfg.beta_1 = cases[c].beta_1;
      cfg.beta_2 = cases[c].beta_2;
    }
    float w[12], g[12], want[12];
    char key[96];
    snprintf(key, sizeof key, "%s.w0", cases[c].name);
    size_t n = golden_load(key, w, 12);
    spd_optimizer_t *opt = NULL;
    assert_int_equal(spd_optimizer_new(NULL, &cfg, &n, 1, &opt), 0);
    for (int t = 1; t <= 3; t++) {
      snprintf(key, sizeof key, "%s.g%d", cases[c].name, t);
      assert_int_equal(golden_load(key, g, 12), n);
      snprintf(key, sizeof key, "%s.w%d", cases[c].name, t);
      assert_int_equal(golden_load(key, want, 12), n);
      float *wp = w;
      const float *gp = g;
      spd_optimizer_step(opt, &wp, &gp);
      for (size_t k = 0; k < n; k++)
        if (fabs(w[k] - want[k]) > 1e-5 * fabs(want[k]) + 1e-6)
          fail_msg("%s step %d: w[%zu] %.8g, golden %.8g", cases[c].name, t, k,
                   (double)w[k], (double)want[k]);
    }
    spd_optimizer_free(opt);
  }
}

static void exponential_and_inverse_time(void **state) {
  (void)state;
  spd_lr_schedule_t s = {.kind = SPD_LR_EXPONENTIAL_DECAY, .initial_learning_rate = 0.1,
                         .decay_steps = 10, .decay_rate = 0.5};
  CLOSE(spd_lr_schedule_at(&s, 0), 0.1);
  CLOSE(spd_lr_schedule_at(&s, 5), 0.1 * sqrt(0.5));
  CLOSE(spd_lr_schedule_at(&s, 20), 0.025);
  s.staircase = true;
  CLOSE(spd_lr_schedule_at(&s, 5), 0.1);
  CLOSE(spd_lr_schedule_at(&s, 19), 0.05);
  spd_lr_schedule_t it = {.kind = SPD_LR_INVERSE_TIME_DECAY, .initial_learning_rate = 0.1,
                          .decay_steps = 1, .decay_rate = 0.5};
  CLOSE(spd_lr_schedule_at(&it, 2), 0.05);
  it.decay_steps = 2;
  it.staircase = true;
  CLOSE(spd_lr_schedule_at(&it, 3), 0.1 / 1.5);
}

static void piecewise_and_cosine(void **state) {
  (void)state;
  spd_lr_schedule_t p = {.kind = SPD_LR_PIECEWISE_CONSTANT, .n_boundaries = 2,
                         .boundaries = {100, 110}, .values = {1.0, 0.5, 0.1}};
  assert_int_equal(spd_lr_schedule_check(NULL, &p), 0);
  CLOSE(spd_lr_schedule_at(&p, 0), 1.0);
  CLOSE(spd_lr_schedule_at(&p, 100), 1.0);
  CLOSE(spd_lr_schedule_at(&p, 101), 0.5);
  CLOSE(spd_lr_schedule_at(&p, 110), 0.5);
  CLOSE(spd_lr_schedule_at(&p, 111), 0.1);
  spd_lr_schedule_t c = {.kind = SPD_LR_COSINE_DECAY, .initial_learning_rate = 0.1,
                         .decay_steps = 100};
  CLOSE(spd_lr_schedule_at(&c, 0), 0.1);
  CLOSE(spd_lr_schedule_at(&c, 50), 0.05);
  CLOSE(spd_lr_schedule_at(&c, 100), 0.0);
  CLOSE(spd_lr_schedule_at(&c, 500), 0.0);
  c.alpha = 0.1;
  CLOSE(spd_lr_schedule_at(&c, 100), 0.01);
  CLOSE(spd_lr_schedule_at(&c, 25), 0.1 * (0.9 * 0.5 * (1 + cos(3.14159265358979 / 4)) + 0.1));
}

static void schedule_is_evaluated_per_step(void **state) {
  (void)state;
  spd_optimizer_config_t cfg;
  spd_optimizer_config_defaults(&cfg, SPD_OPT_SGD);
  cfg.learning_rate = (spd_lr_schedule_t){.kind = SPD_LR_PIECEWISE_CONSTANT,
                                          .n_boundaries = 1, .boundaries = {0},
                                          .values = {1.0, 0.25}};
  const float g[3] = {1.0f, 1.0f, 1.0f};
  float trace[3];
  run_scalar(&cfg, 0.0f, g, 3, trace);
  /* Step 0 uses values[0] (step <= boundary 0), later steps values[1]. */
  CLOSE(trace[0], -1.0);
  CLOSE(trace[1], -1.25);
  CLOSE(trace[2], -1.5);
}

static void bad_hyperparameters_are_named(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  size_t size = 4;
  spd_optimizer_t *opt = NULL;
  spd_optimizer_config_t cfg;
  spd_optimizer_config_defaults(&cfg, SPD_OPT_SGD);
  cfg.momentum = 1.5f;
  assert_int_equal(spd_optimizer_new(&ctx, &cfg, &size, 1, &opt), SPD_EINVAL);
  assert_non_null(strstr(spd_ctx_message(&ctx), "momentum"));
  spd_optimizer_config_defaults(&cfg, SPD_OPT_ADAM);
  spd_lr_schedule_constant(&cfg.learning_rate, -1.0);
  assert_int_equal(spd_optimizer_new(&ctx, &cfg, &size, 1, &opt), SPD_EINVAL);
  assert_non_null(strstr(spd_ctx_message(&ctx), "learning rate"));
  cfg.learning_rate = (spd_lr_schedule_t){.kind = SPD_LR_EXPONENTIAL_DECAY,
                                          .initial_learning_rate = 0.1};
  assert_int_equal(spd_optimizer_new(&ctx, &cfg, &size, 1, &opt), SPD_EINVAL);
  assert_non_null(strstr(spd_ctx_message(&ctx), "decay_steps"));
  cfg.learning_rate = (spd_lr_schedule_t){.kind = SPD_LR_PIECEWISE_CONSTANT,
                                          .n_boundaries = 2, .boundaries = {5, 5}};
  assert_int_equal(spd_optimizer_new(&ctx, &cfg, &size, 1, &opt), SPD_EINVAL);
  assert_non_null(strstr(spd_ctx_message(&ctx), "boundaries"));
  assert_null(opt);
  assert_int_equal(spd_optimizer_parse("Adam"), SPD_OPT_ADAM);
  assert_int_equal(spd_optimizer_parse("RMSPROP"), SPD_OPT_RMSPROP);
  assert_int_equal(spd_optimizer_parse("adagrad"), -1);
  assert_string_equal(spd_optimizer_name(SPD_OPT_SGD), "sgd");
}

/* Centred RMSprop with momentum has the most state to allocate. */
static int rmsprop_new_and_free(spd_ctx_t *ctx, void *arg) {
  (void)arg;
  spd_optimizer_config_t cfg;
  spd_optimizer_config_defaults(&cfg, SPD_OPT_RMSPROP);
  cfg.momentum = 0.9f;
  cfg.centered = true;
  const size_t sizes[3] = {10, 0, 7};
  spd_optimizer_t *opt = NULL;
  int rc = spd_optimizer_new(ctx, &cfg, sizes, 3, &opt);
  if (rc) {
    assert_null(opt);
    return rc;
  }
  spd_optimizer_reset(opt);
  spd_optimizer_free(opt);
  return 0;
}

static void allocation_failures_do_not_leak(void **state) {
  (void)state;
  assert_true(spd_test_alloc_each(rmsprop_new_and_free, NULL) > 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sgd_defaults_and_plain_step),
      cmocka_unit_test(sgd_momentum_three_steps),
      cmocka_unit_test(sgd_nesterov_three_steps),
      cmocka_unit_test(adam_defaults_and_steps),
      cmocka_unit_test(rmsprop_defaults_and_steps),
      cmocka_unit_test(rmsprop_momentum_centered),
      cmocka_unit_test(matches_goldens),
      cmocka_unit_test(exponential_and_inverse_time),
      cmocka_unit_test(piecewise_and_cosine),
      cmocka_unit_test(schedule_is_evaluated_per_step),
      cmocka_unit_test(bad_hyperparameters_are_named),
      cmocka_unit_test(allocation_failures_do_not_leak),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
