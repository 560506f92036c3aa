/* Dropout: in training, each element zeroed with probability rate and the
 * kept ones scaled by 1 / (1 - rate); in inference, unchanged. */
#include "nn/layers/layers.h"

static int infer(spd_ctx_t *ctx, const spd_layer_config_t *cfg, const spd_shape_t *const *in,
                 int n, spd_shape_t *out) {
  (void)n;
  if (!(cfg->rate >= 0.0f && cfg->rate < 1.0f))
    return spd__config_fail(ctx, cfg, "rate must be in [0, 1)");
  *out = *in[0];
  return 0;
}

static int keras_read(spd__kjr_t *r, const char *cls, const cJSON *c, const char *n,
                      spd_layer_config_t *o) {
  (void)cls;
  int err = spd__kjr_float(r, c, n, "rate", true, &o->rate);
  if (!err && !(o->rate >= 0.0f && o->rate < 1.0f))
    err = spd__kjr_bad_field(r, n, "rate", "a number in [0, 1)");
  const cJSON *seed = cJSON_GetObjectItemCaseSensitive(c, "seed");
  if (!err && spd__kjr_present(seed)) {
    if (!cJSON_IsNumber(seed) || seed->valuedouble < 0)
      err = spd__kjr_bad_field(r, n, "seed", "null or a non-negative integer");
    else
      o->dropout_seed = (uint64_t)seed->valuedouble;
  }
  if (!err && spd__kjr_present(cJSON_GetObjectItemCaseSensitive(c, "noise_shape")))
    err = spd_ctx_fail(spd__kjr_ctx(r), SPD_EUNSUPPORTED,
                       "Keras JSON: layer '%s': noise_shape is not supported (must be null)", n);
  return err;
}

static void keras_write(spd__kjw_t *w, const spd_layer_t *l) {
  const spd_layer_config_t *c = &l->config;
  bool keras3 = spd__kjw_keras3(w);
  spd__kjw_float(w, "rate", c->rate);
  if (!keras3)
    spd__kjw_raw(w, "noise_shape", "null");
  if (c->dropout_seed)
    spd__kjw_int(w, "seed", (long)c->dropout_seed);
  else
    spd__kjw_raw(w, "seed", "null");
  if (keras3)
    spd__kjw_raw(w, "noise_shape", "null");
}

static size_t ref_state(const spd_layer_t *l, size_t capacity) {
  return spd_shape_size(&l->output_shape) * capacity;
}

static spd_dropout_params_t dropout_params(const spd_ref_t *ref, int i, bool training) {
  const spd_layer_config_t *c = &ref->model->layers[i].config;
  spd_dropout_params_t p;
  p.batch = ref->batch;
  p.n = ref->layers[i].out_size;
  p.rate = c->rate;
  p.training = training;
  p.seed = c->dropout_seed ? c->dropout_seed : ref->opts.seed;
  p.stream = (uint32_t)i;
  p.first_sample = ref->layers[i].samples_seen;
  return p;
}

static void forward(spd_ref_t *ref, int i, bool training) {
  ref_layer_state_t *st = &ref->layers[i];
  spd_dropout_params_t p = dropout_params(ref, i, training);
  spd_dropout_forward(st->out, st->mask, spd__ref_input_of(ref, &ref->model->layers[i], 0), &p);
  if (training)
    st->samples_seen += (uint64_t)ref->batch;
}

static void backward(spd_ref_t *ref, int i, const float *dz_ready) {
  (void)dz_ready;
  ref_layer_state_t *st = &ref->layers[i];
  float *din = spd__ref_input_grad_of(ref, &ref->model->layers[i], 0);
  if (!din)
    return;
  spd_dropout_params_t p = dropout_params(ref, i, ref->training);
  spd_dropout_backward(din, st->dout, st->mask, &p);
}

const spd_layer_op_t spd__op_DROPOUT = {
    .keras = "Dropout",
    .snake = "dropout",
    .min_inputs = 1,
    .machine = SPD_OPM_MASK,
    .infer = infer,
    .keras_read = keras_read,
    .keras_write = keras_write,
    .ref_state = ref_state,
    .ref_forward = forward,
    .ref_backward = backward,
    .fx_setup = spd__fx_setup_dropout,
    .fx_forward = spd__fx_forward_dropout,
    .fx_backward = spd__fx_backward_dropout,
};
