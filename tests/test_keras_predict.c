/* Keras files written by h5py (tests/python/keras_h5_writer.py, run here) in
 * the legacy tf.keras 2 layout load into spindle and predict what a NumPy
 * forward pass of the same weights predicts: the MLP from save_weights()
 * with examples/mlp.json, LeNet-5 from a save() full-model file. */
#include "test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spindle/keras.h"
#include "spindle/reference.h"
#include "spindle/spindle.h"

#define BATCH 4
#define CLASSES 10

static const char *dir;

static int write_files(void **state) {
  (void)state;
  dir = spd_test_tmpdir();
  if (!dir)
    return -1;
  char command[8400];
  snprintf(command, sizeof command, "/usr/bin/python3 '%s' '%s'",
           spd_test_source_path("tests/python/keras_h5_writer.py"), dir);
  return system(command) == 0 ? 0 : -1;
}

static int remove_files(void **state) {
  (void)state;
  spd_test_rmtree(dir);
  return 0;
}

static void read_floats(const char *name, float *dst, size_t n) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  assert_int_equal(fread(dst, sizeof(float), n, f), n);
  fclose(f);
}

/* Predictions of @p m for the writer's inputs equal NumPy's within 1e-5
 * relative (float32 sums in a different order). */
static void check_predictions(spd_model_t *m, const char *name) {
  static float x[BATCH * 28 * 28], want[BATCH * CLASSES];
  char file[64];
  snprintf(file, sizeof file, "%s_x.f32", name);
  read_floats(file, x, BATCH * 28 * 28);
  snprintf(file, sizeof file, "%s_y.f32", name);
  read_floats(file, want, BATCH * CLASSES);
  spd_ref_t *ref;
  assert_int_equal(spd_ref_new(m, BATCH, NULL, &ref), 0);
  assert_int_equal(spd_ref_forward(ref, x, BATCH, false), 0);
  const float *got = spd_ref_output(ref, m->output);
  int mismatches = 0;
  for (int i = 0; i < BATCH * CLASSES; i++) {
    float tol = 1e-5f * fmaxf(fabsf(want[i]), 1e-3f);
    if (fabsf(got[i] - want[i]) > tol && mismatches++ < 5)
      fprintf(stderr, "%s: prediction %d: spindle %.9g, NumPy %.9g\n", name, i, got[i], want[i]);
  }
  spd_ref_free(ref);
  assert_int_equal(mismatches, 0);
}

static void mlp_weights_predict_as_numpy(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = NULL;
  assert_int_equal(spd_keras_json_load(&ctx, spd_test_source_path("examples/mlp.json"), 0, &m), 0);
  char path[4200];
  snprintf(path, sizeof path, "%s/mlp_weights.h5", dir);
  int rc = spd_keras_weights_load(m, path);
  if (rc)
    fprintf(stderr, "%s\n", spd_ctx_message(&ctx));
  assert_int_equal(rc, 0);
  check_predictions(m, "mlp");
  spd_model_free(m);
}

static void lenet5_model_predicts_as_numpy(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = NULL;
  char path[4200];
  snprintf(path, sizeof path, "%s/lenet5_model.h5", dir);
  int rc = spd_keras_model_load(&ctx, path, 0, &m);
  if (rc)
    fprintf(stderr, "%s\n", spd_ctx_message(&ctx));
  assert_int_equal(rc, 0);
  check_predictions(m, "lenet5");
  spd_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(mlp_weights_predict_as_numpy),
      cmocka_unit_test(lenet5_model_predicts_as_numpy),
  };
  return cmocka_run_group_tests(tests, write_files, remove_files);
}
