/* GlobalAveragePooling2D: the average of every channel over the map. */
#include "nn/layers/layers.h"

int spd__global_pool_infer(spd_ctx_t *ctx, const spd_layer_config_t *cfg,
                           const spd_shape_t *const *inputs, int n, spd_shape_t *out) {
  (void)n;
  const spd_shape_t *in = inputs[0];
  if (in->rank != 3)
    return spd__shape_fail(ctx, cfg, in, "expected rank 3 (rows, cols, channels)");
  out->rank = 1;
  out->dims[0] = in->dims[2];
  return 0;
}

int spd__global_pool_keras_read(spd__kjr_t *r, const char *cls, const cJSON *c,
                                const char *name, spd_layer_config_t *o) {
  (void)cls;
  (void)o;
  bool keepdims = false;
  int err = spd__kjr_bool(r, c, name, "keepdims", &keepdims);
  if (!err && keepdims)
    err = spd_ctx_fail(spd__kjr_ctx(r), SPD_EUNSUPPORTED,
                       "Keras JSON: layer '%s': keepdims=true is not supported", name);
  return err;
}

void spd__global_pool_keras_write(spd__kjw_t *w, const spd_layer_t *l) {
  (void)l;
  spd__kjw_str(w, "data_format", "channels_last");
  spd__kjw_bool(w, "keepdims", false);
}

static spd_gap_params_t gap_params(const spd_layer_t *layer, int batch) {
  const spd_shape_t *in = &layer->input_shape;
  spd_gap_params_t p = {batch, in->dims[0] * in->dims[1], in->dims[2]};
  return p;
}

static void forward(spd_ref_t *ref, int i, bool training) {
  (void)training;
  const spd_layer_t *layer = &ref->model->layers[i];
  spd_gap_params_t p = gap_params(layer, ref->batch);
  spd_gap_forward(ref->layers[i].out, spd__ref_input_of(ref, layer, 0), &p);
}

static void backward(spd_ref_t *ref, int i, const float *dz_ready) {
  (void)dz_ready;
  const spd_layer_t *layer = &ref->model->layers[i];
  float *din = spd__ref_input_grad_of(ref, layer, 0);
  if (!din)
    return;
  spd_gap_params_t p = gap_params(layer, ref->batch);
  spd_gap_backward(din, ref->layers[i].dout, &p);
}

const spd_layer_op_t spd__op_GLOBALAVGPOOL2D = {
    .keras = "GlobalAveragePooling2D",
    .snake = "global_average_pooling2d",
    .traits = SPD_OP_AVGPOOL,
    .min_inputs = 1,
    .machine = SPD_OPM_POOL, /* a pool tile with one window as large as the map */
    .infer = spd__global_pool_infer,
    .keras_read = spd__global_pool_keras_read,
    .keras_write = spd__global_pool_keras_write,
    .ref_forward = forward,
    .ref_backward = backward,
    .fx_setup = spd__fx_setup_pooling,
    .fx_forward = spd__fx_forward_pool,
    .fx_backward = spd__fx_backward_pool,
};
