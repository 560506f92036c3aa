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

/* A BatchNormalization axis, checked once shapes are known (the rank of its
 * input is only known after the model is built). */
typedef struct bn_axis {
  int layer;
  int axis;
} bn_axis_t;

typedef struct reader {
  spd_ctx_t *ctx;
  spd_model_t *m;
  bool keras3;
  bn_axis_t *axes;
  int n_axes;
} reader_t;

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

/* ---- per-kind arguments ---- */

static int dims_of(spd_layer_kind_t kind) {
  return kind == SPD_LAYER_CONV1D || kind == SPD_LAYER_MAXPOOL1D || kind == SPD_LAYER_AVGPOOL1D
             ? 1 : 2;
}

/* activation, use_bias and the two initializers of Dense and convolutions. */
static int read_weighted_tail(reader_t *r, const cJSON *c, const char *n, spd_layer_config_t *o) {
  int err = get_activation(r, c, n, false, o);
  if (!err)
    err = get_bool(r, c, n, "use_bias", &o->use_bias);
  if (!err)
    err = get_initializer(r, c, n, "kernel_initializer", &o->kernel_initializer);
  if (!err)
    err = get_initializer(r, c, n, "bias_initializer", &o->bias_initializer);
  return err;
}

static int read_dense(reader_t *r, const cJSON *c, const char *n, spd_layer_config_t *o) {
  int err = get_int(r, c, n, "units", true, &o->units);
  if (!err && o->units < 1)
    err = bad_field(r, n, "units", "a positive integer");
  return err ? err : read_weighted_tail(r, c, n, o);
}

static int read_conv(reader_t *r, const cJSON *c, const char *n, spd_layer_config_t *o) {
  int d = dims_of(o->kind);
  int32_t groups = 1;
  int err = get_int(r, c, n, "filters", true, &o->filters);
  if (!err && o->filters < 1)
    err = bad_field(r, n, "filters", "a positive integer");
  if (!err)
    err = get_ints(r, c, n, "kernel_size", d, true, o->kernel_size);
  if (!err)
    err = get_ints(r, c, n, "strides", d, false, o->strides);
  if (!err)
    err = get_ints(r, c, n, "dilation_rate", d, false, o->dilation_rate);
  if (!err)
    err = get_padding(r, c, n, &o->padding);
  if (!err)
    err = get_int(r, c, n, "groups", false, &groups);
  if (!err && (groups < 1 || (groups > 1 && d != 2)))
    err = spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED,
                       "Keras JSON: layer '%s': groups=%d is not supported (Conv2D takes 1 or "
                       "more)", n, groups);
  o->groups = groups;
  return err ? err : read_weighted_tail(r, c, n, o);
}

static int read_pool(reader_t *r, const cJSON *c, const char *n, spd_layer_config_t *o) {
  int d = dims_of(o->kind);
  int err = get_ints(r, c, n, "pool_size", d, false, o->pool_size);
  /* Keras: strides=None means strides=pool_size. */
  memcpy(o->strides, o->pool_size, sizeof o->strides);
  if (!err)
    err = get_ints(r, c, n, "strides", d, false, o->strides);
  if (!err)
    err = get_padding(r, c, n, &o->padding);
  return err;
}

static int read_reshape(reader_t *r, const cJSON *c, const char *n, spd_layer_config_t *o) {
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "target_shape");
  int k = cJSON_GetArraySize(t);
  if (!present(t))
    return spd_ctx_fail(r->ctx, SPD_EFORMAT,
                        "Keras JSON: layer '%s': missing required field 'target_shape'", n);
  if (!cJSON_IsArray(t) || k < 1 || k > SPD_MAX_RANK)
    return bad_field(r, n, "target_shape", "a list of 1 to 5 integers");
  o->target_shape.rank = k;
  for (int i = 0; i < k; i++) {
    const cJSON *v = cJSON_GetArrayItem(t, i);
    if (!is_int(v) || (v->valuedouble < 1 && v->valuedouble != -1))
      return bad_field(r, n, "target_shape", "a list of positive integers (one may be -1)");
    o->target_shape.dims[i] = (int32_t)v->valuedouble;
  }
  return 0;
}

static int read_dropout(reader_t *r, const cJSON *c, const char *n, spd_layer_config_t *o) {
  int err = get_float(r, c, n, "rate", true, &o->rate);
  if (!err && !(o->rate >= 0.0f && o->rate < 1.0f))
    err = bad_field(r, n, "rate", "a number in [0, 1)");
  const cJSON *seed = cJSON_GetObjectItemCaseSensitive(c, "seed");
  if (!err && present(seed)) {
    if (!cJSON_IsNumber(seed) || seed->valuedouble < 0)
      err = bad_field(r, n, "seed", "null or a non-negative integer");
    else
      o->dropout_seed = (uint64_t)seed->valuedouble;
  }
  if (!err && present(cJSON_GetObjectItemCaseSensitive(c, "noise_shape")))
    err = spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED,
                       "Keras JSON: layer '%s': noise_shape is not supported (must be null)", n);
  return err;
}

/* axis: -1 or [k] (tf.keras 2 writes a list); it must name the last axis,
 * which is checked after the build when the input rank is known. */
static int read_batchnorm(reader_t *r, const cJSON *c, const char *n, spd_layer_config_t *o,
                          int index) {
  const cJSON *axis = cJSON_GetObjectItemCaseSensitive(c, "axis");
  int value = -1;
  if (cJSON_IsArray(axis) && cJSON_GetArraySize(axis) == 1)
    axis = cJSON_GetArrayItem(axis, 0);
  if (present(axis)) {
    if (!is_int(axis))
      return spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED,
                          "Keras JSON: layer '%s': axis must be one integer (the last axis)", n);
    value = (int)axis->valuedouble;
  }
  bn_axis_t *grown = spd_realloc(r->ctx, r->axes, (size_t)(r->n_axes + 1) * sizeof *grown);
  if (!grown)
    return spd_ctx_fail(r->ctx, SPD_ENOMEM, "Keras JSON: out of memory");
  r->axes = grown;
  r->axes[r->n_axes++] = (bn_axis_t){index, value};
  int err = get_float(r, c, n, "momentum", false, &o->momentum);
  if (!err)
    err = get_float(r, c, n, "epsilon", false, &o->epsilon);
  if (!err)
    err = get_bool(r, c, n, "center", &o->center);
  if (!err)
    err = get_bool(r, c, n, "scale", &o->scale);
  return err;
}

/* LeakyReLU, ELU, ReLU and Softmax layers are Activation layers to spindle. */
static int read_activation_layer(reader_t *r, const char *cls, const cJSON *c, const char *n,
                                 spd_layer_config_t *o) {
  if (!strcmp(cls, "Activation"))
    return get_activation(r, c, n, true, o);
  if (!strcmp(cls, "LeakyReLU")) {
    o->activation = SPD_ACT_LEAKY_RELU;
    o->negative_slope = 0.3f; /* the LeakyReLU layer's default in both Keras */
    int err = get_float(r, c, n, "alpha", false, &o->negative_slope);
    return err ? err : get_float(r, c, n, "negative_slope", false, &o->negative_slope);
  }
  if (!strcmp(cls, "ELU")) {
    o->activation = SPD_ACT_ELU;
    return get_float(r, c, n, "alpha", false, &o->elu_alpha);
  }
  if (!strcmp(cls, "Softmax")) {
    o->activation = SPD_ACT_SOFTMAX;
    return 0;
  }
  float slope = 0.0f, threshold = 0.0f;
  int err = get_float(r, c, n, "negative_slope", false, &slope);
  if (!err)
    err = get_float(r, c, n, "threshold", false, &threshold);
  if (!err && (slope != 0.0f || threshold != 0.0f ||
               present(cJSON_GetObjectItemCaseSensitive(c, "max_value"))))
    err = spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED,
                       "Keras JSON: layer '%s': ReLU with max_value, negative_slope or "
                       "threshold is not supported", n);
  o->activation = SPD_ACT_RELU;
  return err;
}

static int kind_of(reader_t *r, const char *cls, const char *name) {
  static const char *const activation_layers[] = {"LeakyReLU", "ELU", "ReLU", "Softmax"};
  for (size_t i = 0; i < sizeof activation_layers / sizeof *activation_layers; i++)
    if (!strcmp(cls, activation_layers[i]))
      return SPD_LAYER_ACTIVATION;
  int kind = spd_layer_kind_parse(cls);
  if (kind < 0)
    return spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED,
                        "Keras JSON: layer '%s': unsupported layer class '%s'", name, cls);
  return kind;
}

/* Fill @p o from one layer's class and config (everything but the input). */
static int read_layer_config(reader_t *r, const char *cls, const cJSON *c, const char *name,
                             int index, spd_layer_config_t *o) {
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
  switch ((spd_layer_kind_t)kind) {
  case SPD_LAYER_DENSE:
    return read_dense(r, c, name, o);
  case SPD_LAYER_CONV1D:
  case SPD_LAYER_CONV2D:
    return read_conv(r, c, name, o);
  case SPD_LAYER_MAXPOOL1D:
  case SPD_LAYER_MAXPOOL2D:
  case SPD_LAYER_AVGPOOL1D:
  case SPD_LAYER_AVGPOOL2D:
    return read_pool(r, c, name, o);
  case SPD_LAYER_GLOBALAVGPOOL2D: {
    bool keepdims = false;
    err = get_bool(r, c, name, "keepdims", &keepdims);
    if (!err && keepdims)
      err = spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED,
                         "Keras JSON: layer '%s': keepdims=true is not supported", name);
    return err;
  }
  case SPD_LAYER_RESHAPE:
    return read_reshape(r, c, name, o);
  case SPD_LAYER_ACTIVATION:
    return read_activation_layer(r, cls, c, name, o);
  case SPD_LAYER_DROPOUT:
    return read_dropout(r, c, name, o);
  case SPD_LAYER_BATCHNORM:
    return read_batchnorm(r, c, name, o, index);
  case SPD_LAYER_CONCATENATE: {
    int32_t axis = -1;
    err = get_int(r, c, name, "axis", false, &axis);
    if (!err && axis != -1)
      err = spd_ctx_fail(r->ctx, SPD_EUNSUPPORTED,
                         "Keras JSON: layer '%s': Concatenate axis=%d (spindle joins the last "
                         "axis, -1)", name, (int)axis);
    return err;
  }
  default:
    return 0; /* InputLayer is read by read_input; Flatten and Add have no arguments */
  }
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
      err = read_layer_config(r, cls, cfg, name, r->m->n_layers, &lc);
    if (!err && (lc.kind == SPD_LAYER_ADD || lc.kind == SPD_LAYER_CONCATENATE))
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
      err = read_layer_config(r, cls, cfg, name, r->m->n_layers, &lc);
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
