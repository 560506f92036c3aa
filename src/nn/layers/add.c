/* Add: the element-wise sum of two or more inputs of one shape. */
#include "nn/layers/layers.h"

static int infer(spd_ctx_t *ctx, const spd_layer_config_t *cfg,
                     const spd_shape_t *const *inputs, int n, spd_shape_t *out) {
  if (n < 2)
    return spd__config_fail(ctx, cfg, "Add needs at least 2 inputs");
  for (int i = 1; i < n; i++) {
    if (!spd_shape_equal(inputs[0], inputs[i])) {
      char a[96], b[96];
      spd_shape_format(inputs[0], a, sizeof a);
      spd_shape_format(inputs[i], b, sizeof b);
      return spd_ctx_fail(ctx, SPD_ESHAPE, "layer '%s' (Add): input 0 has shape %s but input %d has %s",
                          cfg->name, a, i, b);
    }
  }
  *out = *inputs[0];
  return 0;
}

static void forward(spd_ref_t *ref, int i, bool training) {
  (void)training;
  const spd_layer_t *layer = &ref->model->layers[i];
  const float *inputs[SPD_MAX_INBOUND];
  for (int k = 0; k < layer->n_inbound; k++)
    inputs[k] = spd__ref_input_of(ref, layer, k);
  spd_add_forward(ref->layers[i].out, inputs, layer->n_inbound,
                  ref->layers[i].out_size * (size_t)ref->batch);
}

static void backward(spd_ref_t *ref, int i, const float *dz_ready) {
  (void)dz_ready;
  const spd_layer_t *layer = &ref->model->layers[i];
  float *dins[SPD_MAX_INBOUND];
  for (int k = 0; k < layer->n_inbound; k++)
    dins[k] = spd__ref_input_grad_of(ref, layer, k);
  spd_add_backward(dins, ref->layers[i].dout, layer->n_inbound,
                   ref->layers[i].out_size * (size_t)ref->batch);
}

const spd_layer_op_t spd__op_ADD = {
    .keras = "Add",
    .snake = "add",
    .traits = SPD_OP_COMPUTES,
    .min_inputs = 2,
    .machine = SPD_OPM_ADD, /* docs/dag-on-machine.md */
    .infer = infer,
    .ref_forward = forward,
    .ref_backward = backward,
    .fx_forward = spd__fx_forward_add,
    .fx_backward = spd__fx_backward_pass_on,
};
