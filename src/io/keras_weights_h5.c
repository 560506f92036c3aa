/* The Keras 3 weights layout (`save_weights('w.weights.h5')` and the
 * model.weights.h5 member of `.keras` archives), written by Keras's
 * H5IOStore:
 *   /vars                              the model's own variables (none)
 *   /layers/<snake>[_k]/vars/0, /1...  each layer's variables, trainable first
 * Layers are addressed by the snake_case of their class name, numbered in
 * model.layers order (dense, dense_1, ...), not by their names, because Keras
 * names are not reproducible. See docs/formats.md. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "io/keras_h5.h"
#include "io/keras_json.h"

/* Keras's naming.to_snake_case for class names: re.sub("(.)([A-Z][a-z]+)",
 * r"\1_\2") then re.sub("([a-z])([A-Z])", r"\1_\2"), lower-cased. */
static void snake_case(const char *cls, char *out, size_t size) {
  char pass1[2 * SPD_NAME_MAX];
  size_t n = strlen(cls), k = 0, i = 0;
  while (i < n && k + 3 < sizeof pass1) {
    if (i + 2 < n && isupper((unsigned char)cls[i + 1]) && islower((unsigned char)cls[i + 2])) {
      pass1[k++] = cls[i++];
      pass1[k++] = '_';
      pass1[k++] = cls[i++];
      while (i < n && islower((unsigned char)cls[i]) && k + 1 < sizeof pass1)
        pass1[k++] = cls[i++];
    } else {
      pass1[k++] = cls[i++];
    }
  }
  pass1[k] = '\0';
  size_t j = 0;
  for (i = 0; pass1[i] && j + 3 < size; i++) {
    out[j++] = (char)tolower((unsigned char)pass1[i]);
    if (islower((unsigned char)pass1[i]) && isupper((unsigned char)pass1[i + 1])) {
      out[j++] = '_';
      out[j++] = (char)tolower((unsigned char)pass1[++i]);
    }
  }
  out[j] = '\0';
}

/* "layers/dense_1": the path of every layer, in model order. LeakyReLU and
 * the other activation layers are Activation layers to spindle, which can
 * renumber activation paths but never those of layers with variables. */
static int layer_paths(const spd_model_t *m, const char *prefix, char (*paths)[2 * SPD_NAME_MAX]) {
  char snakes[SPD_LAYER_KIND_COUNT][SPD_NAME_MAX];
  int used[SPD_LAYER_KIND_COUNT] = {0};
  for (int k = 0; k < SPD_LAYER_KIND_COUNT; k++)
    snake_case(spd_layer_kind_name((spd_layer_kind_t)k), snakes[k], sizeof snakes[k]);
  for (int i = 0; i < m->n_layers; i++) {
    int k = m->layers[i].config.kind;
    if (used[k] == 0)
      snprintf(paths[i], sizeof paths[i], "%s/%s", prefix, snakes[k]);
    else
      snprintf(paths[i], sizeof paths[i], "%s/%s_%d", prefix, snakes[k], used[k]);
    used[k]++;
  }
  return 0;
}

static int count_vars(hid_t file_id, const char *vars) {
  hid_t g = H5Gopen2(file_id, vars, H5P_DEFAULT);
  if (g < 0)
    return -1;
  H5G_info_t info;
  int n = H5Gget_info(g, &info) < 0 ? -1 : (int)info.nlinks;
  H5Gclose(g);
  return n;
}

static int read_layer(spd__stage_t *st, hid_t file_id, const char *file, int index,
                      const char *path) {
  spd_ctx_t *ctx = st->m->ctx;
  const spd_layer_t *l = &st->m->layers[index];
  char vars[3 * SPD_NAME_MAX];
  snprintf(vars, sizeof vars, "%s/vars", path);
  if (!spd__h5_exists(file_id, vars))
    return spd_ctx_fail(ctx, SPD_ENOTFOUND,
                        "layer '%s': no weights for it in '%s' (no group '/%s')",
                        l->config.name, file, vars);
  int n = count_vars(file_id, vars);
  if (n != l->n_params)
    return spd_ctx_fail(ctx, SPD_ENOTFOUND,
                        "layer '%s': the file has %d weights for it ('/%s'), the model expects %d",
                        l->config.name, n, vars, l->n_params);
  int err = 0;
  for (int p = 0; !err && p < l->n_params; p++) {
    char var[4 * SPD_NAME_MAX];
    snprintf(var, sizeof var, "%s/%d", vars, p);
    err = spd__h5_read_tensor(ctx, file_id, var, l->config.name, l->params[p].name,
                              &l->params[p].value.shape, spd__stage_slot(st, index, p));
  }
  return err;
}

int spd__keras3_read(spd__stage_t *st, hid_t file_id, const char *file) {
  spd_model_t *m = st->m;
  /* Files from Keras 2.13 used _layer_checkpoint_dependencies for layers. */
  const char *prefix = spd__h5_exists(file_id, "layers") ? "layers"
                       : spd__h5_exists(file_id, "_layer_checkpoint_dependencies")
                           ? "_layer_checkpoint_dependencies"
                           : NULL;
  if (!prefix)
    return spd_ctx_fail(m->ctx, SPD_EFORMAT,
                        "'%s': not a Keras 3 weights file (no 'layers' group)", file);
  char (*paths)[2 * SPD_NAME_MAX] = spd_calloc(m->ctx, (size_t)m->n_layers, sizeof *paths);
  if (!paths)
    return spd_ctx_fail(m->ctx, SPD_ENOMEM, "'%s': out of memory", file);
  int err = layer_paths(m, prefix, paths);
  for (int i = 0; !err && i < m->n_layers; i++)
    if (m->layers[i].n_params > 0)
      err = read_layer(st, file_id, file, i, paths[i]);
  spd_free(m->ctx, paths);
  return err;
}

static int make_group(spd_ctx_t *ctx, hid_t file_id, const char *path) {
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t g = H5Gcreate2(file_id, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  H5Pclose(lcpl);
  if (g < 0)
    return spd_ctx_fail(ctx, SPD_EIO, "cannot create HDF5 group '%s'", path);
  H5Gclose(g);
  return 0;
}

/* Keras 3's Sequential.layers leaves out the InputLayer; Functional keeps it. */
int spd__keras3_write(const spd_model_t *m, hid_t file_id) {
  char (*paths)[2 * SPD_NAME_MAX] = spd_calloc(m->ctx, (size_t)m->n_layers, sizeof *paths);
  if (!paths)
    return spd_ctx_fail(m->ctx, SPD_ENOMEM, "out of memory writing weights");
  int err = layer_paths(m, "layers", paths);
  if (!err)
    err = make_group(m->ctx, file_id, "vars");
  int first = spd__model_is_chain(m) ? 1 : 0;
  for (int i = first; !err && i < m->n_layers; i++) {
    const spd_layer_t *l = &m->layers[i];
    char vars[3 * SPD_NAME_MAX];
    snprintf(vars, sizeof vars, "%s/vars", paths[i]);
    err = make_group(m->ctx, file_id, vars);
    for (int p = 0; !err && p < l->n_params; p++) {
      char var[4 * SPD_NAME_MAX];
      snprintf(var, sizeof var, "%s/%d", vars, p);
      err = spd__h5_write_tensor(m->ctx, file_id, var, &l->params[p].value);
    }
  }
  spd_free(m->ctx, paths);
  return err;
}
