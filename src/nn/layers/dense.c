/* Dense: y = activation(x W + b) on the last axis. */
#include "nn/layers/layers.h"

static int infer(spd_ctx_t *ctx, const spd_layer_config_t *cfg, const spd_shape_t *const *inputs,
                 int n, spd_shape_t *out) {
  (void)n;
  const spd_shape_t *in = inputs[0];
  if (cfg->units <= 0)
    return spd__config_fail(ctx, cfg, "units must be positive");
  if (in->rank < 1)
    return spd__shape_fail(ctx, cfg, in, "Dense needs an input of rank >= 1");
  int32_t kernel[2] = {in->dims[in->rank - 1], cfg->units};
  if (spd__checked_product(kernel, 2) < 0)
    return spd__too_many(ctx, cfg, "units", "a kernel", kernel, 2);
  /* Keras's Dense acts on the last axis and keeps the others. */
  *out = *in;
  out->dims[out->rank - 1] = cfg->units;
  return spd__check_activation(ctx, cfg);
}

static int keras_read(spd__kjr_t *r, const char *cls, const cJSON *c, const char *n,
                      spd_layer_config_t *o) {
  (void)cls;
  int err = spd__kjr_int(r, c, n, "units", true, &o->units);
  if (!err && o->units < 1)
    err = spd__kjr_bad_field(r, n, "units", "a positive integer");
  return err ? err : spd__kjr_weighted_tail(r, c, n, o);
}

static void keras_write(spd__kjw_t *w, const spd_layer_t *l) {
  spd__kjw_int(w, "units", l->config.units);
  spd__kjw_weighted_tail(w, &l->config, !spd__kjw_keras3(w));
}

const spd_layer_op_t spd__op_DENSE = {
    .keras = "Dense",
    .snake = "dense",
    .traits = SPD_OP_WEIGHTS | SPD_OP_ACTIVATION | SPD_OP_COMPUTES,
    .min_inputs = 1,
    .machine = SPD_OPM_DENSE,
    .infer = infer,
    .params = spd__weight_layer_specs,
    .keras_read = keras_read,
    .keras_write = keras_write,
    .ref_forward = spd__ref_weights_forward,
    .ref_backward = spd__ref_weights_backward,
    .fx_setup = spd__fx_setup_weights,
    .fx_forward = spd__fx_forward_dense,
    .fx_backward = spd__fx_backward_dense,
};
