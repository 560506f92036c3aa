/* run/checkpoint: a run stopped by should_stop_cb (inside an epoch) and
 * resumed from its checkpoint ends with the weights and history of a run
 * that never stopped, in float and in fixed point (Adam's moments,
 * BatchNormalization's moving statistics and Dropout's masks included); a
 * checkpoint of another run or a damaged one is refused with a diagnostic
 * naming the difference; the folder holds no temporary files. */
#include "test_models.h"
#include "test_support.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spindle/checkpoint.h"
#include "spindle/fit_fixed.h"
#include "spindle/rng.h"

enum { IN = 6, CLASSES = 3, N = 150, BATCH = 10, STEPS = N / BATCH };

/* Every model shares one context, so the tests can read its diagnostics. */
static spd_ctx_t ctx;

static spd_model_t *net(int hidden) {
  spd_layer_config_t layers[4];
  layers[0] = spd_test_dense("hidden", hidden, SPD_ACT_RELU);
  spd_layer_config_defaults(&layers[1], SPD_LAYER_BATCHNORM, "bn");
  layers[2] = spd_test_dropout("drop", 0.25, 0);
  layers[3] = spd_test_dense("out", CLASSES, SPD_ACT_SOFTMAX);
  return spd_test_stack(&ctx, "ckpt", (spd_shape_t){1, {IN}}, layers, 4, 5);
}

static float xs[N * IN];
static int32_t labels[N];

static spd_fit_data_t data(void) {
  spd_rng_t rng;
  spd_rng_init(&rng, 12, 0);
  for (int s = 0; s < N; s++) {
    labels[s] = s % CLASSES;
    for (int j = 0; j < IN; j++)
      xs[s * IN + j] = (float)fmin(1, fmax(0, 0.2 + 0.3 * ((labels[s] + j) % CLASSES) +
                                               0.1 * spd_rng_normal(&rng)));
  }
  return (spd_fit_data_t){.n = N, .sample_shape = {1, {IN}}, .x = xs,
                          .y = {.n = N, .labels = labels}};
}

static void config(spd_fit_config_t *cfg, int epochs) {
  spd_fit_config_defaults(cfg);
  cfg->epochs = epochs;
  cfg->batch_size = BATCH;
  cfg->seed = 9;
  spd_optimizer_config_defaults(&cfg->optimizer, SPD_OPT_ADAM);
}

/* Stops before batch stop_at (counted over the whole run). */
static int polls, stop_at;
static bool stop_after(void *ud) {
  (void)ud;
  return polls++ >= stop_at;
}

static int fit(bool fixed, spd_model_t *m, const spd_fit_config_t *cfg,
               const spd_fit_data_t *d, spd_history_t *h) {
  return fixed ? spd_fit_fixed(m, cfg, d, h, NULL) : spd_fit_float(m, cfg, d, h);
}

static void expect_same_weights(const spd_model_t *a, const spd_model_t *b) {
  for (int l = 0; l < a->n_layers; l++)
    for (int p = 0; p < a->layers[l].n_params; p++) {
      const spd_tensor_t *x = &a->layers[l].params[p].value, *y = &b->layers[l].params[p].value;
      size_t n = spd_shape_size(&x->shape);
      for (size_t e = 0; e < n; e++)
        if (memcmp(&x->data[e], &y->data[e], sizeof(float)))
          fail_msg("layer %d param %d element %zu: %.9g vs %.9g", l, p, e, x->data[e],
                   y->data[e]);
    }
}

static int count_entries(const char *dir, const char *containing) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    n += e->d_name[0] != '.' && (!containing || strstr(e->d_name, containing));
  closedir(d);
  return n;
}

static void resume_is_bit_identical(bool fixed) {
  spd_fit_data_t d = data();
  const char *dir = spd_test_tmpdir();
  assert_non_null(dir);
  spd_fit_config_t cfg;
  config(&cfg, 3);
  spd_model_t *straight = net(12), *stopped = net(12), *resumed = net(12);
  spd_history_t hs, hr;
  assert_int_equal(fit(fixed, straight, &cfg, &d, &hs), 0);

  /* Stop inside the second epoch: 5 of its batches done. */
  cfg.checkpoint_dir = dir;
  cfg.callbacks.should_stop_cb = stop_after;
  polls = 0;
  stop_at = STEPS + 5;
  assert_int_equal(fit(fixed, stopped, &cfg, &d, NULL), SPD_EINTERRUPTED);
  assert_non_null(strstr(spd_ctx_message(stopped->ctx), "epoch 2/3 after batch 5/15"));
  assert_int_equal(count_entries(dir, NULL), 3);
  assert_int_equal(count_entries(dir, ".tmp-"), 0);

  spd_checkpoint_t *ck = NULL;
  assert_int_equal(spd_checkpoint_open(NULL, dir, &ck), 0);
  spd_checkpoint_info_t info;
  spd_checkpoint_info(ck, &info);
  assert_int_equal(info.epochs_done, 1);
  assert_int_equal(info.batches_done, 5);
  assert_int_equal(info.step, STEPS + 5);
  assert_string_equal(info.numeric, fixed ? "fixed" : "float");

  cfg.callbacks.should_stop_cb = NULL;
  cfg.resume = ck;
  assert_int_equal(fit(fixed, resumed, &cfg, &d, &hr), 0);
  expect_same_weights(straight, resumed);
  assert_int_equal(hr.n_epochs, 3);
  for (int e = 0; e < 3; e++) {
    assert_true(hs.epochs[e].loss == hr.epochs[e].loss);
    assert_true(hs.epochs[e].accuracy == hr.epochs[e].accuracy);
  }
  /* The final checkpoint replaced the stopped one's files. */
  assert_int_equal(count_entries(dir, NULL), 3);
  spd_checkpoint_free(ck);
  spd_history_free(&hs);
  spd_history_free(&hr);
  spd_model_free(straight);
  spd_model_free(stopped);
  spd_model_free(resumed);
  spd_test_rmtree(dir);
}

static void float_resume_is_bit_identical(void **state) {
  (void)state;
  resume_is_bit_identical(false);
}

static void fixed_resume_is_bit_identical(void **state) {
  (void)state;
  resume_is_bit_identical(true);
}

/* One epoch's checkpoint in a new folder; the caller frees both. */
static const char *one_epoch(spd_model_t **m) {
  spd_fit_data_t d = data();
  const char *dir = spd_test_tmpdir();
  assert_non_null(dir);
  spd_fit_config_t cfg;
  config(&cfg, 1);
  cfg.checkpoint_dir = dir;
  *m = net(12);
  assert_int_equal(spd_fit_float(*m, &cfg, &d, NULL), 0);
  return dir;
}

static void expect_refused(bool fixed, spd_model_t *m, const spd_fit_config_t *cfg,
                           int code, const char *says) {
  spd_fit_data_t d = data();
  assert_int_equal(fit(fixed, m, cfg, &d, NULL), code);
  if (!strstr(spd_ctx_message(m->ctx), says))
    fail_msg("'%s' does not say '%s'", spd_ctx_message(m->ctx), says);
}

static void another_run_is_refused(void **state) {
  (void)state;
  spd_model_t *m = NULL;
  const char *dir = one_epoch(&m);
  spd_checkpoint_t *ck = NULL;
  assert_int_equal(spd_checkpoint_open(NULL, dir, &ck), 0);
  spd_fit_config_t cfg;
  config(&cfg, 2);
  cfg.resume = ck;
  expect_refused(true, m, &cfg, SPD_EFORMAT, "its numeric is \"float\", this run's is \"fixed\"");
  spd_model_t *wider = net(13);
  expect_refused(false, wider, &cfg, SPD_EFORMAT, "its model.");
  spd_optimizer_config_defaults(&cfg.optimizer, SPD_OPT_RMSPROP);
  expect_refused(false, m, &cfg, SPD_EFORMAT,
                 "its optimizer.kind is \"adam\", this run's is \"rmsprop\"");
  config(&cfg, 2);
  cfg.resume = ck;
  cfg.seed = 10;
  expect_refused(false, m, &cfg, SPD_EFORMAT, "its seed");
  config(&cfg, 1);
  cfg.resume = ck;
  spd_fit_data_t d = data();
  assert_int_equal(spd_fit_float(m, &cfg, &d, NULL), 0); /* nothing left to train */
  config(&cfg, 2);
  cfg.resume = ck;
  assert_int_equal(spd_fit_float(m, &cfg, &d, NULL), 0);
  spd_checkpoint_free(ck);
  spd_model_free(wider);
  spd_model_free(m);
  spd_test_rmtree(dir);
}

/* A fit that carries on a checkpoint's optimizer (spd_checkpoint_set_carry),
 * and one that carries on that one's, train as one fit of all their epochs:
 * 1 + 1 + 1 epochs as 3, shuffled, with Adam, BatchNormalization and
 * Dropout; the second fit's history counts its epochs from 0. */
static void carry_is_bit_identical(bool fixed) {
  spd_fit_data_t d = data();
  const char *dirs[2] = {spd_test_tmpdir(), spd_test_tmpdir()};
  assert_non_null(dirs[0]);
  assert_non_null(dirs[1]);
  spd_fit_config_t cfg;
  config(&cfg, 3);
  spd_model_t *straight = net(12), *carried = net(12);
  spd_history_t hs, hc;
  assert_int_equal(fit(fixed, straight, &cfg, &d, &hs), 0);
  config(&cfg, 1);
  cfg.checkpoint_dir = dirs[0];
  assert_int_equal(fit(fixed, carried, &cfg, &d, NULL), 0);
  for (int k = 0; k < 2; k++) {
    spd_checkpoint_t *ck = NULL;
    assert_int_equal(spd_checkpoint_open(NULL, dirs[k], &ck), 0);
    spd_checkpoint_set_carry(ck);
    cfg.resume = ck;
    cfg.checkpoint_dir = k == 0 ? dirs[1] : NULL;
    assert_int_equal(fit(fixed, carried, &cfg, &d, &hc), 0);
    assert_int_equal(hc.n_epochs, 1);
    assert_true(hc.epochs[0].epoch == 0);
    assert_true(hc.epochs[0].loss == hs.epochs[k + 1].loss);
    assert_true(hc.epochs[0].accuracy == hs.epochs[k + 1].accuracy);
    spd_history_free(&hc);
    spd_checkpoint_free(ck);
  }
  expect_same_weights(straight, carried);
  /* The carried fit's checkpoint stands at the optimizer's step. */
  spd_checkpoint_t *ck = NULL;
  assert_int_equal(spd_checkpoint_open(NULL, dirs[1], &ck), 0);
  spd_checkpoint_info_t info;
  spd_checkpoint_info(ck, &info);
  assert_int_equal(info.epochs_done, 1);
  assert_int_equal(info.step, 2 * STEPS);
  spd_checkpoint_free(ck);
  spd_history_free(&hs);
  spd_model_free(straight);
  spd_model_free(carried);
  spd_test_rmtree(dirs[0]);
  spd_test_rmtree(dirs[1]);
}

static void float_carry_is_bit_identical(void **state) {
  (void)state;
  carry_is_bit_identical(false);
}

static void fixed_carry_is_bit_identical(void **state) {
  (void)state;
  carry_is_bit_identical(true);
}

/* A carried fit stopped inside an epoch and resumed from its checkpoint
 * ends as the carried fit that never stopped: 1 epoch, then 2 carried on
 * (stopped in the second) resumed, train as 3 straight. */
static void carried_fit_resumes(bool fixed) {
  spd_fit_data_t d = data();
  const char *dirs[2] = {spd_test_tmpdir(), spd_test_tmpdir()};
  assert_non_null(dirs[0]);
  assert_non_null(dirs[1]);
  spd_fit_config_t cfg;
  config(&cfg, 3);
  spd_model_t *straight = net(12), *carried = net(12);
  spd_history_t hs, hc;
  assert_int_equal(fit(fixed, straight, &cfg, &d, &hs), 0);
  config(&cfg, 1);
  cfg.checkpoint_dir = dirs[0];
  assert_int_equal(fit(fixed, carried, &cfg, &d, NULL), 0);
  spd_checkpoint_t *first = NULL, *stopped = NULL;
  assert_int_equal(spd_checkpoint_open(NULL, dirs[0], &first), 0);
  spd_checkpoint_set_carry(first);
  config(&cfg, 2);
  cfg.resume = first;
  cfg.checkpoint_dir = dirs[1];
  cfg.callbacks.should_stop_cb = stop_after;
  polls = 0;
  stop_at = STEPS + 5;
  assert_int_equal(fit(fixed, carried, &cfg, &d, NULL), SPD_EINTERRUPTED);
  assert_int_equal(spd_checkpoint_open(NULL, dirs[1], &stopped), 0);
  spd_checkpoint_info_t info;
  spd_checkpoint_info(stopped, &info);
  assert_int_equal(info.epochs_done, 1);
  assert_int_equal(info.step, 2 * STEPS + 5);
  cfg.resume = stopped;
  cfg.callbacks.should_stop_cb = NULL;
  assert_int_equal(fit(fixed, carried, &cfg, &d, &hc), 0);
  expect_same_weights(straight, carried);
  assert_int_equal(hc.n_epochs, 2);
  for (int e = 0; e < 2; e++)
    assert_true(hc.epochs[e].loss == hs.epochs[e + 1].loss);
  spd_checkpoint_free(first);
  spd_checkpoint_free(stopped);
  spd_history_free(&hs);
  spd_history_free(&hc);
  spd_model_free(straight);
  spd_model_free(carried);
  spd_test_rmtree(dirs[0]);
  spd_test_rmtree(dirs[1]);
}

static void float_carried_fit_resumes(void **state) {
  (void)state;
  carried_fit_resumes(false);
}

static void fixed_carried_fit_resumes(void **state) {
  (void)state;
  carried_fit_resumes(true);
}

/* A carried optimizer takes other data, seed and batch size, not another
 * optimizer kind or numeric. */
static void carry_checks_the_optimizer_only(void **state) {
  (void)state;
  spd_model_t *m = NULL;
  const char *dir = one_epoch(&m);
  spd_checkpoint_t *ck = NULL;
  assert_int_equal(spd_checkpoint_open(NULL, dir, &ck), 0);
  spd_checkpoint_set_carry(ck);
  spd_fit_config_t cfg;
  config(&cfg, 1);
  cfg.resume = ck;
  expect_refused(true, m, &cfg, SPD_EFORMAT, "cannot carry on into this fit: its numeric");
  spd_optimizer_config_defaults(&cfg.optimizer, SPD_OPT_SGD);
  expect_refused(false, m, &cfg, SPD_EFORMAT,
                 "its optimizer.kind is \"adam\", this fit's is \"sgd\"");
  config(&cfg, 1);
  cfg.resume = ck;
  cfg.seed = 10;
  cfg.batch_size = 7;
  spd_fit_data_t d = data();
  d.n = 100;
  d.y.n = 100;
  assert_int_equal(spd_fit_float(m, &cfg, &d, NULL), 0);
  /* In fixed point the schedule is checked from the carried step on: one
   * whose rate decays below 2^-31 by then is refused, not run. */
  config(&cfg, 1);
  cfg.resume = NULL;
  cfg.checkpoint_dir = dir;
  cfg.optimizer.learning_rate = (spd_lr_schedule_t){.kind = SPD_LR_EXPONENTIAL_DECAY,
                                                    .initial_learning_rate = 0.01,
                                                    .decay_steps = STEPS, .decay_rate = 1e-4};
  spd_model_t *fx = net(12);
  d = data();
  assert_int_equal(spd_fit_fixed(fx, &cfg, &d, NULL, NULL), 0); /* 1e-6 at its last step */
  spd_checkpoint_t *fck = NULL;
  assert_int_equal(spd_checkpoint_open(NULL, dir, &fck), 0);
  spd_checkpoint_set_carry(fck);
  cfg.resume = fck;
  cfg.checkpoint_dir = NULL;
  /* its one epoch would end at 2e-10 (without the carried steps, 1.8e-6) */
  expect_refused(true, fx, &cfg, SPD_EINVAL, "learning rate");
  spd_checkpoint_free(fck);
  spd_model_free(fx);
  spd_checkpoint_free(ck);
  spd_model_free(m);
  spd_test_rmtree(dir);
}

static void expect_open_fails(const char *dir, int code, const char *says) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_checkpoint_t *ck = NULL;
  assert_int_equal(spd_checkpoint_open(&ctx, dir, &ck), code);
  assert_null(ck);
  if (!strstr(spd_ctx_message(&ctx), says))
    fail_msg("'%s' does not say '%s'", spd_ctx_message(&ctx), says);
}

static void payload_path(const char *dir, const char *prefix, char *out, size_t size) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  out[0] = '\0';
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    if (!strncmp(e->d_name, prefix, strlen(prefix)))
      snprintf(out, size, "%s/%s", dir, e->d_name);
  closedir(d);
  assert_true(out[0] != '\0');
}

static void damaged_checkpoints_are_refused(void **state) {
  (void)state;
  spd_model_t *m = NULL;
  const char *dir = one_epoch(&m);
  char path[4400], manifest[4400];
  size_t len;
  snprintf(manifest, sizeof manifest, "%s/" SPD_CHECKPOINT_MANIFEST, dir);
  char *good = spd_test_read_file(manifest, &len);

  /* A manifest still valid JSON but edited: the position must add up. */
  char *edited = strdup(good);
  char *batch = strstr(edited, "\"batch\":");
  assert_non_null(batch);
  batch[strcspn(batch, "0123456789")] = '7';
  FILE *f = fopen(manifest, "wb");
  assert_non_null(f);
  fputs(edited, f);
  fclose(f);
  spd_checkpoint_t *ck = NULL;
  assert_int_equal(spd_checkpoint_open(NULL, dir, &ck), 0);
  spd_fit_config_t cfg;
  config(&cfg, 2);
  cfg.resume = ck;
  expect_refused(false, m, &cfg, SPD_EFORMAT, "is not one a run of 15 batches per epoch");
  spd_checkpoint_free(ck);
  free(edited);
  f = fopen(manifest, "wb");
  fwrite(good, 1, len, f);
  fclose(f);

  payload_path(dir, "state-", path, sizeof path);
  assert_int_equal(truncate(path, 100), 0);
  expect_open_fails(dir, SPD_EFORMAT, "is truncated or damaged: 100 bytes");

  payload_path(dir, "weights-", path, sizeof path);
  f = fopen(path, "r+b");
  assert_non_null(f);
  fseek(f, 4000, SEEK_SET);
  int c = fgetc(f);
  fseek(f, 4000, SEEK_SET);
  fputc(c ^ 0x40, f);
  fclose(f);
  expect_open_fails(dir, SPD_EFORMAT, "is corrupted: its CRC-32");

  f = fopen(manifest, "wb");
  assert_non_null(f);
  fwrite(good, 1, len / 2, f);
  fclose(f);
  expect_open_fails(dir, SPD_EFORMAT, "is not valid JSON");

  f = fopen(manifest, "wb");
  fputs("{\"format\": \"something-else\", \"version\": 1}", f);
  fclose(f);
  expect_open_fails(dir, SPD_EFORMAT, "is not a spindle checkpoint");

  unlink(manifest);
  expect_open_fails(dir, SPD_EIO, "no checkpoint in");
  free(good);
  spd_model_free(m);
  spd_test_rmtree(dir);
}

static int open_checkpoint(spd_ctx_t *c, void *dir) {
  spd_checkpoint_t *ck = NULL;
  int rc = spd_checkpoint_open(c, dir, &ck);
  if (rc)
    assert_null(ck);
  spd_checkpoint_free(ck);
  return rc;
}

static void open_survives_allocation_failures(void **state) {
  (void)state;
  spd_model_t *m = NULL;
  const char *dir = one_epoch(&m);
  char path[4096];
  snprintf(path, sizeof path, "%s", dir);
  assert_true(spd_test_alloc_each(open_checkpoint, path) > 3);
  spd_model_free(m);
  spd_test_rmtree(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(float_resume_is_bit_identical),
      cmocka_unit_test(fixed_resume_is_bit_identical),
      cmocka_unit_test(another_run_is_refused),
      cmocka_unit_test(float_carry_is_bit_identical),
      cmocka_unit_test(fixed_carry_is_bit_identical),
      cmocka_unit_test(carry_checks_the_optimizer_only),
      cmocka_unit_test(float_carried_fit_resumes),
      cmocka_unit_test(fixed_carried_fit_resumes),
      cmocka_unit_test(damaged_checkpoints_are_refused),
      cmocka_unit_test(open_survives_allocation_failures),
  };
  spd_ctx_init(&ctx);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
