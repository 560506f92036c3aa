/* Checkpoint folders (docs/formats.md "Checkpoints"): manifest.json written
 * with cJSON, the weights through the Keras .weights.h5 writer and the
 * trainer's state as a binary payload, each atomically (io/file.h). The
 * payloads carry the optimizer step in their names, so writing a new
 * checkpoint never touches the files the current manifest names: until the
 * new manifest is renamed into place the old checkpoint stays whole. */
#include "run/checkpoint.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "io/file.h"
#include "spindle/keras.h"

#define FORMAT_NAME "spindle-checkpoint"
#define FORMAT_VERSION 1
#define PATH_MAX_ 4096

struct spd_checkpoint {
  spd_ctx_t *ctx;
  char dir[PATH_MAX_];
  cJSON *manifest;
  char weights[PATH_MAX_];
  uint8_t *state;
  size_t state_len;
  char state_path[PATH_MAX_];
  bool carry; /* spd_checkpoint_set_carry */
};

static uint32_t crc32_of(const void *data, size_t len) {
  const Bytef *p = data;
  uLong crc = crc32(0L, Z_NULL, 0);
  while (len > 0) {
    uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;
    crc = crc32(crc, p, chunk);
    p += chunk;
    len -= chunk;
  }
  return (uint32_t)crc;
}

/* dir/name; a path too long for @p out is cut (and then not found). */
static void join(char *out, size_t size, const char *dir, const char *name) {
  int n = snprintf(out, size, "%s/%s", dir, name);
  if (n < 0)
    out[0] = '\0';
}

/* ---- What identifies a run ---- */

/* CRC-32 of every layer's kind, name and output shape and every parameter's
 * name, shape and trainability: two models with one fingerprint have the
 * same tensors in the same places. */
static uint32_t model_fingerprint(const spd_model_t *m) {
  uLong crc = crc32(0L, Z_NULL, 0);
  for (int l = 0; l < m->n_layers; l++) {
    const spd_layer_t *layer = &m->layers[l];
    char head[160];
    int len = snprintf(head, sizeof head, "%d:%s:%d", (int)layer->config.kind, layer->config.name,
                       layer->output_shape.rank);
    crc = crc32(crc, (const Bytef *)head, (uInt)len);
    crc = crc32(crc, (const Bytef *)layer->output_shape.dims,
                (uInt)(sizeof(int32_t) * (size_t)layer->output_shape.rank));
    for (int p = 0; p < layer->n_params; p++) {
      const spd_param_t *param = &layer->params[p];
      len = snprintf(head, sizeof head, "%s:%d:%d", param->name, param->trainable,
                     param->value.shape.rank);
      crc = crc32(crc, (const Bytef *)head, (uInt)len);
      crc = crc32(crc, (const Bytef *)param->value.shape.dims,
                  (uInt)(sizeof(int32_t) * (size_t)param->value.shape.rank));
    }
  }
  return (uint32_t)crc;
}

static size_t model_parameters(const spd_model_t *m) {
  size_t n = 0;
  for (int l = 0; l < m->n_layers; l++)
    for (int p = 0; p < m->layers[l].n_params; p++)
      n += spd_shape_size(&m->layers[l].params[p].value.shape);
  return n;
}

static cJSON *model_json(const spd_model_t *m) {
  cJSON *o = cJSON_CreateObject();
  char hex[16];
  snprintf(hex, sizeof hex, "%08" PRIx32, model_fingerprint(m));
  cJSON_AddStringToObject(o, "name", m->name);
  cJSON_AddNumberToObject(o, "layers", m->n_layers);
  cJSON_AddNumberToObject(o, "parameters", (double)model_parameters(m));
  cJSON_AddStringToObject(o, "fingerprint", hex);
  return o;
}

static cJSON *schedule_json(const spd_lr_schedule_t *s) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "kind", spd_lr_schedule_name(s->kind));
  cJSON_AddNumberToObject(o, "initial_learning_rate", s->initial_learning_rate);
  cJSON_AddNumberToObject(o, "decay_steps", s->decay_steps);
  cJSON_AddNumberToObject(o, "decay_rate", s->decay_rate);
  cJSON_AddBoolToObject(o, "staircase", s->staircase);
  cJSON_AddNumberToObject(o, "alpha", s->alpha);
  cJSON *b = cJSON_AddArrayToObject(o, "boundaries"), *v = cJSON_AddArrayToObject(o, "values");
  for (int i = 0; s->kind == SPD_LR_PIECEWISE_CONSTANT && i <= s->n_boundaries; i++) {
    if (i < s->n_boundaries)
      cJSON_AddItemToArray(b, cJSON_CreateNumber((double)s->boundaries[i]));
    cJSON_AddItemToArray(v, cJSON_CreateNumber(s->values[i]));
  }
  return o;
}

static cJSON *optimizer_json(const spd_optimizer_config_t *c) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "kind", spd_optimizer_name(c->kind));
  cJSON_AddItemToObject(o, "learning_rate", schedule_json(&c->learning_rate));
  cJSON_AddNumberToObject(o, "momentum", c->momentum);
  cJSON_AddBoolToObject(o, "nesterov", c->nesterov);
  cJSON_AddNumberToObject(o, "beta_1", c->beta_1);
  cJSON_AddNumberToObject(o, "beta_2", c->beta_2);
  cJSON_AddNumberToObject(o, "epsilon", c->epsilon);
  cJSON_AddNumberToObject(o, "rho", c->rho);
  cJSON_AddBoolToObject(o, "centered", c->centered);
  return o;
}

/* The training data, summarised: its size and the CRC-32 of its targets. */
static cJSON *data_json(const spd_fit_data_t *d) {
  cJSON *o = cJSON_CreateObject();
  char hex[16];
  uint32_t crc = d->y.width == 0
                     ? crc32_of(d->y.labels, d->y.n * sizeof *d->y.labels)
                     : crc32_of(d->y.values, d->y.n * d->y.width * sizeof *d->y.values);
  snprintf(hex, sizeof hex, "%08" PRIx32, crc);
  cJSON_AddNumberToObject(o, "samples", (double)d->n);
  cJSON_AddStringToObject(o, "targets_crc32", hex);
  return o;
}

/* Everything that must be equal for a resumed run to continue this one. */
static cJSON *identity_json(const spd__ckpt_run_t *run) {
  const spd_fit_config_t *c = run->cfg;
  cJSON *o = cJSON_CreateObject();
  char seed[24];
  snprintf(seed, sizeof seed, "%" PRIu64, c->seed);
  cJSON_AddStringToObject(o, "backend", run->backend);
  cJSON_AddStringToObject(o, "numeric", spd_numeric_name(run->numeric));
  cJSON_AddItemToObject(o, "model", model_json(run->model));
  cJSON_AddStringToObject(o, "loss", spd_loss_name(c->loss));
  cJSON_AddBoolToObject(o, "from_logits", c->from_logits);
  cJSON_AddItemToObject(o, "optimizer", optimizer_json(&c->optimizer));
  cJSON_AddStringToObject(o, "seed", seed);
  cJSON_AddNumberToObject(o, "batch_size", (double)c->batch_size);
  cJSON_AddBoolToObject(o, "shuffle", c->shuffle);
  cJSON_AddItemToObject(o, "data", data_json(run->train));
  return o;
}

/* ---- Writing ---- */

static cJSON *mean_json(const spd_mean_t *m) {
  double v[2] = {m->total, m->count};
  return cJSON_CreateDoubleArray(v, 2);
}

static cJSON *position_json(const spd__ckpt_pos_t *p) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "epoch", p->epoch);
  cJSON_AddNumberToObject(o, "batch", (double)p->batch);
  cJSON_AddNumberToObject(o, "step", (double)p->step);
  cJSON_AddItemToObject(o, "loss", mean_json(&p->loss));
  cJSON_AddItemToObject(o, "accuracy", mean_json(&p->accuracy));
  return o;
}

static cJSON *base_json(const spd__ckpt_base_t *b) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "step", (double)b->step);
  cJSON_AddNumberToObject(o, "epochs", (double)b->epochs);
  cJSON_AddNumberToObject(o, "samples", (double)b->samples);
  return o;
}

static cJSON *history_json(const spd_epoch_logs_t *logs, int n) {
  cJSON *a = cJSON_CreateArray();
  for (int e = 0; e < n; e++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "loss", logs[e].loss);
    cJSON_AddNumberToObject(o, "accuracy", logs[e].accuracy);
    if (logs[e].has_validation) {
      cJSON_AddNumberToObject(o, "val_loss", logs[e].val_loss);
      cJSON_AddNumberToObject(o, "val_accuracy", logs[e].val_accuracy);
    }
    cJSON_AddNumberToObject(o, "seconds", logs[e].seconds);
    cJSON_AddItemToArray(a, o);
  }
  return a;
}

static cJSON *file_json(const char *name, size_t bytes, uint32_t crc) {
  cJSON *o = cJSON_CreateObject();
  char hex[16];
  snprintf(hex, sizeof hex, "%08" PRIx32, crc);
  cJSON_AddStringToObject(o, "path", name);
  cJSON_AddNumberToObject(o, "bytes", (double)bytes);
  cJSON_AddStringToObject(o, "crc32", hex);
  return o;
}

static int make_dir(spd_ctx_t *ctx, const char *dir) {
  struct stat st;
  if (mkdir(dir, 0777) != 0 && errno != EEXIST)
    return spd_ctx_fail(ctx, SPD_EIO, "cannot create the checkpoint folder '%s': %s", dir,
                        strerror(errno));
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return spd_ctx_fail(ctx, SPD_EIO, "the checkpoint folder '%s' is not a folder", dir);
  return 0;
}

/* The payload names of the manifest now in @p dir, to remove once a new
 * one replaces it (empty when there is none). */
static void previous_payloads(spd_ctx_t *ctx, const char *dir, char names[2][256]) {
  char path[PATH_MAX_], *text = NULL;
  size_t len;
  names[0][0] = names[1][0] = '\0';
  join(path, sizeof path, dir, SPD_CHECKPOINT_MANIFEST);
  if (access(path, F_OK) != 0)
    return;
  int saved = ctx->last_error;
  char diag[SPD_DIAG_MAX];
  memcpy(diag, ctx->diag, sizeof diag);
  if (spd__read_file(ctx, path, &text, &len) == 0) {
    cJSON *m = cJSON_ParseWithLength(text, len);
    const char *keys[2] = {"weights", "state"};
    for (int i = 0; i < 2; i++) {
      cJSON *f = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "files"),
                                                  keys[i]);
      const char *p = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "path"));
      if (p && !strchr(p, '/'))
        snprintf(names[i], 256, "%s", p);
    }
    cJSON_Delete(m);
    spd_free(ctx, text);
  }
  ctx->last_error = saved; /* an unreadable old manifest is simply replaced */
  memcpy(ctx->diag, diag, sizeof diag);
}

static int save_weights(const spd__ckpt_run_t *run, const char *dir, const char *name,
                        size_t *bytes, uint32_t *crc) {
  spd_ctx_t *ctx = run->model->ctx;
  char path[PATH_MAX_], *data = NULL;
  join(path, sizeof path, dir, name);
  int err = spd_keras_save(run->model, path, SPD_KERAS_FILE_WEIGHTS_H5);
  if (!err)
    err = spd__read_file(ctx, path, &data, bytes);
  if (!err)
    *crc = crc32_of(data, *bytes);
  spd_free(ctx, data);
  return err;
}

static int write_manifest(const spd__ckpt_run_t *run, const char *dir, cJSON *files) {
  spd_ctx_t *ctx = run->model->ctx;
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "format", FORMAT_NAME);
  cJSON_AddNumberToObject(m, "version", FORMAT_VERSION);
  cJSON_AddItemToObject(m, "run", identity_json(run));
  cJSON_AddItemToObject(m, "position", position_json(&run->pos));
  cJSON_AddItemToObject(m, "carried", base_json(&run->base));
  cJSON_AddItemToObject(m, "history", history_json(run->history, run->pos.epoch));
  cJSON_AddItemToObject(m, "files", files);
  char *text = cJSON_Print(m);
  cJSON_Delete(m);
  if (!text)
    return spd_ctx_fail(ctx, SPD_ENOMEM, "checkpoint manifest: out of memory");
  char path[PATH_MAX_];
  join(path, sizeof path, dir, SPD_CHECKPOINT_MANIFEST);
  int err = spd__write_file(ctx, path, text, strlen(text));
  cJSON_free(text);
  return err;
}

int spd__checkpoint_save(const spd__ckpt_run_t *run, const spd__blob_t *state) {
  spd_ctx_t *ctx = run->model->ctx;
  const char *dir = run->cfg->checkpoint_dir;
  char old[2][256], names[2][256], path[PATH_MAX_];
  if (state->err)
    return state->err;
  int err = make_dir(ctx, dir);
  if (err)
    return err;
  previous_payloads(ctx, dir, old);
  snprintf(names[0], sizeof names[0], "weights-%08" PRId64 ".weights.h5", run->pos.step);
  snprintf(names[1], sizeof names[1], "state-%08" PRId64 ".bin", run->pos.step);
  size_t weight_bytes = 0;
  uint32_t weight_crc = 0;
  err = save_weights(run, dir, names[0], &weight_bytes, &weight_crc);
  join(path, sizeof path, dir, names[1]);
  if (!err)
    err = spd__write_file(ctx, path, state->data, state->len);
  if (err)
    return err;
  cJSON *files = cJSON_CreateObject();
  cJSON_AddItemToObject(files, "weights", file_json(names[0], weight_bytes, weight_crc));
  cJSON_AddItemToObject(files, "state", file_json(names[1], state->len,
                                                  crc32_of(state->data, state->len)));
  if ((err = write_manifest(run, dir, files)))
    return err;
  for (int i = 0; i < 2; i++)
    if (old[i][0] && strcmp(old[i], names[i])) {
      join(path, sizeof path, dir, old[i]);
      unlink(path);
    }
  return 0;
}

/* ---- Reading ---- */

static const cJSON *item(const cJSON *o, const char *key) {
  return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* Read payload @p key of the manifest, checking its size and CRC-32; the
 * bytes go to *data (spd_free) unless @p data is NULL. */
static int read_payload(spd_checkpoint_t *ck, const char *key, char *path, size_t path_size,
                        uint8_t **data, size_t *len_out) {
  const cJSON *f = item(item(ck->manifest, "files"), key);
  const char *name = cJSON_GetStringValue(item(f, "path"));
  const char *crc_hex = cJSON_GetStringValue(item(f, "crc32"));
  const cJSON *bytes = item(f, "bytes");
  if (!name || !*name || strchr(name, '/') || !crc_hex || !cJSON_IsNumber(bytes))
    return spd_ctx_fail(ck->ctx, SPD_EFORMAT, "'%s/%s' names no %s file (path, bytes, crc32)",
                        ck->dir, SPD_CHECKPOINT_MANIFEST, key);
  join(path, path_size, ck->dir, name);
  char *text = NULL;
  size_t len = 0;
  int err = spd__read_file(ck->ctx, path, &text, &len);
  if (err)
    return err;
  uint32_t crc = crc32_of(text, len);
  if ((double)len != bytes->valuedouble)
    err = spd_ctx_fail(ck->ctx, SPD_EFORMAT, "checkpoint file '%s' is truncated or damaged: "
                       "%zu bytes, the manifest says %.0f", path, len, bytes->valuedouble);
  else if (strtoul(crc_hex, NULL, 16) != crc)
    err = spd_ctx_fail(ck->ctx, SPD_EFORMAT, "checkpoint file '%s' is corrupted: its CRC-32 "
                       "is %08" PRIx32 ", the manifest says %s", path, crc, crc_hex);
  if (err || !data) {
    spd_free(ck->ctx, text);
    return err;
  }
  *data = (uint8_t *)text;
  *len_out = len;
  return 0;
}

static int check_manifest(spd_checkpoint_t *ck, const char *path) {
  const char *format = cJSON_GetStringValue(item(ck->manifest, "format"));
  const cJSON *version = item(ck->manifest, "version");
  if (!format || strcmp(format, FORMAT_NAME))
    return spd_ctx_fail(ck->ctx, SPD_EFORMAT, "'%s' is not a spindle checkpoint manifest "
                        "(\"format\" is not \"" FORMAT_NAME "\")", path);
  if (!cJSON_IsNumber(version) || version->valuedouble != FORMAT_VERSION)
    return spd_ctx_fail(ck->ctx, SPD_EFORMAT, "'%s': checkpoint version %g, this spindle "
                        "reads version %d", path, cJSON_GetNumberValue(version), FORMAT_VERSION);
  const cJSON *pos = item(ck->manifest, "position");
  if (!cJSON_IsObject(item(ck->manifest, "run")) || !cJSON_IsNumber(item(pos, "epoch")) ||
      !cJSON_IsNumber(item(pos, "batch")) || !cJSON_IsNumber(item(pos, "step")) ||
      cJSON_GetArraySize(item(pos, "loss")) != 2 ||
      cJSON_GetArraySize(item(pos, "accuracy")) != 2 ||
      cJSON_GetArraySize(item(ck->manifest, "history")) != item(pos, "epoch")->valueint)
    return spd_ctx_fail(ck->ctx, SPD_EFORMAT, "'%s': \"run\", \"position\" (epoch, batch, step, "
                        "loss, accuracy) or \"history\" is missing or malformed", path);
  return 0;
}

int spd_checkpoint_open(spd_ctx_t *ctx, const char *dir, spd_checkpoint_t **out) {
  spd_checkpoint_t *ck = spd_calloc(ctx, 1, sizeof *ck);
  if (!ck)
    return spd_ctx_fail(ctx, SPD_ENOMEM, "checkpoint: out of memory");
  ck->ctx = ctx;
  snprintf(ck->dir, sizeof ck->dir, "%s", dir);
  char path[PATH_MAX_], *text = NULL;
  size_t len;
  join(path, sizeof path, dir, SPD_CHECKPOINT_MANIFEST);
  int err = spd__read_file(ctx, path, &text, &len);
  if (err == SPD_EIO) {
    char why[SPD_DIAG_MAX];
    snprintf(why, sizeof why, "%s", spd_ctx_message(ctx));
    err = spd_ctx_fail(ctx, SPD_EIO, "no checkpoint in '%s': %s", dir, why);
  }
  if (!err) {
    ck->manifest = cJSON_ParseWithLength(text, len);
    if (!ck->manifest)
      err = spd_ctx_fail(ctx, SPD_EFORMAT, "'%s' is not valid JSON (truncated or damaged?)",
                         path);
  }
  spd_free(ctx, text);
  if (!err)
    err = check_manifest(ck, path);
  if (!err)
    err = read_payload(ck, "weights", ck->weights, sizeof ck->weights, NULL, NULL);
  if (!err)
    err = read_payload(ck, "state", ck->state_path, sizeof ck->state_path, &ck->state,
                       &ck->state_len);
  if (err) {
    spd_checkpoint_free(ck);
    return err;
  }
  *out = ck;
  return 0;
}

void spd_checkpoint_free(spd_checkpoint_t *ck) {
  if (!ck)
    return;
  cJSON_Delete(ck->manifest);
  spd_free(ck->ctx, ck->state);
  spd_free(ck->ctx, ck);
}

void spd_checkpoint_set_carry(spd_checkpoint_t *ck) {
  if (ck)
    ck->carry = true;
}

void spd_checkpoint_info(const spd_checkpoint_t *ck, spd_checkpoint_info_t *info) {
  const cJSON *run = item(ck->manifest, "run"), *pos = item(ck->manifest, "position");
  memset(info, 0, sizeof *info);
  const char *backend = cJSON_GetStringValue(item(run, "backend"));
  const char *numeric = cJSON_GetStringValue(item(run, "numeric"));
  snprintf(info->backend, sizeof info->backend, "%s", backend ? backend : "");
  snprintf(info->numeric, sizeof info->numeric, "%s", numeric ? numeric : "");
  info->epochs_done = item(pos, "epoch")->valueint;
  info->batches_done = (size_t)item(pos, "batch")->valuedouble;
  info->step = (int64_t)item(pos, "step")->valuedouble;
  snprintf(info->weights, sizeof info->weights, "%s", ck->weights);
}

/* The path (a.b.c) of the first field where @p want and @p have differ,
 * and those two values, or false when they are equal. */
static bool first_difference(const cJSON *want, const cJSON *have, char *path, size_t size,
                             const cJSON **w_out, const cJSON **h_out) {
  if (have && cJSON_Compare(want, have, true))
    return false;
  if (cJSON_IsObject(want) && cJSON_IsObject(have)) {
    size_t len = strlen(path);
    for (const cJSON *w = want->child; w; w = w->next) {
      snprintf(path + len, size - len, "%s%s", len ? "." : "", w->string);
      if (first_difference(w, item(have, w->string), path, size, w_out, h_out))
        return true;
    }
    path[len] = '\0';
  }
  *w_out = want;
  *h_out = have;
  return true;
}

/* The first field of this run's identity the checkpoint's differs in. In
 * fixed point the machine trains bit for bit as the reference does, with
 * the same state payload, so either backend goes on from the other's. */
static int check_identity(const spd__ckpt_run_t *run, const spd_checkpoint_t *ck) {
  cJSON *want = identity_json(run);
  const char *theirs = cJSON_GetStringValue(item(item(ck->manifest, "run"), "backend"));
  if (run->numeric == SPD_NUMERIC_FIXED && theirs &&
      (!strcmp(theirs, "reference") || !strcmp(theirs, "machine")))
    cJSON_ReplaceItemInObjectCaseSensitive(want, "backend", cJSON_CreateString(theirs));
  char path[256] = "";
  const cJSON *w = NULL, *h = NULL;
  int err = 0;
  if (first_difference(want, item(ck->manifest, "run"), path, sizeof path, &w, &h)) {
    char *ws = cJSON_PrintUnformatted(w), *hs = h ? cJSON_PrintUnformatted(h) : NULL;
    err = spd_ctx_fail(run->model->ctx, SPD_EFORMAT, "the checkpoint in '%s' is of another "
                       "run: its %s is %s, this run's is %s", ck->dir, path,
                       hs ? hs : "missing", ws ? ws : "?");
    cJSON_free(ws);
    cJSON_free(hs);
  }
  cJSON_Delete(want);
  return err;
}

static spd_mean_t mean_of(const cJSON *a) {
  return (spd_mean_t){.total = cJSON_GetArrayItem(a, 0)->valuedouble,
                      .count = cJSON_GetArrayItem(a, 1)->valuedouble};
}

static void read_history(const cJSON *a, spd_epoch_logs_t *logs) {
  int e = 0;
  for (const cJSON *o = a ? a->child : NULL; o; o = o->next, e++) {
    logs[e] = (spd_epoch_logs_t){.epoch = e,
                                 .loss = cJSON_GetNumberValue(item(o, "loss")),
                                 .accuracy = cJSON_GetNumberValue(item(o, "accuracy")),
                                 .seconds = cJSON_GetNumberValue(item(o, "seconds"))};
    if (cJSON_IsNumber(item(o, "val_loss"))) {
      logs[e].has_validation = true;
      logs[e].val_loss = cJSON_GetNumberValue(item(o, "val_loss"));
      logs[e].val_accuracy = cJSON_GetNumberValue(item(o, "val_accuracy"));
    }
  }
}

/* What the checkpoint's run had carried before it began ("carried"; none
 * in a checkpoint of a fresh run). */
static spd__ckpt_base_t base_of(const spd_checkpoint_t *ck) {
  const cJSON *b = item(ck->manifest, "carried");
  return (spd__ckpt_base_t){.step = (int64_t)cJSON_GetNumberValue(item(b, "step")),
                            .epochs = (int64_t)cJSON_GetNumberValue(item(b, "epochs")),
                            .samples = (uint64_t)cJSON_GetNumberValue(item(b, "samples"))};
}

/* The part of a run's identity a carried checkpoint must share: the model,
 * numeric, loss and the optimizer's kind and slots (in fixed point either
 * backend's; in float the backend's too, whose payloads differ). */
static cJSON *carry_identity(const cJSON *run, bool fixed) {
  cJSON *o = cJSON_CreateObject();
  const char *keys[] = {"backend", "numeric", "model", "loss", "from_logits"};
  for (size_t i = fixed ? 1 : 0; i < sizeof keys / sizeof *keys; i++) {
    const cJSON *v = item(run, keys[i]);
    if (v)
      cJSON_AddItemToObject(o, keys[i], cJSON_Duplicate(v, true));
  }
  const cJSON *opt = item(run, "optimizer");
  cJSON *so = cJSON_AddObjectToObject(o, "optimizer");
  const cJSON *kind = item(opt, "kind");
  if (kind)
    cJSON_AddItemToObject(so, "kind", cJSON_Duplicate(kind, true));
  cJSON_AddBoolToObject(so, "momentum", cJSON_GetNumberValue(item(opt, "momentum")) != 0.0);
  const cJSON *centered = item(opt, "centered");
  if (centered)
    cJSON_AddItemToObject(so, "centered", cJSON_Duplicate(centered, true));
  return o;
}

/* A carried checkpoint: its identity's shared part, then where the new
 * fit's optimizer starts. */
static int carry(spd__ckpt_run_t *run, const spd_checkpoint_t *ck, spd__blob_reader_t *state) {
  spd_ctx_t *ctx = run->model->ctx;
  bool fixed = run->numeric == SPD_NUMERIC_FIXED;
  cJSON *mine = identity_json(run);
  cJSON *want = carry_identity(mine, fixed), *have = carry_identity(item(ck->manifest, "run"), fixed);
  cJSON_Delete(mine);
  char path[256] = "";
  const cJSON *w = NULL, *h = NULL;
  int err = 0;
  if (first_difference(want, have, path, sizeof path, &w, &h)) {
    char *ws = cJSON_PrintUnformatted(w), *hs = h ? cJSON_PrintUnformatted(h) : NULL;
    err = spd_ctx_fail(ctx, SPD_EFORMAT, "the optimizer state in '%s' cannot carry on into "
                       "this fit: its %s is %s, this fit's is %s", ck->dir, path,
                       hs ? hs : "missing", ws ? ws : "?");
    cJSON_free(ws);
    cJSON_free(hs);
  }
  cJSON_Delete(want);
  cJSON_Delete(have);
  if (err)
    return err;
  const cJSON *pos = item(ck->manifest, "position"), *data = item(item(ck->manifest, "run"), "data");
  spd__ckpt_base_t b = base_of(ck);
  int epoch = item(pos, "epoch")->valueint;
  size_t batch = (size_t)item(pos, "batch")->valuedouble;
  double n = cJSON_GetNumberValue(item(data, "samples"));
  double bs = cJSON_GetNumberValue(item(item(ck->manifest, "run"), "batch_size"));
  double in_epoch = (double)batch * bs < n ? (double)batch * bs : n;
  if (!(n >= 1) || !(bs >= 1) || epoch < 0)
    return spd_ctx_fail(ctx, SPD_EFORMAT, "'%s/%s': no run.data.samples, run.batch_size or "
                        "position (damaged?)", ck->dir, SPD_CHECKPOINT_MANIFEST);
  /* A partly trained epoch counts as one: the next fit shuffles afresh. */
  run->base = (spd__ckpt_base_t){.step = (int64_t)item(pos, "step")->valuedouble,
                                 .epochs = b.epochs + epoch + (batch > 0),
                                 .samples = b.samples + (uint64_t)((double)epoch * n + in_epoch)};
  if (fixed && (err = spd_keras_weights_load(run->model, ck->weights)))
    return err;
  run->pos = (spd__ckpt_pos_t){.step = run->base.step};
  spd_mean_reset(&run->pos.loss);
  spd_mean_reset(&run->pos.accuracy);
  *state = (spd__blob_reader_t){.ctx = ctx, .file = ck->state_path, .data = ck->state,
                                .len = ck->state_len};
  return 0;
}

int spd__checkpoint_resume(spd__ckpt_run_t *run, spd__blob_reader_t *state) {
  const spd_checkpoint_t *ck = run->cfg->resume;
  spd_ctx_t *ctx = run->model->ctx;
  if (ck->carry)
    return carry(run, ck, state);
  int err = check_identity(run, ck);
  if (err)
    return err;
  const cJSON *pos = item(ck->manifest, "position");
  spd__ckpt_pos_t p = {.epoch = item(pos, "epoch")->valueint,
                       .batch = (size_t)item(pos, "batch")->valuedouble,
                       .step = (int64_t)item(pos, "step")->valuedouble,
                       .loss = mean_of(item(pos, "loss")),
                       .accuracy = mean_of(item(pos, "accuracy"))};
  spd__ckpt_base_t base = base_of(ck);
  /* The manifest has no checksum of its own: its position must at least be
   * one the run can stand at (one optimizer step per batch, after the
   * steps it carried on from). */
  const spd_fit_config_t *c = run->cfg;
  size_t steps = (run->train->n + c->batch_size - 1) / c->batch_size;
  if (p.epoch < 0 || p.batch >= steps || base.step < 0 ||
      p.step != base.step + (int64_t)((size_t)p.epoch * steps + p.batch))
    return spd_ctx_fail(ctx, SPD_EFORMAT, "'%s/%s': position epoch %d, batch %zu, step %lld "
                        "is not one a run of %zu batches per epoch stands at (damaged?)",
                        ck->dir, SPD_CHECKPOINT_MANIFEST, p.epoch, p.batch, (long long)p.step,
                        steps);
  if (p.epoch > run->cfg->epochs || (p.epoch == run->cfg->epochs && p.batch > 0))
    return spd_ctx_fail(ctx, SPD_EINVAL, "the checkpoint in '%s' is already %s epoch %d; "
                        "ask for more epochs than that to go on", ck->dir,
                        p.batch ? "inside" : "past", p.batch ? p.epoch + 1 : p.epoch);
  if ((err = spd_keras_weights_load(run->model, ck->weights)))
    return err;
  run->pos = p;
  run->base = base;
  read_history(item(ck->manifest, "history"), run->history);
  *state = (spd__blob_reader_t){.ctx = ctx, .file = ck->state_path, .data = ck->state,
                                .len = ck->state_len};
  return 0;
}

int64_t spd__checkpoint_carried_step(const spd_checkpoint_t *ck) {
  if (!ck || !ck->carry)
    return 0;
  return (int64_t)cJSON_GetNumberValue(item(item(ck->manifest, "position"), "step"));
}

int64_t spd__checkpoint_last_step(const spd_fit_config_t *cfg, size_t n) {
  return spd__checkpoint_carried_step(cfg->resume) +
         (int64_t)cfg->epochs * (int64_t)((n + cfg->batch_size - 1) / cfg->batch_size);
}

int spd__checkpoint_interrupted(const spd__ckpt_run_t *run) {
  const spd_fit_config_t *c = run->cfg;
  size_t steps = (run->train->n + c->batch_size - 1) / c->batch_size;
  char saved[PATH_MAX_ + 64] = "";
  if (c->checkpoint_dir)
    snprintf(saved, sizeof saved, "; the checkpoint in '%s' goes on from there",
             c->checkpoint_dir);
  if (run->pos.batch == 0)
    return spd_ctx_fail(run->model->ctx, SPD_EINTERRUPTED, "stopped before epoch %d/%d%s",
                        run->pos.epoch + 1, c->epochs, saved);
  return spd_ctx_fail(run->model->ctx, SPD_EINTERRUPTED,
                      "stopped in epoch %d/%d after batch %zu/%zu%s", run->pos.epoch + 1,
                      c->epochs, run->pos.batch, steps, saved);
}
