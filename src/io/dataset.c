/* Classification datasets from a folder of four IDX files (MNIST's layout),
 * loaded as Keras does: float32 images scaled to [0, 1], shape
 * (N, rows, cols, channels), and integer labels. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "spindle/dataset.h"

#define PATH_CAP 4096

enum { TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS, N_FILES };
static const char *const file_names[N_FILES] = {
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte"};

typedef struct sample_shape {
  uint32_t rows, cols, channels;
} sample_shape_t;

static bool is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The folder a spec names, and the dataset's name. */
static int resolve_folder(spd_ctx_t *ctx, const char *spec, const char **folder,
                          const char **name) {
  *folder = spec;
  *name = strrchr(spec, '/') && strrchr(spec, '/')[1] ? strrchr(spec, '/') + 1 : spec;
  if (!strcmp(spec, "fashion-mnist"))
    *folder = SPD_FASHION_MNIST_DIR;
  else if (!strcmp(spec, "mnist"))
    *folder = SPD_MNIST_DIR;
  if (is_dir(*folder))
    return 0;
  if (!strcmp(spec, "fashion-mnist"))
    return spd_ctx_fail(ctx, SPD_ENOTFOUND,
                        "dataset fashion-mnist: folder '%s' not found; install Debian's "
                        "dataset-fashion-mnist package (make deps)", *folder);
  if (!strcmp(spec, "mnist"))
    return spd_ctx_fail(ctx, SPD_ENOTFOUND,
                        "dataset mnist: folder '%s' not found (Debian does not package "
                        "MNIST); put its four IDX files in a folder and pass its path",
                        *folder);
  return spd_ctx_fail(ctx, SPD_ENOTFOUND, "dataset folder '%s' not found", spec);
}

/* FOLDER/NAME or FOLDER/NAME.gz, whichever exists. */
static int find_file(spd_ctx_t *ctx, const char *folder, const char *name, char *path) {
  int n = snprintf(path, PATH_CAP, "%s/%s", folder, name);
  if (n < 0 || n + 4 >= PATH_CAP)
    return spd_ctx_fail(ctx, SPD_EINVAL, "dataset folder path too long: '%s'", folder);
  if (is_file(path))
    return 0;
  strcat(path, ".gz");
  if (is_file(path))
    return 0;
  return spd_ctx_fail(ctx, SPD_ENOTFOUND, "dataset folder '%s' has no '%s' or '%s.gz'", folder,
                      name, name);
}

static int check_images(spd_ctx_t *ctx, const char *path, const spd_array_t *a,
                        sample_shape_t *shape) {
  if (a->rank != 3 && a->rank != 4)
    return spd_ctx_fail(ctx, SPD_ESHAPE,
                        "'%s': images must have 3 or 4 dimensions (N, rows, cols[, channels]), "
                        "not %d", path, a->rank);
  if (a->dtype != SPD_DTYPE_U8 && a->dtype != SPD_DTYPE_F32 && a->dtype != SPD_DTYPE_F64)
    return spd_ctx_fail(ctx, SPD_EUNSUPPORTED, "'%s': images of type %s (expected uint8 or float)",
                        path, spd_dtype_name(a->dtype));
  if (a->dims[0] > UINT32_MAX || a->dims[1] > UINT32_MAX || a->dims[2] > UINT32_MAX ||
      (a->rank == 4 && a->dims[3] > UINT32_MAX))
    return spd_ctx_fail(ctx, SPD_ESHAPE, "'%s': dimensions too large", path);
  *shape = (sample_shape_t){(uint32_t)a->dims[1], (uint32_t)a->dims[2],
                            a->rank == 4 ? (uint32_t)a->dims[3] : 1};
  return 0;
}

/* Pixels as Keras loads them: x.astype("float32") / 255, rounded once from
 * the exact quotient as numpy's float64 division then cast does. */
static float *convert_images(spd_ctx_t *ctx, const spd_array_t *a) {
  uint64_t n = spd_array_count(a);
  float *out = spd_calloc(ctx, n, sizeof *out);
  if (!out)
    return NULL;
  if (a->dtype == SPD_DTYPE_U8) {
    float scale[256];
    for (int v = 0; v < 256; v++)
      scale[v] = (float)((double)v / 255.0);
    const uint8_t *in = a->data;
    for (uint64_t i = 0; i < n; i++)
      out[i] = scale[in[i]];
  } else if (a->dtype == SPD_DTYPE_F32) {
    memcpy(out, a->data, n * sizeof *out);
  } else {
    const double *in = a->data;
    for (uint64_t i = 0; i < n; i++)
      out[i] = (float)in[i];
  }
  return out;
}

static bool label_at(const spd_array_t *a, uint64_t i, int64_t *v) {
  switch (a->dtype) {
  case SPD_DTYPE_U8: *v = ((const uint8_t *)a->data)[i]; return true;
  case SPD_DTYPE_I8: *v = ((const int8_t *)a->data)[i]; return true;
  case SPD_DTYPE_U16: *v = ((const uint16_t *)a->data)[i]; return true;
  case SPD_DTYPE_I16: *v = ((const int16_t *)a->data)[i]; return true;
  case SPD_DTYPE_I32: *v = ((const int32_t *)a->data)[i]; return true;
  case SPD_DTYPE_I64: *v = ((const int64_t *)a->data)[i]; return true;
  default: return false;
  }
}

static int convert_labels(spd_ctx_t *ctx, const char *path, const spd_array_t *a,
                          int32_t **out) {
  if (a->rank != 1)
    return spd_ctx_fail(ctx, SPD_ESHAPE, "'%s': labels must have 1 dimension, not %d", path,
                        a->rank);
  int64_t v = 0;
  if (a->dims[0] && !label_at(a, 0, &v))
    return spd_ctx_fail(ctx, SPD_EUNSUPPORTED, "'%s': labels of type %s (expected integers)",
                        path, spd_dtype_name(a->dtype));
  int32_t *labels = spd_calloc(ctx, a->dims[0], sizeof *labels);
  if (!labels)
    return spd_ctx_fail(ctx, SPD_ENOMEM, "'%s': out of memory for labels", path);
  for (uint64_t i = 0; i < a->dims[0]; i++) {
    label_at(a, i, &v);
    if (v < 0 || v > INT32_MAX) {
      spd_free(ctx, labels);
      return spd_ctx_fail(ctx, SPD_EFORMAT, "'%s': label %llu is %lld (expected a class index)",
                          path, (unsigned long long)i, (long long)v);
    }
    labels[i] = (int32_t)v;
  }
  *out = labels;
  return 0;
}

/* Reads one split's images and labels (their first @p limit, 0 = all). */
static int load_split(spd_ctx_t *ctx, const char *image_path, const char *label_path,
                      uint32_t limit, spd_dataset_split_t *split, sample_shape_t *shape) {
  spd_array_t images = {0}, labels = {0};
  int32_t *label_data = NULL;
  int err = spd_idx_read(ctx, image_path, limit, &images);
  if (!err)
    err = check_images(ctx, image_path, &images, shape);
  if (!err)
    err = spd_idx_read(ctx, label_path, limit, &labels);
  if (!err)
    err = convert_labels(ctx, label_path, &labels, &label_data);
  if (!err && labels.dims[0] != images.dims[0])
    err = spd_ctx_fail(ctx, SPD_ESHAPE, "'%s' holds %llu images but '%s' %llu labels",
                       image_path, (unsigned long long)images.dims[0], label_path,
                       (unsigned long long)labels.dims[0]);
  float *pixels = err ? NULL : convert_images(ctx, &images);
  if (!err && !pixels)
    err = spd_ctx_fail(ctx, SPD_ENOMEM, "'%s': out of memory for %llu float pixels", image_path,
                       (unsigned long long)spd_array_count(&images));
  if (err) {
    spd_free(ctx, label_data);
  } else {
    *split = (spd_dataset_split_t){(uint32_t)images.dims[0], pixels, label_data};
  }
  spd_array_free(&images);
  spd_array_free(&labels);
  return err;
}

static uint32_t classes(const spd_dataset_split_t *s, uint32_t so_far) {
  for (uint32_t i = 0; i < s->count; i++)
    if ((uint32_t)s->labels[i] + 1 > so_far)
      so_far = (uint32_t)s->labels[i] + 1;
  return so_far;
}

static int load_all(spd_dataset_t *ds, const char *folder, const spd_dataset_options_t *o) {
  char p[N_FILES][PATH_CAP];
  for (int f = 0; f < N_FILES; f++) {
    int err = find_file(ds->ctx, folder, file_names[f], p[f]);
    if (err)
      return err;
  }
  sample_shape_t train_shape, test_shape;
  int err = load_split(ds->ctx, p[TRAIN_IMAGES], p[TRAIN_LABELS], o->limit, &ds->train,
                       &train_shape);
  if (!err)
    err = load_split(ds->ctx, p[TEST_IMAGES], p[TEST_LABELS], o->test_limit, &ds->test,
                     &test_shape);
  if (!err && memcmp(&train_shape, &test_shape, sizeof train_shape))
    err = spd_ctx_fail(ds->ctx, SPD_ESHAPE,
                       "'%s': test images are %ux%ux%u but training images %ux%ux%u", folder,
                       test_shape.rows, test_shape.cols, test_shape.channels, train_shape.rows,
                       train_shape.cols, train_shape.channels);
  if (err)
    return err;
  ds->rows = train_shape.rows;
  ds->cols = train_shape.cols;
  ds->channels = train_shape.channels;
  ds->classes = classes(&ds->test, classes(&ds->train, 0));
  return 0;
}

int spd_dataset_open(spd_ctx_t *ctx, const char *spec, const spd_dataset_options_t *options,
                     spd_dataset_t **out) {
  static const spd_dataset_options_t defaults = {0};
  const char *folder, *name;
  if (!spec || !*spec)
    return spd_ctx_fail(ctx, SPD_EINVAL, "no dataset given");
  int err = resolve_folder(ctx, spec, &folder, &name);
  if (err)
    return err;
  spd_dataset_t *ds = spd_calloc(ctx, 1, sizeof *ds);
  if (!ds)
    return spd_ctx_fail(ctx, SPD_ENOMEM, "dataset '%s': out of memory", spec);
  ds->ctx = ctx;
  snprintf(ds->name, sizeof ds->name, "%s", name);
  err = load_all(ds, folder, options ? options : &defaults);
  if (err) {
    spd_dataset_free(ds);
    return err;
  }
  *out = ds;
  return 0;
}

void spd_dataset_free(spd_dataset_t *ds) {
  if (!ds)
    return;
  spd_ctx_t *ctx = ds->ctx;
  spd_free(ctx, ds->train.images);
  spd_free(ctx, ds->train.labels);
  spd_free(ctx, ds->test.images);
  spd_free(ctx, ds->test.labels);
  spd_free(ctx, ds);
}
