/* HDF5 helpers for the Keras weight layouts: string attributes as Keras and
 * h5py write them, float datasets checked against the shapes a model expects,
 * staging for all-or-nothing loads, and in-memory files. */
#include "io/keras_h5.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keras's HDF5_OBJECT_HEADER_LIMIT: attributes above it are split. */
#define KERAS_ATTR_LIMIT 64512

void spd__h5_quiet_begin(spd__h5_quiet_t *q) {
  H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void spd__h5_quiet_end(const spd__h5_quiet_t *q) { H5Eset_auto2(H5E_DEFAULT, q->func, q->data); }

void spd_keras_h5_silence(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

bool spd__h5_exists(hid_t loc, const char *path) {
  /* H5Lexists needs every intermediate link to exist: check each prefix. */
  char buf[1024];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
    return false;
  for (char *p = buf; (p = strchr(p, '/')); p++) {
    *p = '\0';
    bool ok = buf[0] == '\0' || H5Lexists(loc, buf, H5P_DEFAULT) > 0;
    *p = '/';
    if (!ok)
      return false;
  }
  return H5Lexists(loc, buf, H5P_DEFAULT) > 0;
}

bool spd__h5_has_attr(hid_t obj, const char *name) { return H5Aexists(obj, name) > 0; }

void spd__h5_strings_free(spd_ctx_t *ctx, char **strs, int n) {
  if (!strs)
    return;
  for (int i = 0; i < n; i++)
    spd_free(ctx, strs[i]);
  spd_free(ctx, strs);
}

/* Copy string @p i of a read buffer (fixed-length, NUL-padded strings of
 * @p width bytes, or variable-length pointers when width is 0). */
static char *copy_string(spd_ctx_t *ctx, const void *buf, size_t width, hssize_t i) {
  const char *s = width ? (const char *)buf + (size_t)i * width : ((char *const *)buf)[i];
  size_t len = !s ? 0 : width ? strnlen(s, width) : strlen(s);
  char *copy = spd_malloc(ctx, len + 1);
  if (copy) {
    memcpy(copy, s ? s : "", len);
    copy[len] = '\0';
  }
  return copy;
}

/* Read the @p count strings of @p attr (type @p type) and append them. */
static int read_string_attr(spd_ctx_t *ctx, hid_t attr, hid_t type, hssize_t count,
                            const char *name, const char *where, char ***strs, int *n) {
  bool variable = H5Tis_variable_str(type) > 0;
  if (variable) {
    int err = spd__h5_check_heaps(ctx, attr, where);
    if (err)
      return err;
  }
  size_t width = variable ? 0 : H5Tget_size(type);
  /* A corrupt header can claim any size: Keras's string lists stay far
   * below 2^30 bytes (64 KB per attribute chunk). */
  size_t item = variable ? sizeof(char *) : width;
  if (item == 0 || (uint64_t)count > ((uint64_t)1 << 30) / item)
    return spd_ctx_fail(ctx, SPD_EFORMAT,
                        "%s: attribute '%s' claims %lld strings of %zu bytes (corrupt file)",
                        where, name, (long long)count, width);
  hid_t mem = H5Tcopy(H5T_C_S1);
  H5Tset_size(mem, variable ? H5T_VARIABLE : width);
  H5Tset_strpad(mem, H5T_STR_NULLPAD);
  H5Tset_cset(mem, H5Tget_cset(type));
  void *buf = spd_calloc(ctx, (size_t)count, variable ? sizeof(char *) : width);
  char **grown = spd_realloc(ctx, *strs, (size_t)(*n + count) * sizeof *grown);
  int err = 0;
  bool filled = false;
  if (grown)
    *strs = grown;
  if (!buf || !grown)
    err = spd_ctx_fail(ctx, SPD_ENOMEM, "%s: out of memory reading '%s'", where, name);
  else if (H5Aread(attr, mem, buf) < 0)
    err = spd_ctx_fail(ctx, SPD_EFORMAT, "%s: attribute '%s' is unreadable", where, name);
  else
    filled = true;
  for (hssize_t i = 0; !err && i < count; i++) {
    char *copy = copy_string(ctx, buf, width, i);
    if (!copy)
      err = spd_ctx_fail(ctx, SPD_ENOMEM, "%s: out of memory reading '%s'", where, name);
    else
      (*strs)[(*n)++] = copy;
  }
  if (filled && variable) { /* the strings libhdf5 allocated */
    hsize_t dims[1] = {(hsize_t)count};
    hid_t space = H5Screate_simple(1, dims, NULL);
    H5Dvlen_reclaim(mem, space, H5P_DEFAULT, buf);
    H5Sclose(space);
  }
  spd_free(ctx, buf);
  H5Tclose(mem);
  return err;
}

/* Append the strings of one attribute to (*strs, *n); an empty attribute of
 * any type adds nothing. */
static int append_attr_strings(spd_ctx_t *ctx, hid_t attr, const char *name, const char *where,
                               char ***strs, int *n) {
  hid_t type = H5Aget_type(attr), space = H5Aget_space(attr);
  hssize_t count = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
  int err = 0;
  if (type < 0 || count < 0)
    err = spd_ctx_fail(ctx, SPD_EFORMAT, "%s: attribute '%s' is unreadable", where, name);
  else if (count > 0 && H5Tget_class(type) != H5T_STRING)
    err = spd_ctx_fail(ctx, SPD_EFORMAT, "%s: attribute '%s' is not a list of strings", where,
                       name);
  else if (count > 0)
    err = read_string_attr(ctx, attr, type, count, name, where, strs, n);
  if (type >= 0)
    H5Tclose(type);
  if (space >= 0)
    H5Sclose(space);
  return err;
}

static int append_named(spd_ctx_t *ctx, hid_t obj, const char *name, const char *where,
                        char ***strs, int *n) {
  hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  if (attr < 0)
    return spd_ctx_fail(ctx, SPD_EFORMAT, "%s: attribute '%s' is unreadable", where, name);
  int err = append_attr_strings(ctx, attr, name, where, strs, n);
  H5Aclose(attr);
  return err;
}

int spd__h5_read_strings(spd_ctx_t *ctx, hid_t obj, const char *name, const char *where,
                         char ***strs_out, int *n_out) {
  char **strs = NULL;
  int n = 0, err = spd__h5_check_object(ctx, obj, where);
  if (err)
    return err;
  if (spd__h5_has_attr(obj, name)) {
    err = append_named(ctx, obj, name, where, &strs, &n);
  } else {
    char part[128];
    int chunk = 0;
    for (; !err; chunk++) {
      snprintf(part, sizeof part, "%s%d", name, chunk);
      if (!spd__h5_has_attr(obj, part))
        break;
      err = append_named(ctx, obj, part, where, &strs, &n);
    }
    if (!err && chunk == 0)
      err = SPD_ENOTFOUND; /* callers word the diagnostic */
  }
  if (err) {
    spd__h5_strings_free(ctx, strs, n);
    return err;
  }
  *strs_out = strs;
  *n_out = n;
  return 0;
}

static int write_string_chunk(spd_ctx_t *ctx, hid_t obj, const char *name,
                              const char *const *strs, int n, size_t width) {
  hsize_t dims[1] = {(hsize_t)n};
  hid_t space = H5Screate_simple(1, dims, NULL);
  hid_t type = n ? H5Tcopy(H5T_C_S1) : H5Tcopy(H5T_IEEE_F64LE);
  char *buf = spd_calloc(ctx, n ? (size_t)n : 1, width);
  int err = 0;
  if (!buf)
    err = spd_ctx_fail(ctx, SPD_ENOMEM, "out of memory writing attribute '%s'", name);
  if (!err && n) {
    H5Tset_size(type, width);
    H5Tset_strpad(type, H5T_STR_NULLPAD);
    for (int i = 0; i < n; i++)
      memcpy(buf + (size_t)i * width, strs[i], strlen(strs[i]));
  }
  if (!err) {
    hid_t attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr < 0 || H5Awrite(attr, type, buf) < 0)
      err = spd_ctx_fail(ctx, SPD_EIO, "cannot write HDF5 attribute '%s'", name);
    if (attr >= 0)
      H5Aclose(attr);
  }
  spd_free(ctx, buf);
  H5Tclose(type);
  H5Sclose(space);
  return err;
}

int spd__h5_write_strings(spd_ctx_t *ctx, hid_t obj, const char *name, const char *const *strs,
                          int n) {
  size_t width = 1;
  for (int i = 0; i < n; i++)
    if (strlen(strs[i]) > width)
      width = strlen(strs[i]);
  /* numpy.array_split into k chunks: the largest holds ceil(n / k) strings. */
  int chunks = 1;
  while (n && (size_t)((n + chunks - 1) / chunks) * width > KERAS_ATTR_LIMIT)
    chunks++;
  if (chunks == 1)
    return write_string_chunk(ctx, obj, name, strs, n, width);
  int start = 0;
  for (int c = 0; c < chunks; c++) {
    int size = n / chunks + (c < n % chunks ? 1 : 0);
    char part[128];
    snprintf(part, sizeof part, "%s%d", name, c);
    int err = write_string_chunk(ctx, obj, part, strs + start, size, width);
    if (err)
      return err;
    start += size;
  }
  return 0;
}

int spd__h5_read_string(spd_ctx_t *ctx, hid_t obj, const char *name, char **out) {
  char **strs = NULL;
  int n = 0, err = spd__h5_check_object(ctx, obj, "HDF5 file");
  if (err)
    return err;
  if (!spd__h5_has_attr(obj, name))
    return SPD_ENOTFOUND;
  err = append_named(ctx, obj, name, "HDF5 file", &strs, &n);
  if (!err && n != 1)
    err = spd_ctx_fail(ctx, SPD_EFORMAT, "HDF5 attribute '%s' is not one string", name);
  if (!err) {
    *out = strs[0];
    strs[0] = NULL;
  }
  spd__h5_strings_free(ctx, strs, n);
  return err;
}

int spd__h5_write_string(spd_ctx_t *ctx, hid_t obj, const char *name, const char *value) {
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  int err = 0;
  if (attr < 0 || H5Awrite(attr, type, &value) < 0)
    err = spd_ctx_fail(ctx, SPD_EIO, "cannot write HDF5 attribute '%s'", name);
  if (attr >= 0)
    H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
  return err;
}

static void format_dims(const hsize_t *dims, int rank, char *buf, size_t size) {
  size_t used = (size_t)snprintf(buf, size, "(");
  for (int i = 0; i < rank && used < size; i++)
    used += (size_t)snprintf(buf + used, size - used, "%s%llu", i ? ", " : "",
                             (unsigned long long)dims[i]);
  if (used < size)
    snprintf(buf + used, size - used, rank == 1 ? ",)" : ")");
}

static int check_shape(spd_ctx_t *ctx, hid_t dset, const char *path, const char *layer,
                       const char *weight, const spd_shape_t *expect) {
  hid_t space = H5Dget_space(dset);
  hsize_t dims[H5S_MAX_RANK];
  int rank = space >= 0 ? H5Sget_simple_extent_dims(space, dims, NULL) : -1;
  if (space >= 0)
    H5Sclose(space);
  if (rank < 0)
    return spd_ctx_fail(ctx, SPD_EFORMAT, "layer '%s': weight '%s' (%s) is unreadable", layer,
                        weight, path);
  bool same = rank == expect->rank;
  for (int i = 0; same && i < rank; i++)
    same = dims[i] == (hsize_t)expect->dims[i];
  if (same)
    return 0;
  hsize_t want[SPD_MAX_RANK];
  for (int i = 0; i < expect->rank; i++)
    want[i] = (hsize_t)expect->dims[i];
  char found_s[96], want_s[96];
  format_dims(dims, rank, found_s, sizeof found_s);
  format_dims(want, expect->rank, want_s, sizeof want_s);
  return spd_ctx_fail(ctx, SPD_ESHAPE,
                      "layer '%s': weight '%s' has shape %s in the file, the model expects %s",
                      layer, weight, found_s, want_s);
}

int spd__h5_read_tensor(spd_ctx_t *ctx, hid_t loc, const char *path, const char *layer,
                        const char *weight, const spd_shape_t *expect, float *dst) {
  if (!spd__h5_exists(loc, path))
    return spd_ctx_fail(ctx, SPD_ENOTFOUND, "layer '%s': weight '%s' is missing (no dataset '%s')",
                        layer, weight, path);
  hid_t dset = H5Dopen2(loc, path, H5P_DEFAULT);
  if (dset < 0)
    return spd_ctx_fail(ctx, SPD_EFORMAT, "layer '%s': weight '%s' (%s) is not a readable dataset",
                        layer, weight, path);
  hid_t type = H5Dget_type(dset);
  int err = 0;
  /* Keras writes float16, 32 or 64; any other size (a corrupt type claiming
   * gigabytes per element) would make H5Dread allocate that much per element
   * for the conversion. */
  size_t bytes = type < 0 ? 0 : H5Tget_size(type);
  if (type < 0 || H5Tget_class(type) != H5T_FLOAT || (bytes != 2 && bytes != 4 && bytes != 8))
    err = spd_ctx_fail(ctx, SPD_EFORMAT,
                       "layer '%s': weight '%s' (%s) is not a float16, float32 or float64 "
                       "dataset", layer, weight, path);
  if (type >= 0)
    H5Tclose(type);
  if (!err)
    err = check_shape(ctx, dset, path, layer, weight, expect);
  /* A contiguous or compact dataset holds every element: libhdf5 1.10 reads
   * a selection past a smaller recorded storage (out of its buffer). */
  hid_t dcpl = err ? H5I_INVALID_HID : H5Dget_create_plist(dset);
  if (dcpl >= 0) {
    H5D_layout_t layout = H5Pget_layout(dcpl);
    H5Pclose(dcpl);
    size_t count = 1;
    for (int i = 0; i < expect->rank; i++)
      count *= (size_t)expect->dims[i];
    if ((layout == H5D_CONTIGUOUS || layout == H5D_COMPACT) &&
        H5Dget_storage_size(dset) < (hsize_t)count * bytes)
      err = spd_ctx_fail(ctx, SPD_EFORMAT,
                         "layer '%s': weight '%s' (%s) stores fewer bytes than its %zu "
                         "elements (truncated or corrupt file)", layer, weight, path, count);
  }
  if (!err && H5Dread(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0)
    err = spd_ctx_fail(ctx, SPD_EFORMAT,
                       "layer '%s': weight '%s' (%s) cannot be read (truncated or corrupt file)",
                       layer, weight, path);
  H5Dclose(dset);
  return err;
}

int spd__h5_write_tensor(spd_ctx_t *ctx, hid_t loc, const char *path, const spd_tensor_t *t) {
  hsize_t dims[SPD_MAX_RANK];
  for (int i = 0; i < t->shape.rank; i++)
    dims[i] = (hsize_t)t->shape.dims[i];
  hid_t space = t->shape.rank ? H5Screate_simple(t->shape.rank, dims, NULL)
                              : H5Screate(H5S_SCALAR);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t dset = H5Dcreate2(loc, path, H5T_IEEE_F32LE, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  int err = 0;
  if (dset < 0 || H5Dwrite(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data) < 0)
    err = spd_ctx_fail(ctx, SPD_EIO, "cannot write HDF5 dataset '%s'", path);
  if (dset >= 0)
    H5Dclose(dset);
  H5Pclose(lcpl);
  H5Sclose(space);
  return err;
}

int spd__stage_init(spd__stage_t *st, spd_model_t *m) {
  size_t n = (size_t)m->n_layers * SPD_MAX_PARAMS, total = 0;
  st->m = m;
  st->values = NULL;
  st->offsets = spd_calloc(m->ctx, n ? n : 1, sizeof *st->offsets);
  if (!st->offsets)
    return spd_ctx_fail(m->ctx, SPD_ENOMEM, "out of memory staging weights");
  for (int i = 0; i < m->n_layers; i++)
    for (int p = 0; p < m->layers[i].n_params; p++) {
      st->offsets[(size_t)i * SPD_MAX_PARAMS + (size_t)p] = total;
      total += spd_shape_size(&m->layers[i].params[p].value.shape);
    }
  st->values = spd_malloc(m->ctx, (total ? total : 1) * sizeof(float));
  if (!st->values) {
    spd_free(m->ctx, st->offsets);
    st->offsets = NULL;
    return spd_ctx_fail(m->ctx, SPD_ENOMEM, "out of memory staging %zu weights", total);
  }
  return 0;
}

float *spd__stage_slot(const spd__stage_t *st, int layer, int param) {
  return st->values + st->offsets[(size_t)layer * SPD_MAX_PARAMS + (size_t)param];
}

void spd__stage_commit(const spd__stage_t *st) {
  for (int i = 0; i < st->m->n_layers; i++)
    for (int p = 0; p < st->m->layers[i].n_params; p++) {
      spd_tensor_t *t = &st->m->layers[i].params[p].value;
      memcpy(t->data, spd__stage_slot(st, i, p), spd_shape_size(&t->shape) * sizeof(float));
    }
}

void spd__stage_deinit(spd__stage_t *st) {
  spd_free(st->m->ctx, st->values);
  spd_free(st->m->ctx, st->offsets);
  st->values = NULL;
  st->offsets = NULL;
}

/* The core driver without a backing store keeps the file in memory; each
 * image gets its own name because HDF5 identifies open files by name. */
static hid_t core_fapl(void) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_core(fapl, 1 << 16, 0);
  return fapl;
}

static void image_name(char *buf, size_t size, const void *tag) {
  snprintf(buf, size, "spindle-image-%p.h5", tag);
}

int spd__h5_open_image(spd_ctx_t *ctx, const void *data, size_t len, hid_t *file_out) {
  int err = spd__h5_check_bytes(ctx, data, len, "the weights");
  if (err)
    return err;
  hid_t fapl = core_fapl();
  char name[64];
  image_name(name, sizeof name, data);
  hid_t f = -1;
  if (H5Pset_file_image(fapl, (void *)data, len) >= 0)
    f = H5Fopen(name, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  if (f < 0)
    return spd_ctx_fail(ctx, SPD_EFORMAT,
                        "the weights (%zu bytes) are not a readable HDF5 file (truncated or "
                        "corrupt)", len);
  *file_out = f;
  return 0;
}

int spd__h5_create_image(spd_ctx_t *ctx, hid_t *file_out) {
  hid_t fapl = core_fapl();
  char name[64];
  image_name(name, sizeof name, file_out);
  hid_t f = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (f < 0)
    return spd_ctx_fail(ctx, SPD_EIO, "cannot create an HDF5 file in memory");
  *file_out = f;
  return 0;
}

int spd__h5_image_bytes(spd_ctx_t *ctx, hid_t file, void **data_out, size_t *len_out) {
  if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
    return spd_ctx_fail(ctx, SPD_EIO, "cannot flush the HDF5 file in memory");
  ssize_t len = H5Fget_file_image(file, NULL, 0);
  if (len <= 0)
    return spd_ctx_fail(ctx, SPD_EIO, "cannot take the image of an HDF5 file in memory");
  void *data = spd_malloc(ctx, (size_t)len);
  if (!data)
    return spd_ctx_fail(ctx, SPD_ENOMEM, "out of memory (%zd bytes of HDF5 image)", len);
  if (H5Fget_file_image(file, data, (size_t)len) != len) {
    spd_free(ctx, data);
    return spd_ctx_fail(ctx, SPD_EIO, "cannot take the image of an HDF5 file in memory");
  }
  *data_out = data;
  *len_out = (size_t)len;
  return 0;
}
