/* LRN (ONNX's LocalResponseNormalization across channels; no Keras layer):
 * y = x / (bias + alpha / size * sum x^2)^beta over size channels. */
#include "nn/layers/layers.h"

static int infer(spd_ctx_t *ctx, const spd_layer_config_t *cfg, const spd_shape_t *const *inputs,
                 int n, spd_shape_t *out) {
  (void)n;
  const spd_shape_t *in = inputs[0];
  if (in->rank < 1)
    return spd__shape_fail(ctx, cfg, in, "LRN needs rank >= 1");
  if (cfg->lrn_size < 1 || !(cfg->lrn_bias > 0.0f) || !(cfg->lrn_alpha >= 0.0f) ||
      !(cfg->lrn_beta >= 0.0f))
    return spd__config_fail(ctx, cfg, "size must be >= 1, bias > 0, alpha and beta >= 0");
  *out = *in;
  return 0;
}

static spd_lrn_params_t lrn_params(const spd_layer_t *layer, int batch) {
  const spd_layer_config_t *c = &layer->config;
  spd_lrn_params_t p = {.channels = spd__last_dim(&layer->output_shape), .size = c->lrn_size,
                        .alpha = c->lrn_alpha, .beta = c->lrn_beta, .bias = c->lrn_bias};
  p.rows = spd_shape_size(&layer->output_shape) / (size_t)p.channels * (size_t)batch;
  return p;
}

static void forward(spd_ref_t *ref, int i, bool training) {
  (void)training;
  const spd_layer_t *layer = &ref->model->layers[i];
  spd_lrn_params_t p = lrn_params(layer, ref->batch);
  spd_lrn_forward(ref->layers[i].out, spd__ref_input_of(ref, layer, 0), &p);
}

static void backward(spd_ref_t *ref, int i, const float *dz_ready) {
  (void)dz_ready;
  const spd_layer_t *layer = &ref->model->layers[i];
  float *din = spd__ref_input_grad_of(ref, layer, 0);
  if (!din)
    return;
  spd_lrn_params_t p = lrn_params(layer, ref->batch);
  spd_lrn_backward(din, ref->layers[i].dout, spd__ref_input_of(ref, layer, 0), &p);
}

const spd_layer_op_t spd__op_LRN = {
    .keras = "LRN",
    .snake = "lrn",
    .traits = SPD_OP_NOT_KERAS,
    .min_inputs = 1,
    .infer = infer,
    .ref_forward = forward,
    .ref_backward = backward,
};
