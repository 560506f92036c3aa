/* Conv1D and Conv2D (groups in Conv2D): a kernel slid over the input's
 * spatial axes, then the activation. */
#include "nn/layers/layers.h"

static int infer_conv(spd_ctx_t *ctx, const spd_layer_config_t *cfg, const spd_shape_t *in,
                      int nd, spd_shape_t *out) {
  if (cfg->filters <= 0)
    return spd__config_fail(ctx, cfg, "filters must be positive");
  /* Keras refuses both at once; ONNX's Conv (explicit windows) takes them. */
  for (int i = 0; i < nd; i++)
    if (cfg->strides[i] > 1 && cfg->dilation_rate[i] > 1 && cfg->padding != SPD_PAD_EXPLICIT)
      return spd__config_fail(ctx, cfg,
                              "strides > 1 together with dilation_rate > 1 (Keras rejects it too)");
  int rc = spd__infer_window(ctx, cfg, in, nd, cfg->kernel_size, 1, cfg->filters, out);
  if (rc)
    return rc;
  int32_t groups = cfg->groups > 0 ? cfg->groups : 1;
  if (cfg->groups < 0 || (groups > 1 && nd != 2))
    return spd__field_fail(ctx, cfg, "groups", cfg->groups, "is not supported (Conv2D only, >= 1)");
  if (in->dims[nd] % groups || cfg->filters % groups)
    return spd__field_fail(ctx, cfg, "groups", groups,
                           "must divide both the input channels and the filters");
  int32_t kernel[4] = {cfg->kernel_size[0], nd == 2 ? cfg->kernel_size[1] : 1,
                       in->dims[nd] / groups, cfg->filters};
  if (spd__checked_product(kernel, 4) < 0)
    return spd__too_many(ctx, cfg, "filters", "a kernel", kernel, 4);
  return spd__check_activation(ctx, cfg);
}

static int infer(spd_ctx_t *ctx, const spd_layer_config_t *cfg, const spd_shape_t *const *in,
                 int n, spd_shape_t *out) {
  (void)n;
  return infer_conv(ctx, cfg, in[0], spd__layer_op(cfg->kind)->spatial, out);
}

static int keras_read(spd__kjr_t *r, const char *cls, const cJSON *c, const char *n,
                      spd_layer_config_t *o) {
  (void)cls;
  int d = spd__layer_op(o->kind)->spatial;
  int32_t groups = 1;
  int err = spd__kjr_int(r, c, n, "filters", true, &o->filters);
  if (!err && o->filters < 1)
    err = spd__kjr_bad_field(r, n, "filters", "a positive integer");
  if (!err)
    err = spd__kjr_ints(r, c, n, "kernel_size", d, true, o->kernel_size);
  if (!err)
    err = spd__kjr_ints(r, c, n, "strides", d, false, o->strides);
  if (!err)
    err = spd__kjr_ints(r, c, n, "dilation_rate", d, false, o->dilation_rate);
  if (!err)
    err = spd__kjr_padding(r, c, n, &o->padding);
  if (!err)
    err = spd__kjr_int(r, c, n, "groups", false, &groups);
  if (!err && (groups < 1 || (groups > 1 && d != 2)))
    err = spd_ctx_fail(spd__kjr_ctx(r), SPD_EUNSUPPORTED,
                       "Keras JSON: layer '%s': groups=%d is not supported (Conv2D takes 1 or "
                       "more)", n, groups);
  o->groups = groups;
  return err ? err : spd__kjr_weighted_tail(r, c, n, o);
}

static void keras_write(spd__kjw_t *w, const spd_layer_t *l) {
  const spd_layer_config_t *c = &l->config;
  int d = spd__layer_op(c->kind)->spatial;
  spd__kjw_int(w, "filters", c->filters);
  spd__kjw_ints(w, "kernel_size", c->kernel_size, d);
  spd__kjw_ints(w, "strides", c->strides, d);
  spd__kjw_str(w, "padding", spd__padding_name(c->padding));
  spd__kjw_str(w, "data_format", "channels_last");
  spd__kjw_ints(w, "dilation_rate", c->dilation_rate, d);
  spd__kjw_int(w, "groups", c->groups > 1 ? c->groups : 1);
  spd__kjw_weighted_tail(w, c, true);
}

#define CONV_OP_(id, cls, snake_name, axes)                                    \
  const spd_layer_op_t spd__op_##id = {                                       \
      .keras = cls,                                                           \
      .snake = snake_name,                                                    \
      .spatial = axes,                                                        \
      .traits = SPD_OP_WEIGHTS | SPD_OP_ACTIVATION | SPD_OP_WINDOW | SPD_OP_COMPUTES, \
      .min_inputs = 1,                                                        \
      .machine = SPD_OPM_CONV,                                                \
      .infer = infer,                                                         \
      .params = spd__weight_layer_specs,                                      \
      .keras_read = keras_read,                                               \
      .keras_write = keras_write,                                             \
      .ref_forward = spd__ref_weights_forward,                                \
      .ref_backward = spd__ref_weights_backward,                              \
      .fx_setup = spd__fx_setup_weights,                                      \
      .fx_forward = spd__fx_forward_conv,                                     \
      .fx_backward = spd__fx_backward_conv,                                   \
  };

CONV_OP_(CONV1D, "Conv1D", "conv1d", 1)
CONV_OP_(CONV2D, "Conv2D", "conv2d", 2)
