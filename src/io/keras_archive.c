/* `.keras` archives (Keras 3 `model.save('m.keras')`): a zip holding
 * metadata.json ({"keras_version", "date_saved"}), config.json (the Keras 3
 * architecture JSON) and model.weights.h5 (the Keras 3 weights layout), all
 * stored uncompressed as Python's zipfile writes them. The weights member is
 * opened from memory, never unpacked to disk. See docs/formats.md. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zip.h>

#include "io/file.h"
#include "io/keras_h5.h"

#define ARCHIVE_KERAS_VERSION "3.3.3"
#define CONFIG_MEMBER "config.json"
#define METADATA_MEMBER "metadata.json"
#define WEIGHTS_MEMBER "model.weights.h5"

static int open_archive(spd_ctx_t *ctx, const char *path, zip_t **out) {
  int code = 0;
  zip_t *za = zip_open(path, ZIP_RDONLY, &code);
  if (!za) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, code);
    int err = spd_ctx_fail(ctx, code == ZIP_ER_OPEN ? SPD_EIO : SPD_EFORMAT,
                           "'%s': not a readable .keras archive (%s)", path,
                           zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return err;
  }
  *out = za;
  return 0;
}

/* Reading a member starts with this much buffer and doubles it as data
 * arrives. */
#define MEMBER_CHUNK ((zip_uint64_t)1 << 20)

/* The @p size bytes the archive's directory records for @p zf, in a buffer
 * grown as the data arrives: a directory claiming gigabytes for a few bytes
 * of archive costs no more memory than the data there is. 0, SPD_ENOMEM, or
 * SPD_EFORMAT (more or less data than recorded, or unreadable). */
static int read_all(spd_ctx_t *ctx, zip_file_t *zf, zip_uint64_t size, char **data_out) {
  zip_uint64_t cap = size < MEMBER_CHUNK ? size : MEMBER_CHUNK, len = 0;
  char *data = spd_malloc(ctx, (size_t)cap + 1);
  if (!data)
    return SPD_ENOMEM;
  for (;;) {
    if (len == cap && cap < size) {
      zip_uint64_t next = cap > size / 2 ? size : cap * 2;
      char *grown = spd_realloc(ctx, data, (size_t)next + 1);
      if (!grown) {
        spd_free(ctx, data);
        return SPD_ENOMEM;
      }
      data = grown;
      cap = next;
    }
    /* At the recorded size, one more byte asked for shows data beyond it. */
    char extra;
    zip_int64_t got = len < cap ? zip_fread(zf, data + len, cap - len) : zip_fread(zf, &extra, 1);
    if (got <= 0 || len == size) {
      if (got != 0 || len != size) {
        spd_free(ctx, data);
        return SPD_EFORMAT;
      }
      break;
    }
    len += (zip_uint64_t)got;
  }
  data[len] = '\0';
  *data_out = data;
  return 0;
}

/* The whole of member @p name in a new buffer (NUL-terminated, spd_free). */
static int read_member(spd_ctx_t *ctx, zip_t *za, const char *path, const char *name,
                       char **data_out, size_t *len_out) {
  zip_stat_t st;
  if (zip_stat(za, name, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
    return spd_ctx_fail(ctx, SPD_EFORMAT, "'%s': the .keras archive has no '%s'", path, name);
  if (st.size >= SIZE_MAX)
    return spd_ctx_fail(ctx, SPD_EFORMAT, "'%s': member '%s' is too large (%llu bytes)", path,
                        name, (unsigned long long)st.size);
  zip_file_t *zf = zip_fopen(za, name, 0);
  int err = zf ? read_all(ctx, zf, st.size, data_out) : SPD_EFORMAT;
  if (zf)
    zip_fclose(zf);
  if (err == SPD_ENOMEM)
    return spd_ctx_fail(ctx, SPD_ENOMEM, "'%s': out of memory for '%s' (%llu bytes)", path, name,
                        (unsigned long long)st.size);
  if (err)
    return spd_ctx_fail(ctx, SPD_EFORMAT,
                        "'%s': member '%s' cannot be read (corrupt archive: not the %llu bytes "
                        "its directory records)", path, name, (unsigned long long)st.size);
  *len_out = (size_t)st.size;
  return 0;
}

int spd__keras_archive_open_memory(spd_ctx_t *ctx, const void *data, size_t len,
                                   struct zip **out) {
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t *src = zip_source_buffer_create(data, len, 0, &ze);
  zip_t *za = src ? zip_open_from_source(src, ZIP_RDONLY, &ze) : NULL;
  if (!za) {
    int err = spd_ctx_fail(ctx, src ? SPD_EFORMAT : SPD_ENOMEM,
                           "not a readable .keras archive (%s)", zip_error_strerror(&ze));
    if (src)
      zip_source_free(src);
    zip_error_fini(&ze);
    return err;
  }
  zip_error_fini(&ze);
  *out = za;
  return 0;
}

int spd__keras_archive_weights(spd__stage_t *st, zip_t *za, const char *path) {
  spd_ctx_t *ctx = st->m->ctx;
  char *data = NULL;
  size_t len = 0;
  int err = read_member(ctx, za, path, WEIGHTS_MEMBER, &data, &len);
  hid_t f = -1;
  if (!err)
    err = spd__h5_open_image(ctx, data, len, &f);
  if (!err) {
    char where[4200];
    snprintf(where, sizeof where, "%s:%s", path, WEIGHTS_MEMBER);
    err = spd__keras3_read(st, f, where);
    H5Fclose(f);
  }
  spd_free(ctx, data);
  return err;
}

int spd__keras_archive_model(spd_ctx_t *ctx, zip_t *za, const char *path, uint64_t seed,
                             spd_model_t **out) {
  char *json = NULL;
  size_t len = 0;
  spd_model_t *m = NULL;
  int err = read_member(ctx, za, path, CONFIG_MEMBER, &json, &len);
  if (!err)
    err = spd_keras_json_parse(ctx, json, len, seed, &m);
  spd_free(ctx, json);
  spd__stage_t st;
  if (!err && !(err = spd__stage_init(&st, m))) {
    err = spd__keras_archive_weights(&st, za, path);
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

int spd__keras_archive_read_weights(spd__stage_t *st, const char *path) {
  zip_t *za = NULL;
  int err = open_archive(st->m->ctx, path, &za);
  if (err)
    return err;
  err = spd__keras_archive_weights(st, za, path);
  zip_discard(za);
  return err;
}

int spd__keras_archive_load(spd_ctx_t *ctx, const char *path, uint64_t seed, spd_model_t **out) {
  zip_t *za = NULL;
  int err = open_archive(ctx, path, &za);
  if (err)
    return err;
  err = spd__keras_archive_model(ctx, za, path, seed, out);
  zip_discard(za);
  return err;
}

/* Add @p len bytes as member @p name, stored (the buffer must outlive zip_close). */
static int add_member(spd_ctx_t *ctx, zip_t *za, const char *name, const void *data, size_t len) {
  zip_source_t *src = zip_source_buffer(za, data, len, 0);
  zip_int64_t index = src ? zip_file_add(za, name, src, ZIP_FL_ENC_UTF_8) : -1;
  if (index < 0) {
    if (src)
      zip_source_free(src);
    return spd_ctx_fail(ctx, SPD_EIO, "cannot add '%s' to the archive: %s", name, zip_strerror(za));
  }
  zip_set_file_compression(za, (zip_uint64_t)index, ZIP_CM_STORE, 0);
  return 0;
}

static void metadata(char *buf, size_t size) {
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  char date[32];
  strftime(date, sizeof date, "%Y-%m-%d@%H:%M:%S", &tm);
  snprintf(buf, size, "{\"keras_version\": \"%s\", \"date_saved\": \"%s\"}",
           ARCHIVE_KERAS_VERSION, date);
}

static int weights_image(const spd_model_t *m, void **data, size_t *len) {
  hid_t f;
  int err = spd__h5_create_image(m->ctx, &f);
  if (err)
    return err;
  err = spd__keras3_write(m, f);
  if (!err)
    err = spd__h5_image_bytes(m->ctx, f, data, len);
  H5Fclose(f);
  return err;
}

static int write_zip(const spd_model_t *m, const char *tmp, const char *config,
                     const char *meta, const void *weights, size_t weights_len) {
  int code = 0;
  zip_t *za = zip_open(tmp, ZIP_CREATE | ZIP_TRUNCATE, &code);
  if (!za)
    return spd_ctx_fail(m->ctx, SPD_EIO, "cannot create the archive '%s' (libzip error %d)", tmp,
                        code);
  int err = add_member(m->ctx, za, METADATA_MEMBER, meta, strlen(meta));
  if (!err)
    err = add_member(m->ctx, za, CONFIG_MEMBER, config, strlen(config));
  if (!err)
    err = add_member(m->ctx, za, WEIGHTS_MEMBER, weights, weights_len);
  if (!err && zip_close(za) != 0)
    err = spd_ctx_fail(m->ctx, SPD_EIO, "cannot write the archive: %s", zip_strerror(za));
  if (err)
    zip_discard(za);
  return err;
}

int spd__keras_archive_write(const spd_model_t *m, const char *path) {
  char *config = NULL, meta[128], tmp[4200];
  void *weights = NULL;
  size_t weights_len = 0;
  metadata(meta, sizeof meta);
  int err = spd_keras_json_format(m, SPD_KERAS_JSON_KERAS3, &config);
  if (!err)
    err = weights_image(m, &weights, &weights_len);
  if (!err)
    err = spd__atomic_begin(m->ctx, path, tmp, sizeof tmp);
  if (!err) {
    err = write_zip(m, tmp, config, meta, weights, weights_len);
    err = err ? (spd__atomic_abort(tmp), err) : spd__atomic_commit(m->ctx, tmp, path);
  }
  spd_free(m->ctx, config);
  spd_free(m->ctx, weights);
  return err;
}
