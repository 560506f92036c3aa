/* GlobalMaxPooling2D: the maximum of every channel over the map, a max
 * pooling whose window is the whole map (its gradient goes to the first
 * maximum, as the windowed max pooling's does). */
#include "nn/layers/layers.h"

/* The whole map as one window. */
static spd_window_params_t whole_map(const spd_layer_t *layer, int batch) {
  const spd_shape_t *in = &layer->input_shape;
  spd_window_params_t p = {.batch = batch, .in_h = in->dims[0], .in_w = in->dims[1],
                           .in_c = in->dims[2], .out_h = 1, .out_w = 1, .out_c = in->dims[2],
                           .k_h = in->dims[0], .k_w = in->dims[1], .stride_h = 1,
                           .stride_w = 1, .dil_h = 1, .dil_w = 1, .groups = 1};
  return p;
}

static void forward(spd_ref_t *ref, int i, bool training) {
  (void)training;
  const spd_layer_t *layer = &ref->model->layers[i];
  spd_window_params_t p = whole_map(layer, ref->batch);
  spd_maxpool_forward(ref->layers[i].out, spd__ref_input_of(ref, layer, 0), &p);
}

static void backward(spd_ref_t *ref, int i, const float *dz_ready) {
  (void)dz_ready;
  const spd_layer_t *layer = &ref->model->layers[i];
  float *din = spd__ref_input_grad_of(ref, layer, 0);
  if (!din)
    return;
  spd_window_params_t p = whole_map(layer, ref->batch);
  spd_maxpool_backward(din, ref->layers[i].dout, spd__ref_input_of(ref, layer, 0), &p);
}

/* The fixed-point max pooling over a whole-map window: argmax slots. */
static int fx_setup(spd_fx_net_t *net, int i) {
  fx_layer_t *fl = &net->layers[i];
  const spd_shape_t *in = &net->model->layers[i].input_shape;
  fl->window = (spd_fx_window_t){.in_h = in->dims[0], .in_w = in->dims[1], .in_c = in->dims[2],
                                 .out_h = 1, .out_w = 1, .out_c = in->dims[2],
                                 .k_h = in->dims[0], .k_w = in->dims[1], .stride_h = 1,
                                 .stride_w = 1, .dil_h = 1, .dil_w = 1};
  fl->all.argmax = spd_calloc(net->ctx, fl->out_size * (size_t)net->max_batch,
                              sizeof *fl->all.argmax);
  return fl->all.argmax ? 0 : spd_ctx_fail(net->ctx, SPD_ENOMEM, "layer '%s': out of memory",
                                           net->model->layers[i].config.name);
}

const spd_layer_op_t spd__op_GLOBALMAXPOOL2D = {
    .keras = "GlobalMaxPooling2D",
    .snake = "global_max_pooling2d",
    .traits = SPD_OP_WINDOW | SPD_OP_MAXPOOL,
    .min_inputs = 1,
    .machine = SPD_OPM_POOL, /* a pool tile with one window as large as the map */
    .infer = spd__global_pool_infer,
    .keras_read = spd__global_pool_keras_read,
    .keras_write = spd__global_pool_keras_write,
    .ref_forward = forward,
    .ref_backward = backward,
    .fx_setup = fx_setup,
    .fx_forward = spd__fx_forward_pool,
    .fx_backward = spd__fx_backward_pool,
};
