/* Which Keras layout a file is, and the public load/save entry points that
 * dispatch to the layouts (keras_h5_legacy.c, keras_weights_h5.c,
 * keras_archive.c, keras_json_*.c). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "io/file.h"
#include "io/keras_h5.h"
#include "io/keras_json.h"
#include "spindle/onnx.h"

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && !strcmp(s + n - k, suffix);
}

spd_keras_file_t spd_keras_file_from_path(const char *path) {
  if (ends_with(path, ".json"))
    return SPD_KERAS_FILE_JSON;
  if (ends_with(path, ".keras"))
    return SPD_KERAS_FILE_ARCHIVE;
  if (ends_with(path, ".weights.h5"))
    return SPD_KERAS_FILE_WEIGHTS_H5;
  if (ends_with(path, ".h5") || ends_with(path, ".hdf5"))
    return SPD_KERAS_FILE_H5_WEIGHTS;
  return SPD_KERAS_FILE_UNKNOWN;
}

static int open_h5(spd_ctx_t *ctx, const char *path, hid_t *out) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return spd_ctx_fail(ctx, SPD_EIO, "cannot open '%s'", path);
  fclose(f);
  if (H5Fis_hdf5(path) <= 0)
    return spd_ctx_fail(ctx, SPD_EFORMAT, "'%s' is not an HDF5 file", path);
  int err = spd__h5_check_path(ctx, path);
  if (err)
    return err;
  hid_t file_id = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file_id < 0)
    return spd_ctx_fail(ctx, SPD_EFORMAT,
                        "'%s' cannot be opened as HDF5 (truncated or corrupt file)", path);
  *out = file_id;
  return 0;
}

static spd_keras_file_t h5_layout(hid_t file_id) {
  if (spd__h5_has_attr(file_id, "layer_names") || spd__h5_has_attr(file_id, "layer_names0"))
    return SPD_KERAS_FILE_H5_WEIGHTS;
  if (spd__h5_exists(file_id, "model_weights"))
    return SPD_KERAS_FILE_H5_MODEL;
  if (spd__h5_exists(file_id, "layers") || spd__h5_exists(file_id, "vars") ||
      spd__h5_exists(file_id, "_layer_checkpoint_dependencies"))
    return SPD_KERAS_FILE_WEIGHTS_H5;
  return SPD_KERAS_FILE_UNKNOWN;
}

static int sniff(spd_ctx_t *ctx, const char *path, unsigned char magic[8]) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return spd_ctx_fail(ctx, SPD_EIO, "cannot open '%s'", path);
  memset(magic, 0, 8);
  size_t got = fread(magic, 1, 8, f);
  fclose(f);
  (void)got;
  return 0;
}

/* JSON text starts with '{' after optional white space. */
static bool looks_like_json(const unsigned char magic[8]) {
  for (int i = 0; i < 8; i++) {
    if (magic[i] == '{')
      return true;
    if (magic[i] != ' ' && magic[i] != '\t' && magic[i] != '\n' && magic[i] != '\r')
      return false;
  }
  return false;
}

static int detect(spd_ctx_t *ctx, const char *path, spd_keras_file_t *out) {
  unsigned char magic[8];
  int err = sniff(ctx, path, magic);
  if (err)
    return err;
  if (!memcmp(magic, "PK\x03\x04", 4)) {
    *out = SPD_KERAS_FILE_ARCHIVE;
    return 0;
  }
  if (H5Fis_hdf5(path) <= 0) {
    if (!looks_like_json(magic) && spd_keras_file_from_path(path) != SPD_KERAS_FILE_JSON)
      return spd_ctx_fail(ctx, SPD_EFORMAT,
                          "'%s' is not a Keras file (neither architecture JSON, HDF5 nor a "
                          ".keras archive)", path);
    *out = SPD_KERAS_FILE_JSON;
    return 0;
  }
  hid_t file_id;
  err = open_h5(ctx, path, &file_id);
  if (err)
    return err;
  *out = h5_layout(file_id);
  H5Fclose(file_id);
  if (*out == SPD_KERAS_FILE_UNKNOWN)
    return spd_ctx_fail(ctx, SPD_EFORMAT,
                        "'%s': an HDF5 file but not a Keras one (no layer_names, model_weights "
                        "or layers)", path);
  return 0;
}

int spd_keras_file_detect(spd_ctx_t *ctx, const char *path, spd_keras_file_t *out) {
  spd__h5_quiet_t q;
  spd__h5_quiet_begin(&q);
  int err = detect(ctx, path, out);
  spd__h5_quiet_end(&q);
  return err;
}

/* ---- loading weights ---- */

int spd__keras_h5_weights(spd__stage_t *st, hid_t file_id, const char *path) {
  char where[4200];
  snprintf(where, sizeof where, "'%s'", path);
  int err = spd__h5_check_tree(st->m->ctx, file_id, where);
  if (err)
    return err;
  switch (h5_layout(file_id)) {
  case SPD_KERAS_FILE_H5_WEIGHTS:
    err = spd__keras_legacy_read(st, file_id, path);
    break;
  case SPD_KERAS_FILE_H5_MODEL: {
    hid_t g = H5Gopen2(file_id, "model_weights", H5P_DEFAULT);
    err = g < 0 ? spd_ctx_fail(st->m->ctx, SPD_EFORMAT, "'%s': unreadable model_weights", path)
                : spd__keras_legacy_read(st, g, path);
    if (g >= 0)
      H5Gclose(g);
    break;
  }
  case SPD_KERAS_FILE_WEIGHTS_H5:
    err = spd__keras3_read(st, file_id, path);
    break;
  default:
    err = spd_ctx_fail(st->m->ctx, SPD_EFORMAT,
                       "'%s': an HDF5 file but not Keras weights (no layer_names, model_weights "
                       "or layers)", path);
  }
  return err;
}

static int read_h5(spd__stage_t *st, const char *path) {
  hid_t file_id;
  int err = open_h5(st->m->ctx, path, &file_id);
  if (err)
    return err;
  err = spd__keras_h5_weights(st, file_id, path);
  H5Fclose(file_id);
  return err;
}

static int load_weights(spd_model_t *m, const char *path) {
  if (!m->built)
    return spd_ctx_fail(m->ctx, SPD_ESTATE, "model '%s' must be built before loading weights",
                        m->name);
  unsigned char magic[8];
  int err = sniff(m->ctx, path, magic);
  if (err)
    return err;
  spd__stage_t st;
  err = spd__stage_init(&st, m);
  if (err)
    return err;
  err = memcmp(magic, "PK\x03\x04", 4) ? read_h5(&st, path)
                                       : spd__keras_archive_read_weights(&st, path);
  if (!err)
    spd__stage_commit(&st);
  spd__stage_deinit(&st);
  return err;
}

int spd_keras_weights_load(spd_model_t *m, const char *path) {
  spd__h5_quiet_t q;
  spd__h5_quiet_begin(&q);
  int err = load_weights(m, path);
  spd__h5_quiet_end(&q);
  return err;
}

/* ---- saving ---- */

static int write_h5_model(const spd_model_t *m, hid_t file_id) {
  char *config = NULL, *training = NULL;
  int err = spd__keras_json_format(m, SPD_KERAS_JSON_TF2, false, &config);
  if (!err && m->compile)
    err = spd__keras_compile_format(m->ctx, m->compile, true, &training);
  if (!err)
    err = spd__h5_write_string(m->ctx, file_id, "keras_version", "2.11.0");
  if (!err)
    err = spd__h5_write_string(m->ctx, file_id, "backend", "tensorflow");
  if (!err)
    err = spd__h5_write_string(m->ctx, file_id, "model_config", config);
  if (!err && training)
    err = spd__h5_write_string(m->ctx, file_id, "training_config", training);
  spd_free(m->ctx, config);
  spd_free(m->ctx, training);
  if (err)
    return err;
  hid_t g = H5Gcreate2(file_id, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0)
    return spd_ctx_fail(m->ctx, SPD_EIO, "cannot create HDF5 group 'model_weights'");
  err = spd__keras_legacy_write(m, g);
  H5Gclose(g);
  return err;
}

static int save_h5(const spd_model_t *m, const char *path, spd_keras_file_t file) {
  char tmp[4200];
  int err = spd__atomic_begin(m->ctx, path, tmp, sizeof tmp);
  if (err)
    return err;
  hid_t file_id = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file_id < 0) {
    spd__atomic_abort(tmp);
    return spd_ctx_fail(m->ctx, SPD_EIO, "cannot create the HDF5 file '%s'", path);
  }
  if (file == SPD_KERAS_FILE_H5_WEIGHTS)
    err = spd__keras_legacy_write(m, file_id);
  else if (file == SPD_KERAS_FILE_H5_MODEL)
    err = write_h5_model(m, file_id);
  else
    err = spd__keras3_write(m, file_id);
  if (H5Fclose(file_id) < 0 && !err)
    err = spd_ctx_fail(m->ctx, SPD_EIO, "cannot finish writing '%s'", path);
  if (err) {
    spd__atomic_abort(tmp);
    return err;
  }
  return spd__atomic_commit(m->ctx, tmp, path);
}

static int save(const spd_model_t *m, const char *path, spd_keras_file_t file) {
  if (!m->built)
    return spd_ctx_fail(m->ctx, SPD_ESTATE, "model '%s' must be built before it is saved",
                        m->name);
  switch (file) {
  case SPD_KERAS_FILE_H5_WEIGHTS:
  case SPD_KERAS_FILE_H5_MODEL:
  case SPD_KERAS_FILE_WEIGHTS_H5:
    return save_h5(m, path, file);
  case SPD_KERAS_FILE_ARCHIVE:
    return spd__keras_archive_write(m, path);
  case SPD_KERAS_FILE_JSON:
    return spd_keras_json_save(m, path);
  default:
    return spd_ctx_fail(m->ctx, SPD_EINVAL, "'%s': unknown Keras file layout %d", path, (int)file);
  }
}

int spd_keras_save(const spd_model_t *m, const char *path, spd_keras_file_t file) {
  spd__h5_quiet_t q;
  spd__h5_quiet_begin(&q);
  int err = save(m, path, file);
  spd__h5_quiet_end(&q);
  return err;
}

/* ---- whole models ---- */

/* The model_config attribute, and training_config when there is one
 * (*training stays NULL otherwise). */
static int h5_model_config(spd_ctx_t *ctx, hid_t file_id, const char *path, char **json,
                           char **training) {
  int err = spd__h5_read_string(ctx, file_id, "model_config", json);
  if (err == SPD_ENOTFOUND)
    err = spd_ctx_fail(ctx, SPD_EFORMAT,
                       "'%s' holds weights only (no model_config attribute): give the "
                       "architecture JSON too", path);
  if (!err && spd__h5_has_attr(file_id, "training_config"))
    err = spd__h5_read_string(ctx, file_id, "training_config", training);
  return err;
}

/* tf.keras 2's training_config attribute: the model's compile arguments. */
static int read_training_config(spd_model_t *m, const char *path, const char *text) {
  cJSON *root = cJSON_Parse(text);
  if (!root)
    return spd_ctx_fail(m->ctx, SPD_EFORMAT, "'%s': the training_config attribute is not "
                        "valid JSON", path);
  spd_compile_config_t c;
  int err = spd__keras_compile_read(m->ctx, root, "training_config", &c);
  cJSON_Delete(root);
  return err ? err : spd_model_set_compile(m, &c);
}

int spd__keras_h5_model(spd_ctx_t *ctx, hid_t file_id, const char *path, uint64_t seed,
                        spd_model_t **out) {
  char *json = NULL, *training = NULL;
  spd_model_t *m = NULL;
  int err = h5_model_config(ctx, file_id, path, &json, &training);
  if (!err)
    err = spd_keras_json_parse(ctx, json, strlen(json), seed, &m);
  if (!err && training)
    err = read_training_config(m, path, training);
  spd_free(ctx, json);
  spd_free(ctx, training);
  spd__stage_t st;
  if (!err && !(err = spd__stage_init(&st, m))) {
    err = spd__keras_h5_weights(&st, file_id, path);
    if (!err)
      spd__stage_commit(&st);
    spd__stage_deinit(&st);
  }
  if (err) {
    spd_model_free(m);
    return err;
  }
  *out = m;
  return 0;
}

static int model_load(spd_ctx_t *ctx, const char *path, uint64_t seed, spd_model_t **out) {
  if (spd_onnx_path(path))
    return spd_onnx_load(ctx, path, seed, out);
  spd_keras_file_t file;
  int err = detect(ctx, path, &file);
  if (err)
    return err;
  if (file == SPD_KERAS_FILE_JSON)
    return spd_keras_json_load(ctx, path, seed, out);
  if (file == SPD_KERAS_FILE_ARCHIVE)
    return spd__keras_archive_load(ctx, path, seed, out);
  hid_t file_id;
  err = open_h5(ctx, path, &file_id);
  if (err)
    return err;
  err = spd__keras_h5_model(ctx, file_id, path, seed, out);
  H5Fclose(file_id);
  return err;
}

int spd_keras_model_load(spd_ctx_t *ctx, const char *path, uint64_t seed, spd_model_t **out) {
  spd__h5_quiet_t q;
  spd__h5_quiet_begin(&q);
  int err = model_load(ctx, path, seed, out);
  spd__h5_quiet_end(&q);
  return err;
}
