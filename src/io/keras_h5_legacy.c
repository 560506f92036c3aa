/* The legacy tf.keras 2 HDF5 weights layout (save_weights('w.h5') and the
 * model_weights group of save('m.h5')):
 *   attrs layer_names (or layer_names0, layer_names1, ...), backend, keras_version
 *   /<layer>            attrs weight_names ["<layer>/kernel:0", ...]
 *   /<layer>/<layer>/kernel:0   float32 dataset, Keras's layout
 * See docs/formats.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/keras_h5.h"
#include "io/keras_json.h"

#define LEGACY_KERAS_VERSION "2.11.0"

/* One layer of the file that holds weights. */
typedef struct file_layer {
  char *name;
  char **weights;
  int n_weights;
} file_layer_t;

typedef struct legacy {
  spd_ctx_t *ctx;
  hid_t root;
  const char *file;
  file_layer_t *layers;
  int n_layers;
} legacy_t;

static void legacy_free(legacy_t *lg) {
  for (int i = 0; i < lg->n_layers; i++) {
    spd_free(lg->ctx, lg->layers[i].name);
    spd__h5_strings_free(lg->ctx, lg->layers[i].weights, lg->layers[i].n_weights);
  }
  spd_free(lg->ctx, lg->layers);
}

/* The file's layers that have weights, in the file's order. */
static int list_file_layers(legacy_t *lg) {
  char **names = NULL;
  int n = 0;
  int err = spd__h5_read_strings(lg->ctx, lg->root, "layer_names", lg->file, &names, &n);
  if (err == SPD_ENOTFOUND)
    return spd_ctx_fail(lg->ctx, SPD_EFORMAT,
                        "'%s': not a Keras weights file (no layer_names attribute)", lg->file);
  if (err)
    return err;
  lg->layers = spd_calloc(lg->ctx, n ? (size_t)n : 1, sizeof *lg->layers);
  if (!lg->layers)
    err = spd_ctx_fail(lg->ctx, SPD_ENOMEM, "'%s': out of memory", lg->file);
  for (int i = 0; !err && i < n; i++) {
    if (!spd__h5_exists(lg->root, names[i])) {
      err = spd_ctx_fail(lg->ctx, SPD_EFORMAT,
                         "'%s': layer_names lists '%s' but there is no group of that name",
                         lg->file, names[i]);
      break;
    }
    hid_t g = H5Gopen2(lg->root, names[i], H5P_DEFAULT);
    char **weights = NULL;
    int nw = 0;
    err = g < 0 ? SPD_EFORMAT
                : spd__h5_read_strings(lg->ctx, g, "weight_names", names[i], &weights, &nw);
    if (g >= 0)
      H5Gclose(g);
    if (err == SPD_ENOTFOUND || err == SPD_EFORMAT)
      err = spd_ctx_fail(lg->ctx, SPD_EFORMAT, "'%s': layer group '%s' has no readable "
                         "weight_names attribute", lg->file, names[i]);
    if (err)
      break;
    if (nw == 0) {
      spd_free(lg->ctx, weights);
      continue;
    }
    file_layer_t *fl = &lg->layers[lg->n_layers++];
    fl->name = names[i];
    names[i] = NULL;
    fl->weights = weights;
    fl->n_weights = nw;
  }
  spd__h5_strings_free(lg->ctx, names, n);
  return err;
}

static int find_file_layer(const legacy_t *lg, const char *name) {
  for (int i = 0; i < lg->n_layers; i++)
    if (!strcmp(lg->layers[i].name, name))
      return i;
  return -1;
}

static void list_names(const legacy_t *lg, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < lg->n_layers && used + 1 < size; i++)
    used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", lg->layers[i].name);
}

static int no_weights_for(const legacy_t *lg, const spd_model_t *m, int index, int weighted) {
  char names[256];
  list_names(lg, names, sizeof names);
  return spd_ctx_fail(lg->ctx, SPD_ENOTFOUND,
                      "layer '%s': no weights for it in '%s' (the file has weights for %d "
                      "layers: %s; the model has %d layers with weights)",
                      m->layers[index].config.name, lg->file, lg->n_layers, names, weighted);
}

/* Which file layer feeds each model layer with parameters: by name when
 * every name is found, else by order as Keras's load_weights does when the
 * counts agree. */
static int match_layers(const legacy_t *lg, const spd_model_t *m, int *match) {
  int weighted = 0, unnamed = -1;
  for (int i = 0; i < m->n_layers; i++) {
    match[i] = -1;
    if (m->layers[i].n_params == 0)
      continue;
    weighted++;
    match[i] = find_file_layer(lg, m->layers[i].config.name);
    if (match[i] < 0 && unnamed < 0)
      unnamed = i;
  }
  if (unnamed < 0)
    return 0;
  if (weighted != lg->n_layers)
    return no_weights_for(lg, m, unnamed, weighted);
  int next = 0;
  for (int i = 0; i < m->n_layers; i++)
    if (m->layers[i].n_params > 0)
      match[i] = next++;
  return 0;
}

static int read_layer(const legacy_t *lg, spd__stage_t *st, int index, const file_layer_t *fl) {
  const spd_layer_t *l = &st->m->layers[index];
  if (fl->n_weights != l->n_params)
    return spd_ctx_fail(lg->ctx, SPD_ENOTFOUND,
                        "layer '%s': the file has %d weights for it (group '%s'), the model "
                        "expects %d", l->config.name, fl->n_weights, fl->name, l->n_params);
  hid_t g = H5Gopen2(lg->root, fl->name, H5P_DEFAULT);
  if (g < 0)
    return spd_ctx_fail(lg->ctx, SPD_EFORMAT, "'%s': layer group '%s' is unreadable", lg->file,
                        fl->name);
  int err = 0;
  for (int p = 0; !err && p < l->n_params; p++)
    err = spd__h5_read_tensor(lg->ctx, g, fl->weights[p], l->config.name, l->params[p].name,
                              &l->params[p].value.shape, spd__stage_slot(st, index, p));
  H5Gclose(g);
  return err;
}

int spd__keras_legacy_read(spd__stage_t *st, hid_t root, const char *file) {
  spd_model_t *m = st->m;
  legacy_t lg = {.ctx = m->ctx, .root = root, .file = file};
  int *match = spd_calloc(m->ctx, (size_t)m->n_layers, sizeof *match);
  int err = match ? list_file_layers(&lg)
                  : spd_ctx_fail(m->ctx, SPD_ENOMEM, "'%s': out of memory", file);
  if (!err)
    err = match_layers(&lg, m, match);
  for (int i = 0; !err && i < m->n_layers; i++)
    if (match[i] >= 0)
      err = read_layer(&lg, st, i, &lg.layers[match[i]]);
  spd_free(m->ctx, match);
  legacy_free(&lg);
  return err;
}

/* ---- writing ---- */

/* tf.keras 2 lists the layers of a Sequential model without its InputLayer. */
static int first_listed(const spd_model_t *m) { return spd__model_is_chain(m) ? 1 : 0; }

static int write_layer(const spd_model_t *m, hid_t root, const spd_layer_t *l) {
  char names[SPD_MAX_PARAMS][2 * SPD_NAME_MAX + 8];
  const char *list[SPD_MAX_PARAMS];
  for (int p = 0; p < l->n_params; p++) {
    snprintf(names[p], sizeof names[p], "%s/%s:0", l->config.name, l->params[p].name);
    list[p] = names[p];
  }
  hid_t g = H5Gcreate2(root, l->config.name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0)
    return spd_ctx_fail(m->ctx, SPD_EIO, "cannot create HDF5 group '%s'", l->config.name);
  int err = spd__h5_write_strings(m->ctx, g, "weight_names", list, l->n_params);
  for (int p = 0; !err && p < l->n_params; p++)
    err = spd__h5_write_tensor(m->ctx, g, names[p], &l->params[p].value);
  H5Gclose(g);
  return err;
}

/* Keras writes the layer groups sorted by name ("to ensure that group names
 * are strictly growing"); layer_names keeps the model's order. */
static int by_name(const void *a, const void *b) {
  return strcmp((*(const spd_layer_t *const *)a)->config.name,
                (*(const spd_layer_t *const *)b)->config.name);
}

int spd__keras_legacy_write(const spd_model_t *m, hid_t root) {
  int first = first_listed(m), n = m->n_layers - first;
  const char **names = spd_calloc(m->ctx, (size_t)n, sizeof *names);
  const spd_layer_t **sorted = spd_calloc(m->ctx, (size_t)n, sizeof *sorted);
  int err = 0;
  if (!names || !sorted)
    err = spd_ctx_fail(m->ctx, SPD_ENOMEM, "out of memory writing weights");
  for (int i = 0; !err && i < n; i++) {
    names[i] = m->layers[first + i].config.name;
    sorted[i] = &m->layers[first + i];
  }
  if (!err)
    err = spd__h5_write_strings(m->ctx, root, "layer_names", names, n);
  if (!err)
    err = spd__h5_write_string(m->ctx, root, "backend", "tensorflow");
  if (!err)
    err = spd__h5_write_string(m->ctx, root, "keras_version", LEGACY_KERAS_VERSION);
  if (!err)
    qsort(sorted, (size_t)n, sizeof *sorted, by_name);
  for (int i = 0; !err && i < n; i++)
    err = write_layer(m, root, sorted[i]);
  spd_free(m->ctx, names);
  spd_free(m->ctx, sorted);
  return err;
}
