/* MaxPooling1D/2D and AveragePooling1D/2D: a window's maximum or average
 * (an average counts only the positions inside the input). */
#include "nn/layers/layers.h"

static void defaults(spd_layer_config_t *cfg) {
  /* Keras: strides=None means strides = pool_size. */
  cfg->strides[0] = cfg->strides[1] = 2;
}

static int infer(spd_ctx_t *ctx, const spd_layer_config_t *cfg, const spd_shape_t *const *in,
                 int n, spd_shape_t *out) {
  (void)n;
  return spd__infer_window(ctx, cfg, in[0], spd__layer_op(cfg->kind)->spatial, cfg->pool_size,
                           0, 0, out);
}

static int keras_read(spd__kjr_t *r, const char *cls, const cJSON *c, const char *n,
                      spd_layer_config_t *o) {
  (void)cls;
  int d = spd__layer_op(o->kind)->spatial;
  int err = spd__kjr_ints(r, c, n, "pool_size", d, false, o->pool_size);
  /* Keras: strides=None means strides=pool_size. */
  memcpy(o->strides, o->pool_size, sizeof o->strides);
  if (!err)
    err = spd__kjr_ints(r, c, n, "strides", d, false, o->strides);
  if (!err)
    err = spd__kjr_padding(r, c, n, &o->padding);
  return err;
}

static void keras_write(spd__kjw_t *w, const spd_layer_t *l) {
  const spd_layer_config_t *c = &l->config;
  int d = spd__layer_op(c->kind)->spatial;
  spd__kjw_ints(w, "pool_size", c->pool_size, d);
  spd__kjw_str(w, "padding", spd__padding_name(c->padding));
  spd__kjw_ints(w, "strides", c->strides, d);
  spd__kjw_str(w, "data_format", "channels_last");
}

static void max_forward(spd_ref_t *ref, int i, bool training) {
  (void)training;
  const spd_layer_t *layer = &ref->model->layers[i];
  spd_window_params_t p = spd__ref_window_params(layer, ref->batch);
  spd_maxpool_forward(ref->layers[i].out, spd__ref_input_of(ref, layer, 0), &p);
}

static void max_backward(spd_ref_t *ref, int i, const float *dz_ready) {
  (void)dz_ready;
  const spd_layer_t *layer = &ref->model->layers[i];
  float *din = spd__ref_input_grad_of(ref, layer, 0);
  if (!din)
    return;
  spd_window_params_t p = spd__ref_window_params(layer, ref->batch);
  spd_maxpool_backward(din, ref->layers[i].dout, spd__ref_input_of(ref, layer, 0), &p);
}

static void avg_forward(spd_ref_t *ref, int i, bool training) {
  (void)training;
  const spd_layer_t *layer = &ref->model->layers[i];
  spd_window_params_t p = spd__ref_window_params(layer, ref->batch);
  spd_avgpool_forward(ref->layers[i].out, spd__ref_input_of(ref, layer, 0), &p);
}

static void avg_backward(spd_ref_t *ref, int i, const float *dz_ready) {
  (void)dz_ready;
  const spd_layer_t *layer = &ref->model->layers[i];
  float *din = spd__ref_input_grad_of(ref, layer, 0);
  if (!din)
    return;
  spd_window_params_t p = spd__ref_window_params(layer, ref->batch);
  spd_avgpool_backward(din, ref->layers[i].dout, &p);
}

#define POOL_OP_(id, cls, snake_name, axes, trait, fwd, bwd)                  \
  const spd_layer_op_t spd__op_##id = {                                       \
      .keras = cls,                                                           \
      .snake = snake_name,                                                    \
      .spatial = axes,                                                        \
      .traits = SPD_OP_WINDOW | trait,                                        \
      .min_inputs = 1,                                                        \
      .machine = SPD_OPM_POOL,                                                \
      .defaults = defaults,                                                   \
      .infer = infer,                                                         \
      .keras_read = keras_read,                                               \
      .keras_write = keras_write,                                             \
      .ref_forward = fwd,                                                     \
      .ref_backward = bwd,                                                    \
      .fx_setup = spd__fx_setup_pooling,                                      \
      .fx_forward = spd__fx_forward_pool,                                     \
      .fx_backward = spd__fx_backward_pool,                                   \
  };

POOL_OP_(MAXPOOL1D, "MaxPooling1D", "max_pooling1d", 1, SPD_OP_MAXPOOL, max_forward,
         max_backward)
POOL_OP_(MAXPOOL2D, "MaxPooling2D", "max_pooling2d", 2, SPD_OP_MAXPOOL, max_forward,
         max_backward)
POOL_OP_(AVGPOOL1D, "AveragePooling1D", "average_pooling1d", 1, SPD_OP_AVGPOOL, avg_forward,
         avg_backward)
POOL_OP_(AVGPOOL2D, "AveragePooling2D", "average_pooling2d", 2, SPD_OP_AVGPOOL, avg_forward,
         avg_backward)
