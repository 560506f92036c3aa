/* BatchNormalization (Keras semantics): batch statistics in training, the
 * moving averages (momentum) otherwise; gamma and beta learned. */
#include "nn/layers/layers.h"

static int infer(spd_ctx_t *ctx, const spd_layer_config_t *cfg, const spd_shape_t *const *inputs,
                 int n, spd_shape_t *out) {
  (void)n;
  const spd_shape_t *in = inputs[0];
  if (in->rank < 1)
    return spd__shape_fail(ctx, cfg, in, "BatchNormalization needs rank >= 1");
  if (!(cfg->epsilon > 0.0f) || !(cfg->momentum >= 0.0f && cfg->momentum <= 1.0f))
    return spd__config_fail(ctx, cfg, "epsilon must be > 0 and momentum in [0, 1]");
  *out = *in;
  return 0;
}

/* axis: -1 or [k] (tf.keras 2 writes a list); it must name the last axis,
 * which is checked after the build when the input rank is known. */
static int keras_read(spd__kjr_t *r, const char *cls, const cJSON *c, const char *n,
                      spd_layer_config_t *o) {
  (void)cls;
  const cJSON *axis = cJSON_GetObjectItemCaseSensitive(c, "axis");
  int value = -1;
  if (cJSON_IsArray(axis) && cJSON_GetArraySize(axis) == 1)
    axis = cJSON_GetArrayItem(axis, 0);
  if (spd__kjr_present(axis)) {
    if (!spd__kjr_is_int(axis))
      return spd_ctx_fail(spd__kjr_ctx(r), SPD_EUNSUPPORTED,
                          "Keras JSON: layer '%s': axis must be one integer (the last axis)", n);
    value = (int)axis->valuedouble;
  }
  int err = spd__kjr_last_axis(r, value);
  if (!err)
    err = spd__kjr_float(r, c, n, "momentum", false, &o->momentum);
  if (!err)
    err = spd__kjr_float(r, c, n, "epsilon", false, &o->epsilon);
  if (!err)
    err = spd__kjr_bool(r, c, n, "center", &o->center);
  if (!err)
    err = spd__kjr_bool(r, c, n, "scale", &o->scale);
  return err;
}

static void keras_write(spd__kjw_t *w, const spd_layer_t *l) {
  static const char *const extras[] = {"beta_regularizer", "gamma_regularizer",
                                       "beta_constraint", "gamma_constraint"};
  const spd_layer_config_t *c = &l->config;
  if (spd__kjw_keras3(w)) {
    spd__kjw_int(w, "axis", -1);
  } else {
    int32_t axis = l->input_shape.rank; /* tf.keras 2 writes the positive axis as a list */
    spd__kjw_ints(w, "axis", &axis, 1);
  }
  spd__kjw_float(w, "momentum", c->momentum);
  spd__kjw_float(w, "epsilon", c->epsilon);
  spd__kjw_bool(w, "center", c->center);
  spd__kjw_bool(w, "scale", c->scale);
  spd__kjw_initializer(w, "beta_initializer", SPD_INIT_ZEROS);
  spd__kjw_initializer(w, "gamma_initializer", SPD_INIT_ONES);
  spd__kjw_initializer(w, "moving_mean_initializer", SPD_INIT_ZEROS);
  spd__kjw_initializer(w, "moving_variance_initializer", SPD_INIT_ONES);
  spd__kjw_nulls(w, extras, 4);
  if (spd__kjw_keras3(w))
    spd__kjw_bool(w, "synchronized", false);
}

/* The batch's mean (C) then inv_std (C). */
static size_t ref_state(const spd_layer_t *l, size_t capacity) {
  (void)capacity;
  return 2 * (size_t)spd__last_dim(&l->output_shape);
}

static spd_batchnorm_params_t bn_params(const spd_layer_t *layer, int batch, bool training) {
  spd_batchnorm_params_t p = {0};
  p.channels = spd__last_dim(&layer->output_shape);
  p.rows = spd_shape_size(&layer->output_shape) / (size_t)p.channels * (size_t)batch;
  p.epsilon = layer->config.epsilon;
  p.momentum = layer->config.momentum;
  p.training = training;
  return p;
}

static void forward(spd_ref_t *ref, int i, bool training) {
  const spd_layer_t *layer = &ref->model->layers[i];
  ref_layer_state_t *st = &ref->layers[i];
  spd_batchnorm_params_t p = bn_params(layer, ref->batch, training);
  spd_batchnorm_forward(st->out, st->stats, st->stats + p.channels,
                        spd__ref_input_of(ref, layer, 0), spd__ref_param(layer, "gamma"),
                        spd__ref_param(layer, "beta"),
                        (float *)spd__ref_param(layer, "moving_mean"),
                        (float *)spd__ref_param(layer, "moving_variance"), &p);
}

static void backward(spd_ref_t *ref, int i, const float *dz_ready) {
  (void)dz_ready;
  const spd_layer_t *layer = &ref->model->layers[i];
  ref_layer_state_t *st = &ref->layers[i];
  spd_batchnorm_params_t p = bn_params(layer, ref->batch, ref->training);
  spd_batchnorm_backward(spd__ref_input_grad_of(ref, layer, 0),
                         spd__ref_param_grad(layer, st, "gamma"),
                         spd__ref_param_grad(layer, st, "beta"), st->dout,
                         spd__ref_input_of(ref, layer, 0), spd__ref_param(layer, "gamma"),
                         st->stats, st->stats + p.channels, &p);
}

static void fx_forward_batch(spd_fx_net_t *net, int i, int batch) {
  spd__fx_bn_forward(net, i, batch);
}

const spd_layer_op_t spd__op_BATCHNORM = {
    .keras = "BatchNormalization",
    .snake = "batch_normalization",
    .traits = SPD_OP_COMPUTES,
    .min_inputs = 1,
    .infer = infer,
    .params = spd__batchnorm_specs,
    .keras_read = keras_read,
    .keras_write = keras_write,
    .ref_state = ref_state,
    .ref_forward = forward,
    .ref_backward = backward,
    .fx_setup = spd__fx_setup_batchnorm,
    .fx_forward_batch = fx_forward_batch,
    .fx_backward_batch = spd__fx_backward_batchnorm,
};
