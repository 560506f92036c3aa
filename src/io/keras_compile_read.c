/* Reading a model's training configuration from a Keras file: Keras 3's
 * "compile_config" ({"optimizer": {"module", "class_name", "config"},
 * "loss", "metrics", ...}, in to_json() text and the config.json of .keras
 * archives) and tf.keras 2's "training_config" attribute of a full-model .h5
 * ({"optimizer_config": {"class_name", "config"}, "loss", "metrics", ...}).
 * Both are read by one parser; docs/formats.md lists what is accepted. Every
 * failure names the key by its path, e.g. "optimizer.config.beta_1". */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "io/keras_json.h"

typedef struct creader {
  spd_ctx_t *ctx;
  const char *where; /* "compile_config" or "training_config" */
} creader_t;

static int fail(const creader_t *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(const creader_t *r, int code, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return spd_ctx_fail(r->ctx, code, "Keras %s: %s", r->where, msg);
}

static bool present(const cJSON *item) { return item && !cJSON_IsNull(item); }

static const cJSON *member(const cJSON *obj, const char *key) {
  return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static const char *string_of(const cJSON *obj, const char *key) {
  const cJSON *item = member(obj, key);
  return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* A number at @p path.key; absent keeps *out unless @p required. */
static int number(const creader_t *r, const cJSON *obj, const char *path, const char *key,
                  bool required, double *out) {
  const cJSON *item = member(obj, key);
  if (!present(item))
    return required ? fail(r, SPD_EFORMAT, "missing required key '%s.%s'", path, key) : 0;
  if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble))
    return fail(r, SPD_EFORMAT, "'%s.%s' must be a number", path, key);
  *out = item->valuedouble;
  return 0;
}

static int boolean(const creader_t *r, const cJSON *obj, const char *path, const char *key,
                   bool *out) {
  const cJSON *item = member(obj, key);
  if (!present(item))
    return 0;
  if (!cJSON_IsBool(item))
    return fail(r, SPD_EFORMAT, "'%s.%s' must be true or false", path, key);
  *out = cJSON_IsTrue(item);
  return 0;
}

/* A number in [lo, hi) (hi = INFINITY for no bound) stored as float. */
static int ranged(const creader_t *r, const cJSON *obj, const char *path, const char *key,
                  double lo, double hi, float *out) {
  double v = *out;
  int err = number(r, obj, path, key, false, &v);
  if (err)
    return err;
  if (!(v >= lo && v < hi))
    return fail(r, SPD_EINVAL, "'%s.%s' is %g; it must be in [%g, %g)", path, key, v, lo, hi);
  *out = (float)v;
  return 0;
}

/* ---- learning-rate schedules ---- */

static int schedule_steps(const creader_t *r, const cJSON *c, const char *path,
                          spd_lr_schedule_t *s) {
  int err = number(r, c, path, "initial_learning_rate", true, &s->initial_learning_rate);
  if (!err && !(s->initial_learning_rate >= 0))
    err = fail(r, SPD_EINVAL, "'%s.initial_learning_rate' is %g; it must be >= 0", path,
               s->initial_learning_rate);
  if (!err)
    err = number(r, c, path, "decay_steps", true, &s->decay_steps);
  if (!err && !(s->decay_steps > 0))
    err = fail(r, SPD_EINVAL, "'%s.decay_steps' is %g; it must be > 0", path, s->decay_steps);
  return err;
}

static int cosine_decay(const creader_t *r, const cJSON *c, const char *path,
                        spd_lr_schedule_t *s) {
  int err = schedule_steps(r, c, path, s);
  if (!err)
    err = number(r, c, path, "alpha", false, &s->alpha);
  if (!err && !(s->alpha >= 0 && s->alpha <= 1))
    err = fail(r, SPD_EINVAL, "'%s.alpha' is %g; it must be in [0, 1]", path, s->alpha);
  double warmup_steps = 0;
  if (!err)
    err = number(r, c, path, "warmup_steps", false, &warmup_steps);
  if (!err && (warmup_steps != 0 || present(member(c, "warmup_target"))))
    err = fail(r, SPD_EUNSUPPORTED,
               "'%s': warm-up is not supported (warmup_target must be null, warmup_steps 0)",
               path);
  return err;
}

static int rate_decay(const creader_t *r, const cJSON *c, const char *path,
                      spd_lr_schedule_t *s) {
  int err = schedule_steps(r, c, path, s);
  if (!err)
    err = number(r, c, path, "decay_rate", true, &s->decay_rate);
  if (!err && !(s->decay_rate > 0))
    err = fail(r, SPD_EINVAL, "'%s.decay_rate' is %g; it must be > 0", path, s->decay_rate);
  return err ? err : boolean(r, c, path, "staircase", &s->staircase);
}

static int piecewise(const creader_t *r, const cJSON *c, const char *path,
                     spd_lr_schedule_t *s) {
  const cJSON *b = member(c, "boundaries"), *v = member(c, "values");
  int n = cJSON_GetArraySize(b);
  if (!cJSON_IsArray(b) || n < 1 || n > SPD_LR_MAX_BOUNDARIES)
    return fail(r, SPD_EFORMAT, "'%s.boundaries' must be a list of 1 to %d steps", path,
                SPD_LR_MAX_BOUNDARIES);
  if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != n + 1)
    return fail(r, SPD_EFORMAT, "'%s.values' must be a list of %d numbers (one more than "
                "the boundaries)", path, n + 1);
  s->n_boundaries = n;
  for (int i = 0; i <= n; i++) {
    const cJSON *x = cJSON_GetArrayItem(v, i);
    const cJSON *k = i < n ? cJSON_GetArrayItem(b, i) : NULL;
    if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || x->valuedouble < 0)
      return fail(r, SPD_EINVAL, "'%s.values[%d]' must be a number >= 0", path, i);
    if (k && (!cJSON_IsNumber(k) || k->valuedouble != floor(k->valuedouble)))
      return fail(r, SPD_EFORMAT, "'%s.boundaries[%d]' must be a whole number of steps", path, i);
    s->values[i] = x->valuedouble;
    if (k)
      s->boundaries[i] = (int64_t)k->valuedouble;
  }
  s->initial_learning_rate = s->values[0];
  return 0;
}

/* {"module": "keras.optimizers.schedules", "class_name": "CosineDecay", "config": {...}}
 * (tf.keras 2 leaves out module). */
static int read_schedule(const creader_t *r, const cJSON *item, const char *path,
                         spd_lr_schedule_t *s) {
  const char *cls = string_of(item, "class_name");
  const cJSON *c = member(item, "config");
  if (!cls || !cJSON_IsObject(c))
    return fail(r, SPD_EFORMAT, "'%s' must be a number or a schedule {\"class_name\": ..., "
                "\"config\": {...}}", path);
  int kind = spd_lr_schedule_parse(cls);
  if (kind <= SPD_LR_CONSTANT || strcmp(cls, spd_lr_schedule_class((spd_lr_schedule_kind_t)kind)))
    return fail(r, SPD_EUNSUPPORTED, "'%s': learning-rate schedule '%s' is not supported "
                "(CosineDecay, ExponentialDecay, InverseTimeDecay or PiecewiseConstantDecay)",
                path, cls);
  memset(s, 0, sizeof *s);
  s->kind = (spd_lr_schedule_kind_t)kind;
  char sub[192];
  snprintf(sub, sizeof sub, "%s.config", path);
  if (kind == SPD_LR_COSINE_DECAY)
    return cosine_decay(r, c, sub, s);
  if (kind == SPD_LR_PIECEWISE_CONSTANT)
    return piecewise(r, c, sub, s);
  return rate_decay(r, c, sub, s);
}

/* learning_rate (or the older "lr"): a number or a schedule; tf.keras 2's
 * "decay" is InverseTimeDecay(lr, 1, decay), which is what its optimizers
 * applied (lr / (1 + decay * iterations)). */
static int read_learning_rate(const creader_t *r, const cJSON *c, const char *path,
                              spd_optimizer_config_t *o) {
  const char *key = present(member(c, "learning_rate")) ? "learning_rate" : "lr";
  const cJSON *lr = member(c, key);
  char sub[128];
  snprintf(sub, sizeof sub, "%s.%s", path, key);
  int err = 0;
  if (cJSON_IsObject(lr))
    err = read_schedule(r, lr, sub, &o->learning_rate);
  else if (present(lr) && (!cJSON_IsNumber(lr) || !(lr->valuedouble >= 0) ||
                           !isfinite(lr->valuedouble)))
    err = fail(r, SPD_EINVAL, "'%s' must be a number >= 0 or a schedule", sub);
  else if (present(lr))
    spd_lr_schedule_constant(&o->learning_rate, lr->valuedouble);
  double decay = 0;
  if (!err)
    err = number(r, c, path, "decay", false, &decay);
  if (err || decay == 0)
    return err;
  if (decay < 0)
    return fail(r, SPD_EINVAL, "'%s.decay' is %g; it must be >= 0", path, decay);
  if (o->learning_rate.kind != SPD_LR_CONSTANT)
    return fail(r, SPD_EUNSUPPORTED, "'%s.decay' cannot be combined with a learning-rate "
                "schedule", path);
  o->learning_rate.kind = SPD_LR_INVERSE_TIME_DECAY;
  o->learning_rate.decay_steps = 1;
  o->learning_rate.decay_rate = decay;
  return 0;
}

/* Arguments that change the update in ways spindle does not implement must
 * hold their neutral value. */
static int check_neutral(const creader_t *r, const cJSON *c, const char *path) {
  static const char *const must_be_null[] = {"clipnorm", "clipvalue", "global_clipnorm",
                                             "loss_scale_factor"};
  for (size_t i = 0; i < sizeof must_be_null / sizeof must_be_null[0]; i++)
    if (present(member(c, must_be_null[i])))
      return fail(r, SPD_EUNSUPPORTED, "'%s.%s' is not supported (it must be null)", path,
                  must_be_null[i]);
  const cJSON *wd = member(c, "weight_decay");
  if (present(wd) && !(cJSON_IsNumber(wd) && wd->valuedouble == 0))
    return fail(r, SPD_EUNSUPPORTED, "'%s.weight_decay' is not supported (null or 0)", path);
  const cJSON *acc = member(c, "gradient_accumulation_steps");
  if (present(acc) && !(cJSON_IsNumber(acc) && acc->valuedouble == 1))
    return fail(r, SPD_EUNSUPPORTED, "'%s.gradient_accumulation_steps' is not supported "
                "(null or 1)", path);
  static const char *const must_be_false[] = {"use_ema", "amsgrad"};
  for (size_t i = 0; i < 2; i++)
    if (cJSON_IsTrue(member(c, must_be_false[i])))
      return fail(r, SPD_EUNSUPPORTED, "'%s.%s' is not supported (it must be false)", path,
                  must_be_false[i]);
  return 0;
}

static int read_hyper(const creader_t *r, const cJSON *c, const char *path,
                      spd_optimizer_config_t *o) {
  int err = read_learning_rate(r, c, path, o);
  if (!err)
    err = check_neutral(r, c, path);
  if (err)
    return err;
  switch (o->kind) {
  case SPD_OPT_SGD:
    err = ranged(r, c, path, "momentum", 0, 1, &o->momentum);
    return err ? err : boolean(r, c, path, "nesterov", &o->nesterov);
  case SPD_OPT_ADAM:
    err = ranged(r, c, path, "beta_1", 0, 1, &o->beta_1);
    if (!err)
      err = ranged(r, c, path, "beta_2", 0, 1, &o->beta_2);
    break;
  default:
    err = ranged(r, c, path, "rho", 0, 1, &o->rho);
    if (!err)
      err = ranged(r, c, path, "momentum", 0, 1, &o->momentum);
    if (!err)
      err = boolean(r, c, path, "centered", &o->centered);
  }
  if (!err)
    err = ranged(r, c, path, "epsilon", 0, INFINITY, &o->epsilon);
  if (!err && !(o->epsilon > 0))
    err = fail(r, SPD_EINVAL, "'%s.epsilon' must be > 0", path);
  return err;
}

/* "adam", or {"class_name": "Adam", "config": {...}}; tf.keras 2.11+ wrote
 * the registered name "Custom>Adam". */
static int read_optimizer(const creader_t *r, const cJSON *item, const char *path,
                          spd_optimizer_config_t *o) {
  const char *cls = cJSON_IsString(item) ? item->valuestring : string_of(item, "class_name");
  if (!cls)
    return fail(r, SPD_EFORMAT, "'%s' must be an optimizer name or {\"class_name\": ..., "
                "\"config\": {...}}", path);
  if (!strncmp(cls, "Custom>", 7))
    cls += 7;
  int kind = spd_optimizer_parse(cls);
  if (kind < 0)
    return fail(r, SPD_EUNSUPPORTED, "'%s': optimizer '%s' is not supported (SGD, Adam or "
                "RMSprop)", path, cls);
  spd_optimizer_config_defaults(o, (spd_optimizer_kind_t)kind);
  const cJSON *c = cJSON_IsObject(item) ? member(item, "config") : NULL;
  if (!present(c))
    return 0;
  if (!cJSON_IsObject(c))
    return fail(r, SPD_EFORMAT, "'%s.config' must be an object", path);
  char sub[64];
  snprintf(sub, sizeof sub, "%s.config", path);
  int err = read_hyper(r, c, sub, o);
  if (!err && spd_optimizer_config_check(r->ctx, o))
    err = fail(r, SPD_EINVAL, "'%s': %s", sub, spd_ctx_message(r->ctx));
  return err;
}

/* ---- loss and metrics ---- */

static int loss_kind(const creader_t *r, const char *name, spd_loss_kind_t *out) {
  int k = spd_loss_parse(name);
  if (k < 0)
    return fail(r, SPD_EUNSUPPORTED, "loss '%s' is not supported (mean_squared_error, "
                "binary_crossentropy, categorical_crossentropy or "
                "sparse_categorical_crossentropy)", name);
  *out = (spd_loss_kind_t)k;
  return 0;
}

/* A loss object: {"class_name": "SparseCategoricalCrossentropy", "config":
 * {"from_logits": true, ...}}, or Keras 3's serialized function
 * {"class_name": "function", "config": "sparse_categorical_crossentropy"}. */
static int loss_object(const creader_t *r, const cJSON *item, spd_compile_config_t *out) {
  const char *cls = string_of(item, "class_name");
  const cJSON *c = member(item, "config");
  if (!cls)
    return fail(r, SPD_EFORMAT, "'loss' must be a loss name or {\"class_name\": ..., "
                "\"config\": {...}}");
  if (!strcmp(cls, "function") && cJSON_IsString(c))
    cls = c->valuestring;
  int err = loss_kind(r, cls, &out->loss);
  if (err || !cJSON_IsObject(c))
    return err;
  double smoothing = 0;
  err = boolean(r, c, "loss.config", "from_logits", &out->from_logits);
  if (!err)
    err = number(r, c, "loss.config", "label_smoothing", false, &smoothing);
  if (!err && smoothing != 0)
    err = fail(r, SPD_EUNSUPPORTED, "'loss.config.label_smoothing' is not supported (0)");
  const char *reduction = string_of(c, "reduction");
  if (!err && reduction && strcmp(reduction, "sum_over_batch_size") && strcmp(reduction, "auto"))
    err = fail(r, SPD_EUNSUPPORTED, "'loss.config.reduction' '%s' is not supported "
               "(sum_over_batch_size)", reduction);
  if (!err && present(member(c, "ignore_class")))
    err = fail(r, SPD_EUNSUPPORTED, "'loss.config.ignore_class' is not supported (null)");
  return err;
}

static int read_loss(const creader_t *r, const cJSON *item, spd_compile_config_t *out) {
  if (!present(item))
    return 0;
  out->has_loss = true;
  out->from_logits = false;
  if (cJSON_IsArray(item) || (cJSON_IsObject(item) && !member(item, "class_name")))
    return fail(r, SPD_EUNSUPPORTED, "'loss' gives several losses (models with several "
                "outputs are not supported)");
  if (cJSON_IsObject(item))
    return loss_object(r, item, out);
  if (!cJSON_IsString(item))
    return fail(r, SPD_EFORMAT, "'loss' must be a loss name or a loss object");
  return loss_kind(r, item->valuestring, &out->loss);
}

/* "accuracy", a metric object (its config's name, else its class), or a
 * list of one output's metrics (tf.keras 2 nests them). */
static int add_metric(const creader_t *r, const cJSON *item, spd_compile_config_t *out) {
  if (cJSON_IsArray(item)) {
    const cJSON *x;
    cJSON_ArrayForEach(x, item) {
      int err = add_metric(r, x, out);
      if (err)
        return err;
    }
    return 0;
  }
  const char *name = cJSON_IsString(item) ? item->valuestring : NULL;
  if (!name && cJSON_IsObject(item))
    name = string_of(member(item, "config"), "name");
  if (!name && cJSON_IsObject(item))
    name = string_of(item, "class_name");
  if (!name || strlen(name) >= SPD_NAME_MAX)
    return fail(r, SPD_EFORMAT, "'metrics' must list metric names or metric objects");
  if (out->n_metrics == SPD_COMPILE_MAX_METRICS)
    return fail(r, SPD_EUNSUPPORTED, "'metrics' lists more than %d metrics",
                SPD_COMPILE_MAX_METRICS);
  snprintf(out->metrics[out->n_metrics++], SPD_NAME_MAX, "%s", name);
  return 0;
}

static int read_metrics(const creader_t *r, const cJSON *item, spd_compile_config_t *out) {
  if (!present(item))
    return 0;
  if (!cJSON_IsArray(item))
    return fail(r, SPD_EUNSUPPORTED, "'metrics' must be a list (per-output metrics of "
                "models with several outputs are not supported)");
  return add_metric(r, item, out);
}

int spd__keras_compile_read(spd_ctx_t *ctx, const cJSON *cc, const char *where,
                            spd_compile_config_t *out) {
  creader_t r = {.ctx = ctx, .where = where};
  if (!cJSON_IsObject(cc))
    return fail(&r, SPD_EFORMAT, "expected an object {\"optimizer\": ..., \"loss\": ...}");
  spd_compile_config_t c;
  memset(&c, 0, sizeof c);
  const char *opt_key = member(cc, "optimizer_config") ? "optimizer_config" : "optimizer";
  const cJSON *opt = member(cc, opt_key);
  int err = 0;
  if (present(opt)) {
    c.has_optimizer = true;
    err = read_optimizer(&r, opt, opt_key, &c.optimizer);
  }
  if (!err)
    err = read_loss(&r, member(cc, "loss"), &c);
  const cJSON *weights = member(cc, "loss_weights");
  if (!err && present(weights))
    err = fail(&r, SPD_EUNSUPPORTED, "'loss_weights' is not supported (it must be null)");
  if (!err)
    err = read_metrics(&r, member(cc, "metrics"), &c);
  if (!err)
    *out = c;
  return err;
}
