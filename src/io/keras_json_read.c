/* Reading Keras architecture JSON (`model.to_json()`), both forms:
 * tf.keras 2 ({"class_name", "config": {"layers": [...]}, "keras_version"})
 * and Keras 3 (the same with "module"/"registered_name", InputLayer
 * "batch_shape" and __keras_tensor__ inbound nodes). Layouts: docs/formats.md. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "io/file.h"
#include "io/keras_json.h"
#include "nn/layer_op.h"

/* A BatchNormalization axis, checked once shapes are known (the rank of its
 * input is only known after the model is built). */
typedef struct bn_axis {
  int layer;
  int axis;
} bn_axis_t;

struct spd__kjr {
  spd_ctx_t *ctx;
  spd_model_t *m;
  bool keras3;
  bn_axis_t *axes;
  int n_axes;
};
typedef spd__kjr_t reader_t;

/* ---- small typed accessors; every failure names the layer and field ---- */

static int bad_field(reader_t *r, const char *layer, const char *field, const char *want) {
  return spd_ctx_fail(r->ctx, SPD_EFORMAT, "Keras JSON: layer '%s': field '%s' must be %s",
                      layer, field, want);
}

static bool present(const cJSON *item) { return item && !cJSON_IsNull(item); }

/* A field that is absent (or null): an error only if it is @p required;
 * otherwise the caller's default stands. */
static int absent(reader_t *r, const char *layer, const char *key, bool required) {
  if (!required)
    return 0;
  return spd_ctx_fail(r->ctx, SPD_EFORMAT, "Keras JSON: layer '%s': missing required field '%s'",
                      layer, key);
}

static bool is_int(const cJSON *item) {
  return cJSON_IsNumber(item) && item->valuedouble == floor(item->valuedouble) &&
         fabs(item->valuedouble) < 2147483648.0;
}

static int get_int(reader_t *r, const cJSON *cfg, const char *layer, const char *key,
                   bool required, int32_t *out) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(cfg, key);
  if (!present(item))
    return absent(r, layer, key, required);
  if (!is_int(item))
    return bad_field(r, layer, key, "an integer");
  *out = (int32_t)item->valuedouble;
  return 0;
}

/* kernel_size, strides, pool_size...: an integer or a list of @p n integers. */
static int get_ints(reader_t *r, const cJSON *cfg, const char *layer, const char *key,
                    int n, bool required, int32_t out[2]) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(cfg, key);
  if (!present(item))
    return absent(r, layer, key, required);
  if (is_int(item)) {
    for (int i = 0; i < n; i++)
      out[i] = (int32_t)item->valuedouble;
    return 0;
  }
  if (!cJSON_IsArray(item) || cJSON_GetArraySize(item) != n)
    return bad_field(r, layer, key, n == 1 ? "an integer or a list of 1 integer"
                                           : "an integer or a list of 2 integers");
  for (int i = 0; i < n; i++) {
    const cJSON *v = cJSON_GetArrayItem(item, i);
    if (!is_int(v))
      return bad_field(r, layer, key, "a list of integers");
    out[i] = (int32_t)v->valuedouble;
  }
  return 0;
}

static int get_bool(reader_t *r, const cJSON *cfg, const char *layer, const char *key, bool *out) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(cfg, key);
  if (!present(item))
    return 0;
  if (!cJSON_IsBool(item))
    return bad_field(r, layer, key, "true or false");
  *out = cJSON_IsTrue(item);
  return 0;
}

static int get_float(reader_t *r, const cJSON *cfg, const char *layer, const char *key,
                     bool required, float *out) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(cfg, key);
  if (!present(item))
    return absent(r, layer, key, required);
  if (!cJSON_IsNumber(item))
    return bad_field(r, layer, key, "a number");
  *out = (float)item->valuedouble;
  return 0;
}

static const char *get_string(const cJSON *obj, const char *key) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* A shape list with the batch dimension first ([null, 28, 28, 1]). */
static int get_batch_shape(reader_t *r, const cJSON *item, const char *layer, const char *key,
                           spd_shape_t *out) {
  int n = cJSON_GetArraySize(item);
  if (!cJSON_IsArray(item) || n < 2 || n > SPD_MAX_RANK + 1)
    return bad_field(r, layer, key, "a list [batch, d1, ...] of 2 to 6 entries");
  spd_shape_t s = {.rank = n - 1};
  for (int i = 1; i < n; i++) {
    const cJSON *v = cJSON_GetArrayItem(item, i);
    if (!is_int(v) || v->valuedouble < 1)
      return spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED,
                          "Keras JSON: layer '%s': '%s' dimension %d must be a positive "
                          "integer (unknown sizes are not supported)", layer, key, i);
    s.dims[i - 1] = (int32_t)v->valuedouble;
  }
  *out = s;
  return 0;
}

/* ---- the arguments Keras layers share ---- */

static int check_data_format(reader_t *r, const cJSON *cfg, const char *layer) {
  const char *df = get_string(cfg, "data_format");
  if (df && strcmp(df, "channels_last") != 0)
    return spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED,
                        "Keras JSON: layer '%s': data_format '%s' is not supported "
                        "(only channels_last)", layer, df);
  return 0;
}

static int check_dtype(reader_t *r, const cJSON *cfg, const char *layer) {
  const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(cfg, "dtype");
  const char *name = NULL;
  if (cJSON_IsString(dtype))
    name = dtype->valuestring;
  else if (cJSON_IsObject(dtype)) /* Keras 3 DTypePolicy */
    name = get_string(cJSON_GetObjectItemCaseSensitive(dtype, "config"), "name");
  if (name && strcmp(name, "float32") != 0)
    return spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED,
                        "Keras JSON: layer '%s': dtype '%s' is not supported (only float32)",
                        layer, name);
  return 0;
}

/* Regularizers and constraints change training; spindle has none, so a
 * model that sets one is refused rather than trained differently. */
static int check_no_extras(reader_t *r, const cJSON *cfg, const char *layer) {
  const cJSON *item;
  cJSON_ArrayForEach(item, cfg) {
    const char *k = item->string;
    size_t n = strlen(k);
    bool reg = n > 12 && !strcmp(k + n - 12, "_regularizer");
    bool con = n > 11 && !strcmp(k + n - 11, "_constraint");
    if ((reg || con) && present(item))
      return spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED,
                          "Keras JSON: layer '%s': '%s' is not supported (must be null)", layer, k);
  }
  return 0;
}

static int get_activation(reader_t *r, const cJSON *cfg, const char *layer, bool required,
                          spd_layer_config_t *out) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(cfg, "activation");
  if (!present(item)) {
    if (required)
      return spd_ctx_fail(r->ctx, SPD_EFORMAT,
                          "Keras JSON: layer '%s': missing required field 'activation'", layer);
    return 0;
  }
  if (!cJSON_IsString(item))
    return bad_field(r, layer, "activation", "an activation name");
  int a = spd_activation_parse(item->valuestring);
  if (a < 0)
    return spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED,
                        "Keras JSON: layer '%s': activation '%s' is not supported", layer,
                        item->valuestring);
  out->activation = (spd_activation_t)a;
  return 0;
}

/* VarianceScaling is how older tf.keras spelled the named initializers. */
static int variance_scaling(const cJSON *config) {
  const cJSON *scale = cJSON_GetObjectItemCaseSensitive(config, "scale");
  const char *mode = get_string(config, "mode");
  const char *dist = get_string(config, "distribution");
  if (!cJSON_IsNumber(scale) || !mode || !dist)
    return -1;
  bool uniform = !strcmp(dist, "uniform");
  bool normal = !strcmp(dist, "normal") || !strcmp(dist, "truncated_normal");
  if (scale->valuedouble == 1.0 && !strcmp(mode, "fan_avg"))
    return uniform ? SPD_INIT_GLOROT_UNIFORM : normal ? SPD_INIT_GLOROT_NORMAL : -1;
  if (scale->valuedouble == 2.0 && !strcmp(mode, "fan_in"))
    return uniform ? SPD_INIT_HE_UNIFORM : normal ? SPD_INIT_HE_NORMAL : -1;
  return -1;
}

static int get_initializer(reader_t *r, const cJSON *cfg, const char *layer, const char *key,
                           spd_initializer_t *out) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(cfg, key);
  if (!present(item))
    return 0;
  int init = -1;
  const char *name = "?";
  if (cJSON_IsString(item)) {
    name = item->valuestring;
    init = spd_initializer_parse(name);
  } else if (cJSON_IsObject(item) && get_string(item, "class_name")) {
    name = get_string(item, "class_name");
    init = strcmp(name, "VarianceScaling")
               ? spd_initializer_parse(name)
               : variance_scaling(cJSON_GetObjectItemCaseSensitive(item, "config"));
  } else {
    return bad_field(r, layer, key, "an initializer name or {\"class_name\": ...}");
  }
  if (init < 0)
    return spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED,
                        "Keras JSON: layer '%s': %s '%s' is not supported", layer, key, name);
  *out = (spd_initializer_t)init;
  return 0;
}

static int get_padding(reader_t *r, const cJSON *cfg, const char *layer, spd_padding_t *out) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(cfg, "padding");
  if (!present(item))
    return 0;
  if (cJSON_IsString(item) && !strcmp(item->valuestring, "valid"))
    *out = SPD_PAD_VALID;
  else if (cJSON_IsString(item) && !strcmp(item->valuestring, "same"))
    *out = SPD_PAD_SAME;
  else
    return spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED,
                        "Keras JSON: layer '%s': padding %s%s%s is not supported (valid or same)",
                        layer, cJSON_IsString(item) ? "'" : "",
                        cJSON_IsString(item) ? item->valuestring : "of this type",
                        cJSON_IsString(item) ? "'" : "");
  return 0;
}

/* ---- the accessors the layer descriptors (nn/layers/) read with ---- */

spd_ctx_t *spd__kjr_ctx(spd__kjr_t *r) { return r->ctx; }

bool spd__kjr_present(const cJSON *item) { return present(item); }

bool spd__kjr_is_int(const cJSON *item) { return is_int(item); }

int spd__kjr_bad_field(spd__kjr_t *r, const char *layer, const char *field, const char *want) {
  return bad_field(r, layer, field, want);
}

int spd__kjr_int(spd__kjr_t *r, const cJSON *cfg, const char *layer, const char *key,
                 bool required, int32_t *out) {
  return get_int(r, cfg, layer, key, required, out);
}

int spd__kjr_ints(spd__kjr_t *r, const cJSON *cfg, const char *layer, const char *key, int n,
                  bool required, int32_t out[2]) {
  return get_ints(r, cfg, layer, key, n, required, out);
}

int spd__kjr_bool(spd__kjr_t *r, const cJSON *cfg, const char *layer, const char *key,
                  bool *out) {
  return get_bool(r, cfg, layer, key, out);
}

int spd__kjr_float(spd__kjr_t *r, const cJSON *cfg, const char *layer, const char *key,
                   bool required, float *out) {
  return get_float(r, cfg, layer, key, required, out);
}

int spd__kjr_activation(spd__kjr_t *r, const cJSON *cfg, const char *layer, bool required,
                        spd_layer_config_t *out) {
  return get_activation(r, cfg, layer, required, out);
}

int spd__kjr_padding(spd__kjr_t *r, const cJSON *cfg, const char *layer, spd_padding_t *out) {
  return get_padding(r, cfg, layer, out);
}

/* activation, use_bias and the two initializers of Dense and convolutions. */
int spd__kjr_weighted_tail(spd__kjr_t *r, const cJSON *c, const char *n, spd_layer_config_t *o) {
  int err = get_activation(r, c, n, false, o);
  if (!err)
    err = get_bool(r, c, n, "use_bias", &o->use_bias);
  if (!err)
    err = get_initializer(r, c, n, "kernel_initializer", &o->kernel_initializer);
  if (!err)
    err = get_initializer(r, c, n, "bias_initializer", &o->bias_initializer);
  return err;
}

/* A BatchNormalization axis of the layer being read, checked once shapes
 * are known (the rank of its input is only known after the model is
 * built). */
int spd__kjr_last_axis(spd__kjr_t *r, int axis) {
  bn_axis_t *grown = spd_realloc(r->ctx, r->axes, (size_t)(r->n_axes + 1) * sizeof *grown);
  if (!grown)
    return spd_ctx_fail(r->ctx, SPD_ENOMEM, "Keras JSON: out of memory");
  r->axes = grown;
  r->axes[r->n_axes++] = (bn_axis_t){r->m->n_layers, axis};
  return 0;
}

static int kind_of(reader_t *r, const char *cls, const char *name) {
  int kind = spd__layer_op_find(cls);
  if (kind < 0)
    return spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED,
                        "Keras JSON: layer '%s': unsupported layer class '%s'", name, cls);
  return kind;
}

/* Fill @p o from one layer's class and config (everything but the input). */
static int read_layer_config(reader_t *r, const char *cls, const cJSON *c, const char *name,
                             spd_layer_config_t *o) {
  int kind = kind_of(r, cls, name);
  if (kind < 0)
    return kind;
  if (strlen(name) >= SPD_NAME_MAX)
    return spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED,
                        "Keras JSON: layer name '%s' is longer than %d characters", name,
                        SPD_NAME_MAX - 1);
  spd_layer_config_defaults(o, (spd_layer_kind_t)kind, name);
  int err = check_dtype(r, c, name);
  if (!err)
    err = check_data_format(r, c, name);
  if (!err)
    err = check_no_extras(r, c, name);
  if (err)
    return err;
  const spd_layer_op_t *op = spd__layer_op((spd_layer_kind_t)kind);
  /* InputLayer is read by read_input; Flatten and Add have no arguments */
  return op->keras_read ? op->keras_read(r, cls, c, name, o) : 0;
}

/* ---- the input ---- */

static int input_shape_from(reader_t *r, const cJSON *c, const char *name, spd_shape_t *out,
                            bool *found) {
  static const char *const keys[] = {"batch_shape", "batch_input_shape"};
  *found = false;
  for (size_t i = 0; i < 2; i++) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(c, keys[i]);
    if (present(item)) {
      *found = true;
      return get_batch_shape(r, item, name, keys[i], out);
    }
  }
  return 0;
}

static int add_input(reader_t *r, const char *name, const spd_shape_t *shape) {
  spd_layer_config_t cfg;
  if (strlen(name) >= SPD_NAME_MAX)
    return spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED,
                        "Keras JSON: layer name '%s' is longer than %d characters", name,
                        SPD_NAME_MAX - 1);
  spd_layer_config_defaults(&cfg, SPD_LAYER_INPUT, name);
  cfg.input_shape = *shape;
  return spd_model_add(r->m, &cfg, NULL, 0, NULL);
}

static int read_input_layer(reader_t *r, const cJSON *c, const char *name) {
  spd_shape_t shape;
  bool found;
  int err = check_dtype(r, c, name);
  if (!err)
    err = input_shape_from(r, c, name, &shape, &found);
  if (!err && !found)
    err = spd_ctx_fail(r->ctx, SPD_EFORMAT,
                       "Keras JSON: InputLayer '%s': missing required field '%s'", name,
                       r->keras3 ? "batch_shape" : "batch_input_shape");
  if (!err && r->m->n_layers > 0)
    err = spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED,
                       "Keras JSON: InputLayer '%s': models with several inputs are not "
                       "supported", name);
  return err ? err : add_input(r, name, &shape);
}

/* ---- Sequential ---- */

static const char *layer_name(const cJSON *entry, const cJSON *cfg) {
  const char *name = get_string(entry, "name");
  return name ? name : get_string(cfg, "name");
}

static int entry_parts(reader_t *r, const cJSON *entry, int i, const char **cls,
                       const cJSON **cfg, const char **name) {
  *cls = get_string(entry, "class_name");
  *cfg = cJSON_GetObjectItemCaseSensitive(entry, "config");
  if (!cJSON_IsObject(entry) || !*cls || !cJSON_IsObject(*cfg))
    return spd_ctx_fail(r->ctx, SPD_EFORMAT,
                        "Keras JSON: layers[%d] must be {\"class_name\": ..., \"config\": {...}}", i);
  *name = layer_name(entry, *cfg);
  if (!*name)
    return spd_ctx_fail(r->ctx, SPD_EFORMAT,
                        "Keras JSON: layers[%d] (%s): missing required field 'name'", i, *cls);
  if (spd_model_find(r->m, *name) >= 0)
    return spd_ctx_fail(r->ctx, SPD_EFORMAT, "Keras JSON: two layers are named '%s'", *name);
  return 0;
}

/* A Sequential model without an InputLayer takes its input shape from the
 * first layer's batch_input_shape or from build_input_shape, as Keras does;
 * the input is named as Keras names it. */
static int implicit_input(reader_t *r, const cJSON *model_cfg, const cJSON *cfg,
                          const char *first_name) {
  spd_shape_t shape;
  bool found;
  int err = input_shape_from(r, cfg, first_name, &shape, &found);
  if (!err && !found) {
    const cJSON *build = cJSON_GetObjectItemCaseSensitive(model_cfg, "build_input_shape");
    if (present(build)) {
      found = true;
      err = get_batch_shape(r, build, "(model)", "build_input_shape", &shape);
    }
  }
  if (err)
    return err;
  if (!found)
    return spd_ctx_fail(r->ctx, SPD_EFORMAT,
                        "Keras JSON: the Sequential model has no input shape (no InputLayer, "
                        "batch_input_shape or build_input_shape)");
  char name[SPD_NAME_MAX + 8];
  if (r->keras3)
    snprintf(name, sizeof name, "input_layer");
  else
    snprintf(name, sizeof name, "%s_input", first_name);
  return add_input(r, name, &shape);
}

static int read_sequential(reader_t *r, const cJSON *model_cfg, const cJSON *layers) {
  int i = 0;
  const cJSON *entry;
  cJSON_ArrayForEach(entry, layers) {
    const char *cls, *name;
    const cJSON *cfg;
    int err = entry_parts(r, entry, i++, &cls, &cfg, &name);
    if (!err && !strcmp(cls, "InputLayer")) {
      err = read_input_layer(r, cfg, name);
      if (err)
        return err;
      continue;
    }
    if (!err && r->m->n_layers == 0)
      err = implicit_input(r, model_cfg, cfg, name);
    spd_layer_config_t lc;
    if (!err)
      err = read_layer_config(r, cls, cfg, name, &lc);
    if (!err && spd__layer_op(lc.kind)->min_inputs > 1)
      err = spd_ctx_fail(r->ctx, SPD_EFORMAT,
                         "Keras JSON: layer '%s': %s needs several inputs; it cannot be in "
                         "a Sequential model", name, spd_layer_kind_name(lc.kind));
    int prev = r->m->n_layers - 1;
    if (!err)
      err = spd_model_add(r->m, &lc, &prev, 1, NULL);
    if (err)
      return err;
  }
  if (r->m->n_layers < 2)
    return spd_ctx_fail(r->ctx, SPD_EFORMAT, "Keras JSON: the model has no layers");
  return 0;
}

/* ---- Functional ---- */

/* tf.keras 2: ["name", node_index, tensor_index, {kwargs}]; Keras 3:
 * {"class_name": "__keras_tensor__", "config": {"keras_history": [...]}}. */
static int add_ref(reader_t *r, const char *layer, const cJSON *ref, int *inbound, int *n) {
  const cJSON *hist = ref;
  if (cJSON_IsObject(ref))
    hist = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ref, "config"),
                                            "keras_history");
  const cJSON *src = cJSON_GetArrayItem(hist, 0);
  const cJSON *node = cJSON_GetArrayItem(hist, 1);
  const cJSON *tensor = cJSON_GetArrayItem(hist, 2);
  if (!cJSON_IsArray(hist) || !cJSON_IsString(src) || !is_int(node) || !is_int(tensor))
    return spd_ctx_fail(r->ctx, SPD_EFORMAT,
                        "Keras JSON: layer '%s': malformed inbound node (expected [\"layer\", "
                        "node, tensor] or a __keras_tensor__)", layer);
  int index = spd_model_find(r->m, src->valuestring);
  if (index < 0)
    return spd_ctx_fail(r->ctx, SPD_EFORMAT,
                        "Keras JSON: layer '%s': inbound layer '%s' is not defined before it",
                        layer, src->valuestring);
  if (node->valuedouble != 0 || tensor->valuedouble != 0)
    return spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED,
                        "Keras JSON: layer '%s': input from node %d, tensor %d of '%s' "
                        "(shared layers and multi-output layers are not supported)",
                        layer, (int)node->valuedouble, (int)tensor->valuedouble, src->valuestring);
  if (*n == SPD_MAX_INBOUND)
    return spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED,
                        "Keras JSON: layer '%s': more than %d inputs", layer, SPD_MAX_INBOUND);
  inbound[(*n)++] = index;
  return 0;
}

/* Keras 3 node args: a tensor, or a list of tensors (Add). */
static int add_args(reader_t *r, const char *layer, const cJSON *args, int *inbound, int *n) {
  const cJSON *arg;
  cJSON_ArrayForEach(arg, args) {
    int err = cJSON_IsArray(arg) ? add_args(r, layer, arg, inbound, n)
                                 : add_ref(r, layer, arg, inbound, n);
    if (err)
      return err;
  }
  return 0;
}

static int read_inbound(reader_t *r, const cJSON *entry, const char *name, int *inbound, int *n) {
  const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(entry, "inbound_nodes");
  int count = cJSON_GetArraySize(nodes);
  if (!cJSON_IsArray(nodes) || count == 0)
    return spd_ctx_fail(r->ctx, SPD_EFORMAT,
                        "Keras JSON: layer '%s': missing required field 'inbound_nodes'", name);
  if (count > 1)
    return spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED,
                        "Keras JSON: layer '%s' is called %d times (shared layers are not "
                        "supported)", name, count);
  const cJSON *node = cJSON_GetArrayItem(nodes, 0);
  *n = 0;
  if (cJSON_IsObject(node))
    return add_args(r, name, cJSON_GetObjectItemCaseSensitive(node, "args"), inbound, n);
  const cJSON *ref;
  cJSON_ArrayForEach(ref, node) {
    int err = add_ref(r, name, ref, inbound, n);
    if (err)
      return err;
  }
  if (*n == 0)
    return spd_ctx_fail(r->ctx, SPD_EFORMAT, "Keras JSON: layer '%s': empty inbound node", name);
  return 0;
}

/* output_layers: [["name", 0, 0]] (tf.keras 2) or ["name", 0, 0] (Keras 3). */
static int read_output(reader_t *r, const cJSON *model_cfg) {
  const cJSON *outs = cJSON_GetObjectItemCaseSensitive(model_cfg, "output_layers");
  if (!present(outs))
    return 0;
  const cJSON *ref = cJSON_IsString(cJSON_GetArrayItem(outs, 0)) ? outs : NULL;
  if (!ref && cJSON_GetArraySize(outs) == 1)
    ref = cJSON_GetArrayItem(outs, 0);
  if (!ref)
    return spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED,
                        "Keras JSON: models with several outputs are not supported");
  const cJSON *name = cJSON_GetArrayItem(ref, 0);
  int index = cJSON_IsString(name) ? spd_model_find(r->m, name->valuestring) : -1;
  if (index < 0)
    return spd_ctx_fail(r->ctx, SPD_EFORMAT,
                        "Keras JSON: output_layers names a layer that does not exist");
  r->m->output = index;
  return 0;
}

static int read_functional(reader_t *r, const cJSON *model_cfg, const cJSON *layers) {
  int i = 0;
  const cJSON *entry;
  cJSON_ArrayForEach(entry, layers) {
    const char *cls, *name;
    const cJSON *cfg;
    int err = entry_parts(r, entry, i++, &cls, &cfg, &name);
    if (!err && !strcmp(cls, "InputLayer")) {
      err = read_input_layer(r, cfg, name);
      if (err)
        return err;
      continue;
    }
    if (!err && r->m->n_layers == 0)
      err = spd_ctx_fail(r->ctx, SPD_EFORMAT,
                         "Keras JSON: layer '%s' comes before any InputLayer", name);
    int inbound[SPD_MAX_INBOUND], n = 0;
    spd_layer_config_t lc;
    if (!err)
      err = read_layer_config(r, cls, cfg, name, &lc);
    if (!err)
      err = read_inbound(r, entry, name, inbound, &n);
    if (!err)
      err = spd_model_add(r->m, &lc, inbound, n, NULL);
    if (err)
      return err;
  }
  if (r->m->n_layers < 2)
    return spd_ctx_fail(r->ctx, SPD_EFORMAT, "Keras JSON: the model has no layers");
  return read_output(r, model_cfg);
}

/* ---- the document ---- */

/* Does the text end inside a string, an object or an array (a truncated
 * file)? cJSON then points at the bracket it could not close. */
static bool truncated(const char *text, size_t len) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < len; i++) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      depth++;
    } else if (c == '}' || c == ']') {
      depth--;
    }
  }
  return in_string || depth > 0;
}

/* Depth of [ and { open at byte @p off (strings skipped): cJSON refuses
 * nesting past CJSON_NESTING_LIMIT, which deserves its own message. */
static int depth_at(const char *text, size_t off) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < off; i++) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      depth++;
    } else if (c == ']' || c == '}') {
      depth--;
    }
  }
  return depth;
}

static int syntax_error(spd_ctx_t *ctx, const char *text, size_t len, const char *at) {
  size_t off = at && at >= text && at <= text + len ? (size_t)(at - text) : len;
  if (truncated(text, len))
    off = len;
  if (off < len && depth_at(text, off) >= CJSON_NESTING_LIMIT)
    return spd_ctx_fail(ctx, SPD_EFORMAT,
                        "Keras JSON: arrays and objects nested more than %d levels deep",
                        CJSON_NESTING_LIMIT);
  int line = 1, col = 1;
  for (size_t i = 0; i < off; i++) {
    if (text[i] == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  char near[24] = "";
  size_t k = 0;
  for (size_t i = off; i < len && k + 1 < sizeof near && text[i] != '\n'; i++)
    near[k++] = text[i];
  near[k] = '\0';
  if (off >= len)
    return spd_ctx_fail(ctx, SPD_EFORMAT,
                        "Keras JSON: invalid JSON: unexpected end of text at line %d, column %d",
                        line, col);
  return spd_ctx_fail(ctx, SPD_EFORMAT,
                      "Keras JSON: invalid JSON at line %d, column %d (near '%s')", line, col,
                      near);
}

static int check_axes(reader_t *r) {
  for (int i = 0; i < r->n_axes; i++) {
    const spd_layer_t *l = &r->m->layers[r->axes[i].layer];
    int axis = r->axes[i].axis;
    if (axis != -1 && axis != l->input_shape.rank)
      return spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED,
                          "Keras JSON: layer '%s': BatchNormalization axis %d is not supported "
                          "(only the last axis, -1 or %d)", l->config.name, axis,
                          l->input_shape.rank);
  }
  return 0;
}

/* Keras 3 writes what compile() was given beside the architecture. */
static int read_compile(reader_t *r, const cJSON *root) {
  const cJSON *cc = cJSON_GetObjectItemCaseSensitive(root, "compile_config");
  if (!present(cc))
    return 0;
  spd_compile_config_t c;
  int err = spd__keras_compile_read(r->ctx, cc, "compile_config", &c);
  return err ? err : spd_model_set_compile(r->m, &c);
}

static int read_model(reader_t *r, const cJSON *root, uint64_t seed) {
  const char *cls = get_string(root, "class_name");
  const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "config");
  if (!cJSON_IsObject(root) || !cls || !cJSON_IsObject(cfg))
    return spd_ctx_fail(r->ctx, SPD_EFORMAT,
                        "Keras JSON: expected {\"class_name\": \"Sequential\"|\"Functional\", "
                        "\"config\": {...}} at the top level");
  bool sequential = !strcmp(cls, "Sequential");
  if (!sequential && strcmp(cls, "Functional") && strcmp(cls, "Model"))
    return spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED,
                        "Keras JSON: model class '%s' is not supported (Sequential, Functional "
                        "or Model)", cls);
  const cJSON *layers = cJSON_GetObjectItemCaseSensitive(cfg, "layers");
  if (!cJSON_IsArray(layers))
    return spd_ctx_fail(r->ctx, SPD_EFORMAT,
                        "Keras JSON: missing required field 'layers' in the model config");
  r->keras3 = cJSON_GetObjectItemCaseSensitive(root, "module") != NULL;
  const char *name = get_string(cfg, "name");
  if (name && strlen(name) < SPD_NAME_MAX)
    snprintf(r->m->name, sizeof r->m->name, "%s", name);
  int err = sequential ? read_sequential(r, cfg, layers) : read_functional(r, cfg, layers);
  if (!err)
    err = spd_model_build(r->m, seed);
  if (!err)
    err = check_axes(r);
  return err ? err : read_compile(r, root);
}

int spd_keras_json_parse(spd_ctx_t *ctx, const char *text, size_t len, uint64_t seed,
                         spd_model_t **out) {
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, false);
  if (!root)
    return syntax_error(ctx, text, len, end ? end : cJSON_GetErrorPtr());
  reader_t r = {.ctx = ctx};
  int err = spd_model_new(ctx, "model", &r.m);
  if (!err)
    err = read_model(&r, root, seed);
  cJSON_Delete(root);
  spd_free(ctx, r.axes);
  if (err) {
    spd_model_free(r.m);
    return err;
  }
  *out = r.m;
  return 0;
}

int spd_keras_json_load(spd_ctx_t *ctx, const char *path, uint64_t seed, spd_model_t **out) {
  char *text = NULL;
  size_t len = 0;
  int err = spd__read_file(ctx, path, &text, &len);
  if (err)
    return err;
  err = spd_keras_json_parse(ctx, text, len, seed, out);
  spd_free(ctx, text);
  return err;
}
