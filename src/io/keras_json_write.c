/* Writing Keras architecture JSON byte for byte as `model.to_json()` does
 * (Python's json.dumps: ", " and ": " separators, floats as repr), in the
 * tf.keras 2 form or the Keras 3 form. Layouts: docs/formats.md. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "io/keras_json.h"
#include "nn/layer_op.h"
#include "spindle/keras.h"

#define TF2_KERAS_VERSION "2.11.0"

struct spd__kjw {
  spd_ctx_t *ctx;
  const spd_model_t *m;
  bool keras3;
  char *buf;
  size_t len, cap;
  int err;
};
typedef spd__kjw_t writer_t;

/* ---- text building: the first failure sticks and later calls do nothing ---- */

static void put(writer_t *w, const char *s, size_t n) {
  if (w->err)
    return;
  if (w->len + n + 1 > w->cap) {
    size_t cap = w->cap ? w->cap : 4096;
    while (w->len + n + 1 > cap)
      cap *= 2;
    char *grown = spd_realloc(w->ctx, w->buf, cap);
    if (!grown) {
      w->err = spd_ctx_fail(w->ctx, SPD_ENOMEM, "Keras JSON: out of memory (%zu bytes)", cap);
      return;
    }
    w->buf = grown;
    w->cap = cap;
  }
  memcpy(w->buf + w->len, s, n);
  w->len += n;
  w->buf[w->len] = '\0';
}

static void puts_(writer_t *w, const char *s) { put(w, s, strlen(s)); }

static void printf_(writer_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void printf_(writer_t *w, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  put(w, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A separator before every member or element except the first one. */
static void sep(writer_t *w) {
  if (w->len && w->buf[w->len - 1] != '{' && w->buf[w->len - 1] != '[')
    puts_(w, ", ");
}

static void str(writer_t *w, const char *s) {
  puts_(w, "\"");
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      printf_(w, "\\%c", c);
    else if (c < 0x20)
      printf_(w, "\\u%04x", c);
    else
      put(w, (const char *)&c, 1);
  }
  puts_(w, "\"");
}

static void key(writer_t *w, const char *k) {
  sep(w);
  str(w, k);
  puts_(w, ": ");
}

static void kv_str(writer_t *w, const char *k, const char *v) {
  key(w, k);
  str(w, v);
}

static void kv_raw(writer_t *w, const char *k, const char *raw) {
  key(w, k);
  puts_(w, raw);
}

static void kv_int(writer_t *w, const char *k, long v) {
  key(w, k);
  printf_(w, "%ld", v);
}

static void kv_bool(writer_t *w, const char *k, bool v) { kv_raw(w, k, v ? "true" : "false"); }

/* Python's repr of the float32 value widened to double would print
 * 0.9900000095367432; Keras holds these arguments as Python floats, so the
 * shortest decimal that reads back as the same float32 is what it wrote. */
static void kv_float(writer_t *w, const char *k, float v) {
  char tmp[40];
  for (int p = 1; p <= 9; p++) {
    snprintf(tmp, sizeof tmp, "%.*g", p, (double)v);
    if (strtof(tmp, NULL) == v)
      break;
  }
  if (!strpbrk(tmp, ".eninf"))
    strcat(tmp, ".0");
  kv_raw(w, k, tmp);
}

static void ints(writer_t *w, const int32_t *v, int n) {
  puts_(w, "[");
  for (int i = 0; i < n; i++) {
    sep(w);
    printf_(w, "%d", v[i]);
  }
  puts_(w, "]");
}

static void kv_ints(writer_t *w, const char *k, const int32_t *v, int n) {
  key(w, k);
  ints(w, v, n);
}

/* [null, d1, d2, ...]: a shape with its batch dimension. */
static void batch_shape(writer_t *w, const spd_shape_t *s) {
  puts_(w, "[null");
  for (int i = 0; i < s->rank; i++)
    printf_(w, ", %d", s->dims[i]);
  puts_(w, "]");
}

/* ---- pieces of a layer config ---- */

static void dtype(writer_t *w) {
  if (w->keras3)
    kv_raw(w, "dtype", "{\"module\": \"keras\", \"class_name\": \"DTypePolicy\", "
                       "\"config\": {\"name\": \"float32\"}, \"registered_name\": null}");
  else
    kv_str(w, "dtype", "float32");
}

/* Keras writes initializers by class name ("GlorotUniform"). */
static const char *initializer_class(spd_initializer_t init) {
  static const char *const names[] = {
#define INIT_CLASS_(id, cls, fn) cls,
      SPD_INITIALIZERS(INIT_CLASS_)
#undef INIT_CLASS_
  };
  return (unsigned)init < SPD_INIT_COUNT ? names[init] : "GlorotUniform";
}

static void initializer(writer_t *w, const char *k, spd_initializer_t init) {
  bool seeded = init != SPD_INIT_ZEROS && init != SPD_INIT_ONES;
  key(w, k);
  puts_(w, "{");
  if (w->keras3)
    kv_str(w, "module", "keras.initializers");
  kv_str(w, "class_name", initializer_class(init));
  kv_raw(w, "config", seeded ? "{\"seed\": null}" : "{}");
  if (w->keras3)
    kv_raw(w, "registered_name", "null");
  puts_(w, "}");
}

static void nulls(writer_t *w, const char *const *keys, size_t n) {
  for (size_t i = 0; i < n; i++)
    kv_raw(w, keys[i], "null");
}

static void weighted_tail(writer_t *w, const spd_layer_config_t *c, bool activity) {
  static const char *const extras[] = {"kernel_regularizer", "bias_regularizer",
                                       "activity_regularizer", "kernel_constraint",
                                       "bias_constraint"};
  kv_str(w, "activation", spd_activation_name(c->activation));
  kv_bool(w, "use_bias", c->use_bias);
  initializer(w, "kernel_initializer", c->kernel_initializer);
  initializer(w, "bias_initializer", c->bias_initializer);
  nulls(w, extras, 2);
  if (activity)
    nulls(w, extras + 2, 1);
  nulls(w, extras + 3, 2);
}

/* ---- the members the layer descriptors (nn/layers/) write with ---- */

bool spd__kjw_keras3(const spd__kjw_t *w) { return w->keras3; }
void spd__kjw_str(spd__kjw_t *w, const char *k, const char *v) { kv_str(w, k, v); }
void spd__kjw_raw(spd__kjw_t *w, const char *k, const char *raw) { kv_raw(w, k, raw); }
void spd__kjw_int(spd__kjw_t *w, const char *k, long v) { kv_int(w, k, v); }
void spd__kjw_bool(spd__kjw_t *w, const char *k, bool v) { kv_bool(w, k, v); }
void spd__kjw_float(spd__kjw_t *w, const char *k, float v) { kv_float(w, k, v); }
void spd__kjw_ints(spd__kjw_t *w, const char *k, const int32_t *v, int n) {
  kv_ints(w, k, v, n);
}
void spd__kjw_initializer(spd__kjw_t *w, const char *k, spd_initializer_t init) {
  initializer(w, k, init);
}
void spd__kjw_nulls(spd__kjw_t *w, const char *const *keys, size_t n) { nulls(w, keys, n); }
void spd__kjw_weighted_tail(spd__kjw_t *w, const spd_layer_config_t *c, bool activity) {
  weighted_tail(w, c, activity);
}

/* The Keras class a layer is written as. */
static const char *class_of(const spd_layer_config_t *c) {
  const spd_layer_op_t *op = spd__layer_op(c->kind);
  return op->keras_class ? op->keras_class(c) : op->keras;
}

static void kind_args(writer_t *w, const spd_layer_t *l) {
  const spd_layer_op_t *op = spd__op_of(l);
  if (op->keras_write)
    op->keras_write(w, l);
}

/* Explicit pads and ceil_mode (ONNX's windows) have no Keras argument: such
 * a model has no Keras form, and saying so beats writing a different one. */
static int check_keras_form(const spd_model_t *m) {
  for (int i = 0; i < m->n_layers; i++) {
    const spd_layer_config_t *c = &m->layers[i].config;
    if (spd__op_has(&m->layers[i], SPD_OP_NOT_KERAS))
      return spd_ctx_fail(m->ctx, SPD_EUNSUPPORTED,
                          "Keras JSON: layer '%s' (%s): Keras has no such layer: the model "
                          "has no Keras form", c->name, spd_layer_kind_name(c->kind));
    if (c->padding == SPD_PAD_EXPLICIT || c->ceil_mode)
      return spd_ctx_fail(m->ctx, SPD_EUNSUPPORTED,
                          "Keras JSON: layer '%s' (%s): padding (%d, %d, %d, %d)%s is neither "
                          "Keras's 'valid' nor 'same': the model has no Keras form",
                          c->name, spd_layer_kind_name(c->kind), (int)c->pads[0],
                          (int)c->pads[1], (int)c->pads[2], (int)c->pads[3],
                          c->ceil_mode ? " with ceil_mode" : "");
  }
  return 0;
}

static bool has_build_config(const spd_layer_t *l) {
  return l->n_params > 0 || spd__op_has(l, SPD_OP_KERAS_BUILD);
}

static void input_layer(writer_t *w, const spd_layer_t *l) {
  if (w->keras3)
    kv_str(w, "module", "keras.layers");
  kv_str(w, "class_name", "InputLayer");
  key(w, "config");
  puts_(w, "{");
  key(w, w->keras3 ? "batch_shape" : "batch_input_shape");
  batch_shape(w, &l->output_shape);
  kv_str(w, "dtype", "float32");
  kv_bool(w, "sparse", false);
  kv_bool(w, "ragged", false);
  kv_str(w, "name", l->config.name);
  puts_(w, "}");
  if (w->keras3)
    kv_raw(w, "registered_name", "null");
}

/* One layer's {"class_name", "config"} members (no braces). @p first_of_seq
 * marks the first layer of a tf.keras 2 Sequential, which repeats the input
 * shape as batch_input_shape. */
static void layer_body(writer_t *w, const spd_layer_t *l, bool first_of_seq) {
  if (l->config.kind == SPD_LAYER_INPUT) {
    input_layer(w, l);
    return;
  }
  if (w->keras3)
    kv_str(w, "module", "keras.layers");
  kv_str(w, "class_name", class_of(&l->config));
  key(w, "config");
  puts_(w, "{");
  kv_str(w, "name", l->config.name);
  kv_bool(w, "trainable", true);
  if (first_of_seq) {
    key(w, "batch_input_shape");
    batch_shape(w, &l->input_shape);
  }
  dtype(w);
  kind_args(w, l);
  puts_(w, "}");
  if (w->keras3) {
    kv_raw(w, "registered_name", "null");
    if (has_build_config(l)) {
      key(w, "build_config");
      puts_(w, "{\"input_shape\": ");
      batch_shape(w, &l->input_shape);
      puts_(w, "}");
    }
  }
}

/* ---- the model ---- */

/* A chain from the input to the output is written as a Sequential model. */
bool spd__model_is_chain(const spd_model_t *m) {
  for (int i = 1; i < m->n_layers; i++)
    if (m->layers[i].n_inbound != 1 || m->layers[i].inbound[0] != i - 1)
      return false;
  return m->output == m->n_layers - 1;
}

static void sequential(writer_t *w) {
  const spd_model_t *m = w->m;
  if (w->keras3)
    kv_str(w, "module", "keras");
  kv_str(w, "class_name", "Sequential");
  key(w, "config");
  puts_(w, "{");
  kv_str(w, "name", m->name);
  if (w->keras3) {
    kv_bool(w, "trainable", true);
    dtype(w);
  }
  key(w, "layers");
  puts_(w, "[");
  for (int i = 0; i < m->n_layers; i++) {
    sep(w);
    puts_(w, "{");
    layer_body(w, &m->layers[i], !w->keras3 && i == 1);
    puts_(w, "}");
  }
  puts_(w, "]");
  if (w->keras3) {
    key(w, "build_input_shape");
    batch_shape(w, &m->layers[0].output_shape);
  }
  puts_(w, "}");
  if (w->keras3) {
    kv_raw(w, "registered_name", "null");
    key(w, "build_config");
    puts_(w, "{\"input_shape\": ");
    batch_shape(w, &m->layers[0].output_shape);
    puts_(w, "}");
  }
}

static void keras_tensor(writer_t *w, const spd_layer_t *src) {
  puts_(w, "{\"class_name\": \"__keras_tensor__\", \"config\": {\"shape\": ");
  batch_shape(w, &src->output_shape);
  puts_(w, ", \"dtype\": \"float32\", \"keras_history\": [");
  str(w, src->config.name);
  puts_(w, ", 0, 0]}}");
}

static void inbound_nodes(writer_t *w, const spd_layer_t *l) {
  const spd_model_t *m = w->m;
  key(w, "inbound_nodes");
  if (l->n_inbound == 0) {
    puts_(w, "[]");
    return;
  }
  if (w->keras3) {
    puts_(w, "[{\"args\": [");
    if (l->n_inbound > 1)
      puts_(w, "[");
    for (int j = 0; j < l->n_inbound; j++) {
      sep(w);
      keras_tensor(w, &m->layers[l->inbound[j]]);
    }
    puts_(w, l->n_inbound > 1 ? "]], \"kwargs\": {}}]" : "], \"kwargs\": {}}]");
    return;
  }
  puts_(w, "[[");
  for (int j = 0; j < l->n_inbound; j++) {
    sep(w);
    puts_(w, "[");
    str(w, m->layers[l->inbound[j]].config.name);
    puts_(w, ", 0, 0, {}]");
  }
  puts_(w, "]]");
}

/* [["name", 0, 0]] in tf.keras 2; Keras 3 writes a single tensor unnested. */
static void layer_ref(writer_t *w, const char *k, const spd_layer_t *l) {
  key(w, k);
  puts_(w, w->keras3 ? "[" : "[[");
  str(w, l->config.name);
  puts_(w, w->keras3 ? ", 0, 0]" : ", 0, 0]]");
}

static void functional(writer_t *w) {
  const spd_model_t *m = w->m;
  if (w->keras3)
    kv_str(w, "module", "keras.src.models.functional");
  kv_str(w, "class_name", "Functional");
  key(w, "config");
  puts_(w, "{");
  kv_str(w, "name", m->name);
  if (w->keras3)
    kv_bool(w, "trainable", true);
  key(w, "layers");
  puts_(w, "[");
  for (int i = 0; i < m->n_layers; i++) {
    sep(w);
    puts_(w, "{");
    layer_body(w, &m->layers[i], false);
    kv_str(w, "name", m->layers[i].config.name);
    inbound_nodes(w, &m->layers[i]);
    puts_(w, "}");
  }
  puts_(w, "]");
  layer_ref(w, "input_layers", &m->layers[0]);
  layer_ref(w, "output_layers", &m->layers[m->output]);
  puts_(w, "}");
  if (w->keras3) {
    kv_str(w, "registered_name", "Functional");
    kv_raw(w, "build_config", "{\"input_shape\": null}");
  }
}

/* ---- the training configuration (compile_config / training_config) ---- */

/* Python's repr of a double: the shortest decimal that reads back equal. */
static void double_repr(writer_t *w, double v) {
  char tmp[40];
  for (int p = 1; p <= 17; p++) {
    snprintf(tmp, sizeof tmp, "%.*g", p, v);
    if (strtod(tmp, NULL) == v)
      break;
  }
  if (!strpbrk(tmp, ".eninf"))
    strcat(tmp, ".0");
  puts_(w, tmp);
}

static void kv_double(writer_t *w, const char *k, double v) {
  key(w, k);
  double_repr(w, v);
}

/* {"module"?, "class_name": ..., "config": { -- the caller closes both. */
static void object_head(writer_t *w, const char *module, const char *cls) {
  puts_(w, "{");
  if (w->keras3)
    kv_str(w, "module", module);
  kv_str(w, "class_name", cls);
  key(w, "config");
  puts_(w, "{");
}

static void object_tail(writer_t *w) {
  puts_(w, "}");
  if (w->keras3)
    kv_raw(w, "registered_name", "null");
  puts_(w, "}");
}

static void schedule_args(writer_t *w, const spd_lr_schedule_t *s) {
  if (s->kind == SPD_LR_PIECEWISE_CONSTANT) {
    key(w, "boundaries");
    puts_(w, "[");
    for (int i = 0; i < s->n_boundaries; i++) {
      sep(w);
      printf_(w, "%lld", (long long)s->boundaries[i]);
    }
    puts_(w, "]");
    key(w, "values");
    puts_(w, "[");
    for (int i = 0; i <= s->n_boundaries; i++) {
      sep(w);
      double_repr(w, s->values[i]);
    }
    puts_(w, "]");
    kv_str(w, "name", "PiecewiseConstant");
    return;
  }
  kv_double(w, "initial_learning_rate", s->initial_learning_rate);
  if (s->decay_steps == floor(s->decay_steps) && s->decay_steps < 1e15)
    kv_int(w, "decay_steps", (long)s->decay_steps);
  else
    kv_double(w, "decay_steps", s->decay_steps);
  if (s->kind == SPD_LR_COSINE_DECAY) {
    kv_double(w, "alpha", s->alpha);
    kv_str(w, "name", "CosineDecay");
    kv_raw(w, "warmup_target", "null");
    kv_int(w, "warmup_steps", 0);
    return;
  }
  kv_double(w, "decay_rate", s->decay_rate);
  kv_bool(w, "staircase", s->staircase);
  kv_str(w, "name", spd_lr_schedule_class(s->kind));
}

static void learning_rate(writer_t *w, const spd_lr_schedule_t *s) {
  if (s->kind == SPD_LR_CONSTANT) {
    kv_double(w, "learning_rate", s->initial_learning_rate);
    return;
  }
  key(w, "learning_rate");
  object_head(w, "keras.optimizers.schedules", spd_lr_schedule_class(s->kind));
  schedule_args(w, s);
  object_tail(w);
}

/* Keras 3's base optimizer arguments, all at their neutral values. */
static void keras3_optimizer_base(writer_t *w) {
  static const char *const nulls1[] = {"weight_decay", "clipnorm", "global_clipnorm",
                                       "clipvalue"};
  static const char *const nulls2[] = {"ema_overwrite_frequency", "loss_scale_factor",
                                       "gradient_accumulation_steps"};
  nulls(w, nulls1, 4);
  kv_bool(w, "use_ema", false);
  kv_float(w, "ema_momentum", 0.99f);
  nulls(w, nulls2, 3);
}

static void optimizer(writer_t *w, const spd_optimizer_config_t *o) {
  static const char *const classes[] = {
#define OPT_CLASS_(id, name, cls) cls,
      SPD_OPTIMIZERS(OPT_CLASS_)
#undef OPT_CLASS_
  };
  const char *cls = classes[o->kind];
  object_head(w, "keras.optimizers", cls);
  kv_str(w, "name", w->keras3 && o->kind != SPD_OPT_SGD ? spd_optimizer_name(o->kind) : cls);
  learning_rate(w, &o->learning_rate);
  if (w->keras3)
    keras3_optimizer_base(w);
  else
    kv_float(w, "decay", 0.0f);
  if (o->kind == SPD_OPT_SGD) {
    kv_float(w, "momentum", o->momentum);
    kv_bool(w, "nesterov", o->nesterov);
  } else if (o->kind == SPD_OPT_ADAM) {
    kv_float(w, "beta_1", o->beta_1);
    kv_float(w, "beta_2", o->beta_2);
    kv_float(w, "epsilon", o->epsilon);
    kv_bool(w, "amsgrad", false);
  } else {
    kv_float(w, "rho", o->rho);
    kv_float(w, "momentum", o->momentum);
    kv_float(w, "epsilon", o->epsilon);
    kv_bool(w, "centered", o->centered);
  }
  object_tail(w);
}

/* A loss by its name, or as an object when it takes logits. */
static void loss(writer_t *w, const spd_compile_config_t *c) {
  static const char *const classes[] = {
#define LOSS_CLASS_(id, fn, cls) cls,
      SPD_LOSSES(LOSS_CLASS_)
#undef LOSS_CLASS_
  };
  key(w, "loss");
  if (!c->has_loss) {
    puts_(w, "null");
    return;
  }
  if (!c->from_logits) {
    str(w, spd_loss_name(c->loss));
    return;
  }
  object_head(w, "keras.losses", classes[c->loss]);
  kv_str(w, "name", spd_loss_name(c->loss));
  kv_str(w, "reduction", w->keras3 ? "sum_over_batch_size" : "auto");
  kv_bool(w, "from_logits", true);
  object_tail(w);
}

static void metrics(writer_t *w, const spd_compile_config_t *c) {
  key(w, "metrics");
  puts_(w, "[");
  for (int i = 0; i < c->n_metrics; i++) {
    sep(w);
    str(w, c->metrics[i]);
  }
  puts_(w, "]");
}

/* Keras 3: {"optimizer", "loss", "loss_weights", "metrics", ...} as
 * get_compile_config() returns it; tf.keras 2: {"loss", "metrics", ...,
 * "optimizer_config"} as save('m.h5') writes it. */
static void compile_config(writer_t *w, const spd_compile_config_t *c) {
  spd_optimizer_config_t sgd;
  spd_optimizer_config_defaults(&sgd, SPD_OPT_SGD);
  const spd_optimizer_config_t *o = c->has_optimizer ? &c->optimizer : &sgd;
  puts_(w, "{");
  if (w->keras3) {
    key(w, "optimizer");
    optimizer(w, o);
  }
  loss(w, c);
  if (w->keras3)
    kv_raw(w, "loss_weights", "null");
  metrics(w, c);
  kv_raw(w, "weighted_metrics", "null");
  if (w->keras3) {
    kv_bool(w, "run_eagerly", false);
    kv_int(w, "steps_per_execution", 1);
    kv_bool(w, "jit_compile", false);
  } else {
    kv_raw(w, "loss_weights", "null");
    key(w, "optimizer_config");
    optimizer(w, o);
  }
  puts_(w, "}");
}

int spd__keras_compile_format(spd_ctx_t *ctx, const spd_compile_config_t *cfg, bool legacy,
                              char **text_out) {
  writer_t w = {.ctx = ctx, .keras3 = !legacy};
  compile_config(&w, cfg);
  if (w.err) {
    spd_free(ctx, w.buf);
    return w.err;
  }
  *text_out = w.buf;
  return 0;
}

int spd__keras_json_format(const spd_model_t *m, spd_keras_json_form_t form, bool with_version,
                           char **text_out) {
  if (!m->built)
    return spd_ctx_fail(m->ctx, SPD_ESTATE,
                        "Keras JSON: model '%s' must be built before it is written", m->name);
  int err = check_keras_form(m);
  if (err)
    return err;
  writer_t w = {.ctx = m->ctx, .m = m, .keras3 = form == SPD_KERAS_JSON_KERAS3};
  puts_(&w, "{");
  if (spd__model_is_chain(m))
    sequential(&w);
  else
    functional(&w);
  if (!w.keras3 && with_version) {
    kv_str(&w, "keras_version", TF2_KERAS_VERSION);
    kv_str(&w, "backend", "tensorflow");
  }
  /* Keras 3's form in either JSON form (tf.keras 2 ignores the member); a
   * legacy .h5 keeps it in its own training_config attribute instead. */
  if (m->compile && with_version) {
    key(&w, "compile_config");
    w.keras3 = true;
    compile_config(&w, m->compile);
  }
  puts_(&w, "}");
  if (w.err) {
    spd_free(m->ctx, w.buf);
    return w.err;
  }
  *text_out = w.buf;
  return 0;
}

int spd_keras_json_format(const spd_model_t *m, spd_keras_json_form_t form, char **text_out) {
  return spd__keras_json_format(m, form, true, text_out);
}

int spd_keras_json_save(const spd_model_t *m, const char *path) {
  char *text;
  int err = spd_keras_json_format(m, SPD_KERAS_JSON_TF2, &text);
  if (err)
    return err;
  err = spd__write_file(m->ctx, path, text, strlen(text));
  spd_free(m->ctx, text);
  return err;
}
