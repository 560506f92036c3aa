/* io/: Keras weights in HDF5 (legacy .h5 weights and full models, Keras 3
 * .weights.h5) and .keras archives: round trips of every layout, layer_names
 * split over numbered attributes, and rejected files (missing weights, wrong
 * shapes, truncated or foreign files) that leave the model untouched. */
#include "test_support.h"

#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "spindle/keras.h"
#include "spindle/spindle.h"

#define SEQ_MODEL(dense_units)                                                                  \
  "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"seq\", \"layers\": ["               \
  "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 6, 6, 2], "       \
  "\"name\": \"in\"}}, {\"class_name\": \"Conv2D\", \"config\": {\"name\": \"conv2d\", "         \
  "\"filters\": 3, \"kernel_size\": [3, 3]}}, {\"class_name\": \"BatchNormalization\", "        \
  "\"config\": {\"name\": \"batch_normalization\"}}, {\"class_name\": \"Flatten\", \"config\": " \
  "{\"name\": \"flatten\"}}, {\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", "     \
  "\"units\": " dense_units "}}"

static const char seq_model[] = SEQ_MODEL("4") "]}}";
static const char seq_wider[] = SEQ_MODEL("5") "]}}";
static const char seq_longer[] =
    SEQ_MODEL("4") ", {\"class_name\": \"Dense\", \"config\": {\"name\": \"extra\", \"units\": 2}}]}}";

static const char branch_model[] =
    "{\"class_name\": \"Functional\", \"config\": {\"name\": \"branchy\", \"layers\": ["
    "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 8]}, \"name\": "
    "\"input_1\", \"inbound_nodes\": []},"
    "{\"class_name\": \"Dense\", \"config\": {\"units\": 4}, \"name\": \"a\", \"inbound_nodes\": "
    "[[[\"input_1\", 0, 0, {}]]]},"
    "{\"class_name\": \"Dense\", \"config\": {\"units\": 4}, \"name\": \"b\", \"inbound_nodes\": "
    "[[[\"input_1\", 0, 0, {}]]]},"
    "{\"class_name\": \"Add\", \"config\": {}, \"name\": \"add\", \"inbound_nodes\": "
    "[[[\"a\", 0, 0, {}], [\"b\", 0, 0, {}]]]},"
    "{\"class_name\": \"Dense\", \"config\": {\"units\": 2}, \"name\": \"out\", \"inbound_nodes\": "
    "[[[\"add\", 0, 0, {}]]]}], \"output_layers\": [[\"out\", 0, 0]]}}";

static spd_model_t *model(spd_ctx_t *ctx, const char *json, uint64_t seed) {
  spd_model_t *m = NULL;
  int rc = spd_keras_json_parse(ctx, json, strlen(json), seed, &m);
  if (rc)
    fprintf(stderr, "%s\n", spd_ctx_message(ctx));
  assert_int_equal(rc, 0);
  return m;
}

/* Distinct values everywhere, so a weight read into the wrong place shows. */
static void fill(spd_model_t *m) {
  for (int i = 0; i < m->n_layers; i++)
    for (int p = 0; p < m->layers[i].n_params; p++) {
      spd_tensor_t *t = &m->layers[i].params[p].value;
      for (size_t k = 0; k < spd_shape_size(&t->shape); k++)
        t->data[k] = (float)i * 100.0f + (float)p * 10.0f + (float)k * 0.001f;
    }
}

static void assert_same_params(const spd_model_t *a, const spd_model_t *b) {
  assert_int_equal(a->n_layers, b->n_layers);
  for (int i = 0; i < a->n_layers; i++) {
    assert_int_equal(a->layers[i].n_params, b->layers[i].n_params);
    for (int p = 0; p < a->layers[i].n_params; p++) {
      const spd_tensor_t *x = &a->layers[i].params[p].value, *y = &b->layers[i].params[p].value;
      assert_true(spd_shape_equal(&x->shape, &y->shape));
      assert_memory_equal(x->data, y->data, spd_shape_size(&x->shape) * sizeof(float));
    }
  }
}

static const char *tmp_path(const char *dir, const char *name) {
  static char buf[2][4096];
  static int which;
  which ^= 1;
  snprintf(buf[which], sizeof buf[which], "%s/%s", dir, name);
  return buf[which];
}

static const struct layout {
  spd_keras_file_t file;
  const char *name;
} layouts[] = {
    {SPD_KERAS_FILE_H5_WEIGHTS, "w.h5"},
    {SPD_KERAS_FILE_H5_MODEL, "m.h5"},
    {SPD_KERAS_FILE_WEIGHTS_H5, "w.weights.h5"},
    {SPD_KERAS_FILE_ARCHIVE, "m.keras"},
};
#define N_LAYOUTS (sizeof layouts / sizeof layouts[0])

static void round_trip(const char *json) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  const char *dir = spd_test_tmpdir();
  spd_model_t *m = model(&ctx, json, 1);
  fill(m);
  for (size_t i = 0; i < N_LAYOUTS; i++) {
    const char *path = tmp_path(dir, layouts[i].name);
    int rc = spd_keras_save(m, path, layouts[i].file);
    if (rc)
      fprintf(stderr, "%s\n", spd_ctx_message(&ctx));
    assert_int_equal(rc, 0);
    spd_keras_file_t found;
    assert_int_equal(spd_keras_file_detect(&ctx, path, &found), 0);
    assert_int_equal(found, layouts[i].file);
    spd_model_t *back = model(&ctx, json, 99);
    assert_int_equal(spd_keras_weights_load(back, path), 0);
    assert_same_params(m, back);
    spd_model_free(back);
    if (layouts[i].file == SPD_KERAS_FILE_H5_MODEL || layouts[i].file == SPD_KERAS_FILE_ARCHIVE) {
      rc = spd_keras_model_load(&ctx, path, 5, &back);
      if (rc)
        fprintf(stderr, "%s\n", spd_ctx_message(&ctx));
      assert_int_equal(rc, 0);
      assert_string_equal(back->name, m->name);
      assert_int_equal(back->output, m->output);
      assert_same_params(m, back);
      spd_model_free(back);
    }
  }
  spd_model_free(m);
  spd_test_rmtree(dir);
}

static void round_trips_sequential(void **state) {
  (void)state;
  round_trip(seq_model);
}

static void round_trips_functional(void **state) {
  (void)state;
  round_trip(branch_model);
}

/* Weights of a file written from different layer names load by order, as
 * Keras's load_weights does. */
static void legacy_loads_by_order_when_names_differ(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  const char *dir = spd_test_tmpdir(), *path = tmp_path(dir, "w.h5");
  spd_model_t *m = model(&ctx, branch_model, 1);
  fill(m);
  assert_int_equal(spd_keras_save(m, path, SPD_KERAS_FILE_H5_WEIGHTS), 0);
  spd_model_t *renamed = model(&ctx, branch_model, 2);
  snprintf(renamed->layers[1].config.name, SPD_NAME_MAX, "dense_7");
  assert_int_equal(spd_keras_weights_load(renamed, path), 0);
  assert_same_params(m, renamed);
  spd_model_free(renamed);
  spd_model_free(m);
  spd_test_rmtree(dir);
}

/* 1,100 layers with 60-character names: layer_names is 66,000 bytes, over
 * Keras's 64,512-byte limit, so it is split into layer_names0 and 1. */
static spd_model_t *many_layers(spd_ctx_t *ctx, uint64_t seed) {
  spd_model_t *m;
  assert_int_equal(spd_model_new(ctx, "deep", &m), 0);
  spd_layer_config_t cfg;
  spd_layer_config_defaults(&cfg, SPD_LAYER_INPUT, "in");
  cfg.input_shape = (spd_shape_t){1, {2}};
  assert_int_equal(spd_model_add(m, &cfg, NULL, 0, NULL), 0);
  for (int i = 0; i < 1100; i++) {
    char name[SPD_NAME_MAX];
    snprintf(name, sizeof name, "a_dense_layer_with_a_name_long_enough_to_split_attrs_%07d", i);
    spd_layer_config_defaults(&cfg, SPD_LAYER_DENSE, name);
    cfg.units = 2;
    int prev = i;
    assert_int_equal(spd_model_add(m, &cfg, &prev, 1, NULL), 0);
  }
  assert_int_equal(spd_model_build(m, seed), 0);
  return m;
}

static void split_layer_names(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  const char *dir = spd_test_tmpdir(), *path = tmp_path(dir, "deep.h5");
  spd_model_t *m = many_layers(&ctx, 1);
  fill(m);
  assert_int_equal(spd_keras_save(m, path, SPD_KERAS_FILE_H5_WEIGHTS), 0);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  assert_true(f >= 0);
  assert_int_equal(H5Aexists(f, "layer_names"), 0);
  assert_true(H5Aexists(f, "layer_names0") > 0);
  assert_true(H5Aexists(f, "layer_names1") > 0);
  assert_int_equal(H5Aexists(f, "layer_names2"), 0);
  H5Fclose(f);
  spd_model_t *back = many_layers(&ctx, 2);
  assert_int_equal(spd_keras_weights_load(back, path), 0);
  assert_same_params(m, back);
  spd_model_free(back);
  spd_model_free(m);
  spd_test_rmtree(dir);
}

/* Load @p path into a model of @p json and expect @p code with every needle
 * in the diagnostic and the model's parameters unchanged. */
static void expect_rejected(const char *json, const char *path, int code,
                            const char *const *needles) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = model(&ctx, json, 3), *before = model(&ctx, json, 3);
  int rc = spd_keras_weights_load(m, path);
  if (rc != code)
    fprintf(stderr, "%s: got %s (%s)\n", path, spd_err_name(rc), spd_ctx_message(&ctx));
  assert_int_equal(rc, code);
  for (; *needles; needles++) {
    if (!strstr(spd_ctx_message(&ctx), *needles))
      fprintf(stderr, "diagnostic '%s' lacks '%s'\n", spd_ctx_message(&ctx), *needles);
    assert_non_null(strstr(spd_ctx_message(&ctx), *needles));
  }
  assert_same_params(m, before);
  spd_model_free(before);
  spd_model_free(m);
}

static void save_seq(const char *path, spd_keras_file_t file) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = model(&ctx, seq_model, 1);
  fill(m);
  assert_int_equal(spd_keras_save(m, path, file), 0);
  spd_model_free(m);
}

static void missing_weights(void **state) {
  (void)state;
  const char *dir = spd_test_tmpdir();
  for (size_t i = 0; i < N_LAYOUTS; i++) {
    const char *path = tmp_path(dir, layouts[i].name);
    save_seq(path, layouts[i].file);
    bool keras3 = layouts[i].file == SPD_KERAS_FILE_WEIGHTS_H5 ||
                  layouts[i].file == SPD_KERAS_FILE_ARCHIVE;
    const char *legacy[] = {"'extra'", "no weights", NULL};
    const char *k3[] = {"'extra'", "layers/dense_1/vars", NULL};
    expect_rejected(seq_longer, path, SPD_ENOTFOUND, keras3 ? k3 : legacy);
  }
  spd_test_rmtree(dir);
}

static void wrong_shapes(void **state) {
  (void)state;
  const char *dir = spd_test_tmpdir();
  for (size_t i = 0; i < N_LAYOUTS; i++) {
    const char *path = tmp_path(dir, layouts[i].name);
    save_seq(path, layouts[i].file);
    const char *needles[] = {"layer 'dense'", "'kernel'", "(48, 4) in the file",
                             "model expects (48, 5)", NULL};
    expect_rejected(seq_wider, path, SPD_ESHAPE, needles);
  }
  spd_test_rmtree(dir);
}

static void truncated_and_foreign_files(void **state) {
  (void)state;
  const char *dir = spd_test_tmpdir();
  for (size_t i = 0; i < N_LAYOUTS; i++) {
    const char *path = tmp_path(dir, layouts[i].name);
    save_seq(path, layouts[i].file);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    assert_int_equal(truncate(path, size / 2), 0);
    const char *none[] = {NULL};
    expect_rejected(seq_model, path, SPD_EFORMAT, none);
  }
  const char *text = tmp_path(dir, "notes.h5");
  FILE *f = fopen(text, "w");
  assert_non_null(f);
  fputs("not weights at all\n", f);
  fclose(f);
  const char *foreign[] = {"not an HDF5 file", NULL};
  expect_rejected(seq_model, text, SPD_EFORMAT, foreign);
  const char *absent[] = {"cannot open", NULL};
  expect_rejected(seq_model, tmp_path(dir, "absent.h5"), SPD_EIO, absent);
  /* An HDF5 file that is not a Keras one. */
  const char *other = tmp_path(dir, "other.h5");
  hid_t h = H5Fcreate(other, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  assert_true(h >= 0);
  H5Fclose(h);
  const char *not_keras[] = {"not Keras", NULL};
  expect_rejected(seq_model, other, SPD_EFORMAT, not_keras);
  spd_test_rmtree(dir);
}

/* A weights-only file is not a whole model. */
static void weights_only_file_is_not_a_model(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  const char *dir = spd_test_tmpdir(), *path = tmp_path(dir, "w.h5");
  save_seq(path, SPD_KERAS_FILE_H5_WEIGHTS);
  spd_model_t *m = NULL;
  assert_int_equal(spd_keras_model_load(&ctx, path, 0, &m), SPD_EFORMAT);
  assert_null(m);
  assert_non_null(strstr(spd_ctx_message(&ctx), "weights only"));
  spd_test_rmtree(dir);
}

/* spd_keras_model_load tells the files apart by their contents. */
static void model_load_detects_files(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  const char *dir = spd_test_tmpdir(), *json = tmp_path(dir, "model.txt");
  FILE *f = fopen(json, "w");
  assert_non_null(f);
  fprintf(f, "\n  %s", seq_model);
  fclose(f);
  spd_model_t *m = NULL;
  assert_int_equal(spd_keras_model_load(&ctx, json, 0, &m), 0);
  assert_int_equal(m->n_layers, 5);
  spd_model_free(m);
  m = NULL;
  const char *binary = tmp_path(dir, "model.bin");
  f = fopen(binary, "wb");
  assert_non_null(f);
  fwrite("\x01\x02\x03\x04\x05\x06\x07\x08\x09", 1, 9, f);
  fclose(f);
  assert_int_equal(spd_keras_model_load(&ctx, binary, 0, &m), SPD_EFORMAT);
  assert_null(m);
  assert_non_null(strstr(spd_ctx_message(&ctx), "not a Keras file"));
  spd_test_rmtree(dir);
}

/* A failed save leaves no file behind and the old file intact. */
static void failed_save_leaves_old_file(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  const char *dir = spd_test_tmpdir(), *path = tmp_path(dir, "w.h5");
  save_seq(path, SPD_KERAS_FILE_H5_WEIGHTS);
  spd_model_t *m = model(&ctx, seq_model, 1);
  assert_int_equal(spd_keras_save(m, tmp_path(dir, "missing/dir/w.h5"), SPD_KERAS_FILE_H5_WEIGHTS),
                   SPD_EIO);
  assert_int_equal(spd_keras_save(m, path, (spd_keras_file_t)99), SPD_EINVAL);
  spd_model_free(m);
  spd_model_t *back = model(&ctx, seq_model, 2);
  assert_int_equal(spd_keras_weights_load(back, path), 0);
  assert_true(fabsf(back->layers[4].params[0].value.data[1] - 400.001f) < 1e-3f);
  spd_model_free(back);
  char command[4200];
  snprintf(command, sizeof command, "test $(ls '%s' | wc -l) -eq 1", dir);
  assert_int_equal(system(command), 0);
  spd_test_rmtree(dir);
}

static void allocation_failures(void **state) {
  (void)state;
  const char *dir = spd_test_tmpdir();
  for (size_t i = 0; i < N_LAYOUTS; i++) {
    const char *path = tmp_path(dir, layouts[i].name);
    save_seq(path, layouts[i].file);
    for (uint64_t n = 1;; n++) {
      spd_ctx_t ctx;
      spd_ctx_init(&ctx);
      spd_model_t *m = model(&ctx, seq_model, 1);
      spd_test_alloc_t ta;
      spd_test_alloc_install(&ctx, &ta, n);
      int rc = spd_keras_weights_load(m, path);
      if (rc == 0)
        rc = spd_keras_save(m, tmp_path(dir, layouts[i].name), layouts[i].file);
      assert_int_equal(ta.live, 0);
      spd_ctx_init(&ctx); /* the model's own blocks came from the system allocator */
      spd_model_free(m);
      if (ta.failed == 0) {
        assert_int_equal(rc, 0);
        break;
      }
      assert_int_equal(rc, SPD_ENOMEM);
    }
  }
  spd_test_rmtree(dir);
}

/* Every HDF5 file, group, dataset and attribute spindle opened is closed
 * again, on success and on every failure above. */
static void no_hdf5_objects_left_open(void **state) {
  (void)state;
  assert_int_equal(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(round_trips_sequential),
      cmocka_unit_test(round_trips_functional),
      cmocka_unit_test(legacy_loads_by_order_when_names_differ),
      cmocka_unit_test(split_layer_names),
      cmocka_unit_test(missing_weights),
      cmocka_unit_test(wrong_shapes),
      cmocka_unit_test(truncated_and_foreign_files),
      cmocka_unit_test(weights_only_file_is_not_a_model),
      cmocka_unit_test(model_load_detects_files),
      cmocka_unit_test(failed_save_leaves_old_file),
      cmocka_unit_test(allocation_failures),
      cmocka_unit_test(no_hdf5_objects_left_open),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
