/* A model's training configuration in Keras files: Keras 3's compile_config
 * and tf.keras 2's training_config are read (every schedule, the legacy
 * "lr" and "decay" keys, loss objects), each bad value is refused with a
 * message naming its key, and JSON, .keras and full-model .h5 files keep it
 * through a save and a load. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/keras_json.h"
#include "spindle/compile.h"
#include "spindle/keras.h"
#include "test_support.h"

#define MODEL_JSON                                                                      \
  "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": ["        \
  "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 4], "    \
  "\"name\": \"in\"}}, {\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", "      \
  "\"units\": 3, \"activation\": \"softmax\"}}]}"

#define ADAM_COSINE                                                                      \
  "{\"optimizer\": {\"module\": \"keras.optimizers\", \"class_name\": \"Adam\", "         \
  "\"config\": {\"name\": \"adam\", \"learning_rate\": {\"module\": "                     \
  "\"keras.optimizers.schedules\", \"class_name\": \"CosineDecay\", \"config\": "         \
  "{\"initial_learning_rate\": 0.002, \"decay_steps\": 100, \"alpha\": 0.1, \"name\": "    \
  "\"CosineDecay\", \"warmup_target\": null, \"warmup_steps\": 0}, \"registered_name\": " \
  "null}, \"weight_decay\": null, \"clipnorm\": null, \"global_clipnorm\": null, "        \
  "\"clipvalue\": null, \"use_ema\": false, \"ema_momentum\": 0.99, "                     \
  "\"ema_overwrite_frequency\": null, \"loss_scale_factor\": null, "                      \
  "\"gradient_accumulation_steps\": null, \"beta_1\": 0.85, \"beta_2\": 0.99, "           \
  "\"epsilon\": 1e-06, \"amsgrad\": false}, \"registered_name\": null}, \"loss\": "       \
  "\"sparse_categorical_crossentropy\", \"loss_weights\": null, \"metrics\": "            \
  "[\"accuracy\"], \"weighted_metrics\": null, \"run_eagerly\": false, "                  \
  "\"steps_per_execution\": 1, \"jit_compile\": false}"

/* The model of MODEL_JSON with a top-level compile_config @p cc. */
static int parse_with(spd_ctx_t *ctx, const char *cc, spd_model_t **out) {
  char text[8192];
  snprintf(text, sizeof text, "%s, \"compile_config\": %s}", MODEL_JSON, cc);
  return spd_keras_json_parse(ctx, text, strlen(text), 0, out);
}

/* A training_config (or compile_config) object read on its own. */
static int read_object(spd_ctx_t *ctx, const char *text, spd_compile_config_t *out) {
  cJSON *root = cJSON_Parse(text);
  assert_non_null(root);
  int err = spd__keras_compile_read(ctx, root, "training_config", out);
  cJSON_Delete(root);
  return err;
}

static void keras3_adam_with_cosine_decay(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = NULL;
  assert_int_equal(parse_with(&ctx, ADAM_COSINE, &m), 0);
  const spd_compile_config_t *c = m->compile;
  assert_non_null(c);
  assert_true(c->has_optimizer);
  assert_int_equal(c->optimizer.kind, SPD_OPT_ADAM);
  assert_int_equal(c->optimizer.learning_rate.kind, SPD_LR_COSINE_DECAY);
  assert_true(c->optimizer.learning_rate.initial_learning_rate == 0.002);
  assert_true(c->optimizer.learning_rate.decay_steps == 100);
  assert_true(c->optimizer.learning_rate.alpha == 0.1);
  assert_true(c->optimizer.beta_1 == 0.85f && c->optimizer.beta_2 == 0.99f);
  assert_true(c->optimizer.epsilon == 1e-6f);
  assert_true(c->has_loss);
  assert_int_equal(c->loss, SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY);
  assert_false(c->from_logits);
  assert_int_equal(c->n_metrics, 1);
  assert_string_equal(c->metrics[0], "accuracy");
  spd_model_free(m);
}

static void sgd_rmsprop_schedules_and_loss_objects(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = NULL;
  assert_int_equal(
      parse_with(&ctx,
                 "{\"optimizer\": {\"class_name\": \"SGD\", \"config\": {\"learning_rate\": "
                 "{\"class_name\": \"ExponentialDecay\", \"config\": {\"initial_learning_rate\": "
                 "0.1, \"decay_steps\": 10, \"decay_rate\": 0.5, \"staircase\": true}}, "
                 "\"momentum\": 0.9, \"nesterov\": true}}, \"loss\": {\"module\": "
                 "\"keras.losses\", \"class_name\": \"SparseCategoricalCrossentropy\", "
                 "\"config\": {\"name\": \"scce\", \"reduction\": \"sum_over_batch_size\", "
                 "\"from_logits\": true, \"ignore_class\": null}}, \"metrics\": "
                 "[{\"class_name\": \"SparseCategoricalAccuracy\", \"config\": {\"name\": "
                 "\"acc\"}}, \"mae\"]}",
                 &m),
      0);
  const spd_compile_config_t *c = m->compile;
  assert_int_equal(c->optimizer.kind, SPD_OPT_SGD);
  assert_true(c->optimizer.momentum == 0.9f && c->optimizer.nesterov);
  assert_int_equal(c->optimizer.learning_rate.kind, SPD_LR_EXPONENTIAL_DECAY);
  assert_true(c->optimizer.learning_rate.decay_rate == 0.5);
  assert_true(c->optimizer.learning_rate.staircase);
  assert_true(c->from_logits);
  assert_int_equal(c->n_metrics, 2);
  assert_string_equal(c->metrics[0], "acc");
  assert_string_equal(c->metrics[1], "mae");
  spd_model_free(m);

  spd_compile_config_t r;
  assert_int_equal(
      read_object(&ctx,
                  "{\"optimizer_config\": {\"class_name\": \"Custom>RMSprop\", \"config\": "
                  "{\"learning_rate\": {\"class_name\": \"PiecewiseConstantDecay\", \"config\": "
                  "{\"boundaries\": [100, 200], \"values\": [0.1, 0.01, 0.001]}}, \"rho\": 0.8, "
                  "\"momentum\": 0.5, \"centered\": true, \"epsilon\": 1e-07}}, \"loss\": "
                  "{\"class_name\": \"function\", \"config\": \"categorical_crossentropy\"}}",
                  &r),
      0);
  assert_int_equal(r.optimizer.kind, SPD_OPT_RMSPROP);
  assert_int_equal(r.optimizer.learning_rate.kind, SPD_LR_PIECEWISE_CONSTANT);
  assert_int_equal(r.optimizer.learning_rate.n_boundaries, 2);
  assert_int_equal(r.optimizer.learning_rate.boundaries[1], 200);
  assert_true(r.optimizer.learning_rate.values[2] == 0.001);
  assert_true(r.optimizer.rho == 0.8f && r.optimizer.momentum == 0.5f && r.optimizer.centered);
  assert_int_equal(r.loss, SPD_LOSS_CATEGORICAL_CROSSENTROPY);
  assert_int_equal(r.n_metrics, 0);

  assert_int_equal(read_object(&ctx, "{\"optimizer_config\": {\"class_name\": \"Adam\", "
                               "\"config\": {\"learning_rate\": {\"class_name\": "
                               "\"InverseTimeDecay\", \"config\": {\"initial_learning_rate\": "
                               "0.01, \"decay_steps\": 5, \"decay_rate\": 2}}}}, \"loss\": \"mse\"}",
                               &r),
                   0);
  assert_int_equal(r.optimizer.learning_rate.kind, SPD_LR_INVERSE_TIME_DECAY);
  assert_true(r.optimizer.beta_1 == 0.9f); /* Keras's default where the file is silent */
  assert_int_equal(r.loss, SPD_LOSS_MSE);
}

/* tf.keras 2's legacy optimizers: "lr" in the oldest files, and "decay",
 * which divided the rate by (1 + decay * iterations). */
static void legacy_lr_and_decay(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_compile_config_t r;
  assert_int_equal(read_object(&ctx, "{\"loss\": \"sparse_categorical_crossentropy\", "
                               "\"metrics\": [[\"accuracy\"]], \"weighted_metrics\": null, "
                               "\"loss_weights\": null, \"optimizer_config\": {\"class_name\": "
                               "\"SGD\", \"config\": {\"name\": \"SGD\", \"learning_rate\": 0.05, "
                               "\"decay\": 0.01, \"momentum\": 0.0, \"nesterov\": false}}}",
                               &r),
                   0);
  assert_int_equal(r.optimizer.learning_rate.kind, SPD_LR_INVERSE_TIME_DECAY);
  assert_true(r.optimizer.learning_rate.initial_learning_rate == 0.05);
  assert_true(r.optimizer.learning_rate.decay_steps == 1);
  assert_true(r.optimizer.learning_rate.decay_rate == 0.01);
  assert_int_equal(r.n_metrics, 1);
  assert_string_equal(r.metrics[0], "accuracy");
  double at10 = spd_lr_schedule_at(&r.optimizer.learning_rate, 10);
  assert_true(at10 > 0.05 / 1.1 - 1e-12 && at10 < 0.05 / 1.1 + 1e-12);

  assert_int_equal(read_object(&ctx, "{\"optimizer_config\": {\"class_name\": \"SGD\", "
                               "\"config\": {\"lr\": 0.2, \"decay\": 0.0}}}", &r),
                   0);
  assert_int_equal(r.optimizer.learning_rate.kind, SPD_LR_CONSTANT);
  assert_true(r.optimizer.learning_rate.initial_learning_rate == 0.2);
  assert_false(r.has_loss);
}

typedef struct bad_case {
  const char *cc;
  int err;
  const char *names; /* in the message */
} bad_case_t;

#define OPT(cls, config) "{\"optimizer\": {\"class_name\": \"" cls "\", \"config\": " config "}}"
#define SCHED(cls, config) \
  OPT("SGD", "{\"learning_rate\": {\"class_name\": \"" cls "\", \"config\": " config "}}")

static void bad_values_are_named(void **state) {
  (void)state;
  static const bad_case_t cases[] = {
      {OPT("Adagrad", "{}"), SPD_EUNSUPPORTED, "optimizer 'Adagrad'"},
      {SCHED("PolynomialDecay", "{}"), SPD_EUNSUPPORTED, "schedule 'PolynomialDecay'"},
      {OPT("Adam", "{\"beta_1\": 1.5}"), SPD_EINVAL, "optimizer.config.beta_1"},
      {OPT("Adam", "{\"epsilon\": 0}"), SPD_EINVAL, "optimizer.config.epsilon"},
      {OPT("RMSprop", "{\"rho\": -0.1}"), SPD_EINVAL, "optimizer.config.rho"},
      {OPT("SGD", "{\"momentum\": \"a lot\"}"), SPD_EFORMAT, "optimizer.config.momentum"},
      {OPT("SGD", "{\"nesterov\": \"yes\"}"), SPD_EFORMAT, "optimizer.config.nesterov"},
      {OPT("SGD", "{\"learning_rate\": \"fast\"}"), SPD_EINVAL, "optimizer.config.learning_rate"},
      {OPT("SGD", "{\"learning_rate\": -0.1}"), SPD_EINVAL, "optimizer.config.learning_rate"},
      {OPT("SGD", "{\"decay\": -1}"), SPD_EINVAL, "optimizer.config.decay"},
      {OPT("SGD", "{\"clipnorm\": 1.0}"), SPD_EUNSUPPORTED, "optimizer.config.clipnorm"},
      {OPT("Adam", "{\"weight_decay\": 0.004}"), SPD_EUNSUPPORTED, "weight_decay"},
      {OPT("Adam", "{\"amsgrad\": true}"), SPD_EUNSUPPORTED, "optimizer.config.amsgrad"},
      {OPT("SGD", "{\"use_ema\": true}"), SPD_EUNSUPPORTED, "optimizer.config.use_ema"},
      {"{\"optimizer\": 7}", SPD_EFORMAT, "'optimizer'"},
      {SCHED("CosineDecay", "{\"initial_learning_rate\": 0.1, \"decay_steps\": 0}"), SPD_EINVAL,
       "learning_rate.config.decay_steps"},
      {SCHED("CosineDecay", "{\"decay_steps\": 10}"), SPD_EFORMAT,
       "learning_rate.config.initial_learning_rate"},
      {SCHED("CosineDecay", "{\"initial_learning_rate\": 0.1, \"decay_steps\": 10, "
                            "\"warmup_target\": 0.2, \"warmup_steps\": 5}"),
       SPD_EUNSUPPORTED, "warm-up"},
      {SCHED("CosineDecay", "{\"initial_learning_rate\": 0.1, \"decay_steps\": 10, "
                            "\"alpha\": 2}"),
       SPD_EINVAL, "learning_rate.config.alpha"},
      {SCHED("ExponentialDecay", "{\"initial_learning_rate\": 0.1, \"decay_steps\": 10}"),
       SPD_EFORMAT, "learning_rate.config.decay_rate"},
      {SCHED("InverseTimeDecay", "{\"initial_learning_rate\": 0.1, \"decay_steps\": 10, "
                                 "\"decay_rate\": 0}"),
       SPD_EINVAL, "learning_rate.config.decay_rate"},
      {SCHED("PiecewiseConstantDecay", "{\"boundaries\": [10], \"values\": [0.1]}"), SPD_EFORMAT,
       "learning_rate.config.values"},
      {SCHED("PiecewiseConstantDecay", "{\"boundaries\": [20, 10], \"values\": [1, 2, 3]}"),
       SPD_EINVAL, "boundaries must increase"},
      {OPT("SGD", "{\"learning_rate\": {\"class_name\": \"CosineDecay\", \"config\": "
                  "{\"initial_learning_rate\": 0.1, \"decay_steps\": 10}}, \"decay\": 0.1}"),
       SPD_EUNSUPPORTED, "optimizer.config.decay"},
      {"{\"loss\": \"hinge\"}", SPD_EUNSUPPORTED, "loss 'hinge'"},
      {"{\"loss\": {\"out_a\": \"mse\", \"out_b\": \"mse\"}}", SPD_EUNSUPPORTED, "several"},
      {"{\"loss\": {\"class_name\": \"CategoricalCrossentropy\", \"config\": "
       "{\"label_smoothing\": 0.1}}}",
       SPD_EUNSUPPORTED, "loss.config.label_smoothing"},
      {"{\"loss\": {\"class_name\": \"MeanSquaredError\", \"config\": {\"reduction\": "
       "\"sum\"}}}",
       SPD_EUNSUPPORTED, "loss.config.reduction"},
      {"{\"loss\": \"mse\", \"loss_weights\": [0.5]}", SPD_EUNSUPPORTED, "loss_weights"},
      {"{\"metrics\": \"accuracy\"}", SPD_EUNSUPPORTED, "'metrics'"},
      {"[1, 2]", SPD_EFORMAT, "compile_config"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    spd_ctx_t ctx;
    spd_ctx_init(&ctx);
    spd_model_t *m = NULL;
    int err = parse_with(&ctx, cases[i].cc, &m);
    if (err != cases[i].err || !strstr(spd_ctx_message(&ctx), cases[i].names))
      fail_msg("case %zu %s: got %s '%s', expected %s naming '%s'", i, cases[i].cc,
               spd_err_name(err), spd_ctx_message(&ctx), spd_err_name(cases[i].err),
               cases[i].names);
    assert_null(m);
  }
}

static void assert_same_schedule(const spd_lr_schedule_t *a, const spd_lr_schedule_t *b) {
  assert_int_equal(a->kind, b->kind);
  assert_true(a->initial_learning_rate == b->initial_learning_rate);
  assert_true(a->decay_steps == b->decay_steps);
  assert_true(a->decay_rate == b->decay_rate);
  assert_true(a->alpha == b->alpha);
  assert_int_equal(a->staircase, b->staircase);
  assert_int_equal(a->n_boundaries, b->n_boundaries);
  for (int i = 0; i < a->n_boundaries; i++)
    assert_int_equal(a->boundaries[i], b->boundaries[i]);
  for (int i = 0; a->kind == SPD_LR_PIECEWISE_CONSTANT && i <= a->n_boundaries; i++)
    assert_true(a->values[i] == b->values[i]);
}

static void assert_same_compile(const spd_compile_config_t *a, const spd_compile_config_t *b) {
  assert_non_null(a);
  assert_non_null(b);
  assert_int_equal(a->has_optimizer, b->has_optimizer);
  const spd_optimizer_config_t *x = &a->optimizer, *y = &b->optimizer;
  assert_int_equal(x->kind, y->kind);
  assert_same_schedule(&x->learning_rate, &y->learning_rate);
  assert_true(x->momentum == y->momentum && x->nesterov == y->nesterov);
  assert_true(x->beta_1 == y->beta_1 && x->beta_2 == y->beta_2 && x->epsilon == y->epsilon);
  assert_true(x->rho == y->rho && x->centered == y->centered);
  assert_int_equal(a->has_loss, b->has_loss);
  assert_int_equal(a->loss, b->loss);
  assert_int_equal(a->from_logits, b->from_logits);
  assert_int_equal(a->n_metrics, b->n_metrics);
  for (int i = 0; i < a->n_metrics; i++)
    assert_string_equal(a->metrics[i], b->metrics[i]);
}

static const char *const round_trip_configs[] = {
    ADAM_COSINE,
    "{\"optimizer\": {\"class_name\": \"SGD\", \"config\": {\"learning_rate\": {\"class_name\": "
    "\"InverseTimeDecay\", \"config\": {\"initial_learning_rate\": 0.3, \"decay_steps\": 7, "
    "\"decay_rate\": 0.25, \"staircase\": true}}, \"momentum\": 0.9, \"nesterov\": true}}, "
    "\"loss\": {\"class_name\": \"SparseCategoricalCrossentropy\", \"config\": "
    "{\"from_logits\": true}}, \"metrics\": [\"accuracy\", \"mae\"]}",
    "{\"optimizer\": {\"class_name\": \"RMSprop\", \"config\": {\"learning_rate\": {\"class_name\": "
    "\"PiecewiseConstantDecay\", \"config\": {\"boundaries\": [3, 9], \"values\": [0.1, 0.05, "
    "0.0125]}}, \"rho\": 0.95, \"momentum\": 0.1, \"centered\": true, \"epsilon\": 1e-05}}, "
    "\"loss\": \"categorical_crossentropy\"}",
    "{\"optimizer\": {\"class_name\": \"Adam\", \"config\": {\"learning_rate\": {\"class_name\": "
    "\"ExponentialDecay\", \"config\": {\"initial_learning_rate\": 0.0007, \"decay_steps\": 1000, "
    "\"decay_rate\": 0.96}}}}, \"loss\": null, \"metrics\": null}",
};

static const char *tmp_path(const char *dir, const char *name) {
  static char path[4200];
  snprintf(path, sizeof path, "%.4000s/%.100s", dir, name);
  return path;
}

/* Parse, write in every layout that holds an architecture, load again: the
 * same configuration. */
static void round_trips(void **state) {
  (void)state;
  static const struct {
    const char *name;
    spd_keras_file_t file;
  } layouts[] = {{"m.json", SPD_KERAS_FILE_JSON},
                 {"m.keras", SPD_KERAS_FILE_ARCHIVE},
                 {"m.h5", SPD_KERAS_FILE_H5_MODEL}};
  const char *dir = spd_test_tmpdir();
  char dir_copy[4096];
  snprintf(dir_copy, sizeof dir_copy, "%s", dir);
  for (size_t i = 0; i < sizeof round_trip_configs / sizeof round_trip_configs[0]; i++) {
    spd_ctx_t ctx;
    spd_ctx_init(&ctx);
    spd_model_t *m = NULL;
    assert_int_equal(parse_with(&ctx, round_trip_configs[i], &m), 0);
    for (size_t k = 0; k < sizeof layouts / sizeof layouts[0]; k++) {
      const char *path = tmp_path(dir_copy, layouts[k].name);
      if (spd_keras_save(m, path, layouts[k].file))
        fail_msg("save %s: %s", layouts[k].name, spd_ctx_message(&ctx));
      spd_model_t *back = NULL;
      if (spd_keras_model_load(&ctx, path, 0, &back))
        fail_msg("config %zu, %s: %s", i, layouts[k].name, spd_ctx_message(&ctx));
      assert_same_compile(m->compile, back->compile);
      spd_model_free(back);
    }
    /* JSON files of both forms hold Keras 3's compile_config. */
    for (int form = SPD_KERAS_JSON_TF2; form <= SPD_KERAS_JSON_KERAS3; form++) {
      char *json = NULL;
      assert_int_equal(spd_keras_json_format(m, (spd_keras_json_form_t)form, &json), 0);
      assert_non_null(strstr(json, "\"compile_config\": {\"optimizer\": {\"module\": "
                                   "\"keras.optimizers\""));
      spd_free(&ctx, json);
    }
    /* Keras 3's text, and tf.keras 2's training_config, read back. */
    for (int legacy = 0; legacy < 2; legacy++) {
      char *text = NULL;
      assert_int_equal(spd__keras_compile_format(&ctx, m->compile, legacy, &text), 0);
      spd_compile_config_t back;
      assert_int_equal(read_object(&ctx, text, &back), 0);
      assert_same_compile(m->compile, &back);
      assert_non_null(strstr(text, legacy ? "\"optimizer_config\": {\"class_name\""
                                          : "\"optimizer\": {\"module\": \"keras.optimizers\""));
      spd_free(&ctx, text);
    }
    spd_model_free(m);
  }
  spd_test_rmtree(dir_copy);
}

/* A model without one writes none, and spd_model_set_compile(NULL) removes it. */
static void absent_and_removed(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = NULL;
  assert_int_equal(parse_with(&ctx, "null", &m), 0);
  assert_null(m->compile);
  char *text = NULL;
  assert_int_equal(spd_keras_json_format(m, SPD_KERAS_JSON_KERAS3, &text), 0);
  assert_null(strstr(text, "compile_config"));
  spd_free(&ctx, text);
  spd_model_free(m);
  assert_int_equal(parse_with(&ctx, ADAM_COSINE, &m), 0);
  assert_int_equal(spd_model_set_compile(m, NULL), 0);
  assert_null(m->compile);
  spd_model_free(m);
}

static int parse_call(spd_ctx_t *ctx, void *arg) {
  spd_model_t *m = NULL;
  int err = parse_with(ctx, (const char *)arg, &m);
  char *text = NULL;
  if (!err)
    err = spd_keras_json_format(m, SPD_KERAS_JSON_KERAS3, &text);
  spd_free(ctx, text);
  spd_model_free(m);
  return err;
}

static void out_of_memory_anywhere(void **state) {
  (void)state;
  assert_true(spd_test_alloc_each(parse_call, (void *)ADAM_COSINE) > 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(keras3_adam_with_cosine_decay),
      cmocka_unit_test(sgd_rmsprop_schedules_and_loss_objects),
      cmocka_unit_test(legacy_lr_and_decay),
      cmocka_unit_test(bad_values_are_named),
      cmocka_unit_test(round_trips),
      cmocka_unit_test(absent_and_removed),
      cmocka_unit_test(out_of_memory_anywhere),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
