/* The reference executor's passes: each layer's forward and backward mapped
 * onto the kernels, the loss (fused with a softmax/sigmoid output as tf.keras
 * 2 does), and the graph walks. */
#include <math.h>
#include <string.h>

#include "nn/conv_gemm.h"
#include "nn/layer_op.h"
#include "nn/ref_exec.h"
#include "nn/shape.h"

const float *spd__ref_param(const spd_layer_t *layer, const char *name) {
  for (int p = 0; p < layer->n_params; p++)
    if (!strcmp(layer->params[p].name, name))
      return layer->params[p].value.data;
  return NULL;
}

float *spd__ref_param_grad(const spd_layer_t *layer, const ref_layer_state_t *st,
                         const char *name) {
  for (int p = 0; p < layer->n_params; p++)
    if (!strcmp(layer->params[p].name, name))
      return st->grads[p];
  return NULL;
}

static int32_t last_dim(const spd_shape_t *s) { return s->dims[s->rank - 1]; }

static spd_dense_params_t dense_params(const spd_layer_t *layer, int batch) {
  spd_dense_params_t p;
  p.in = last_dim(&layer->input_shape);
  p.out = last_dim(&layer->output_shape);
  p.rows = (int)(spd_shape_size(&layer->output_shape) / (size_t)p.out) * batch;
  return p;
}

spd_window_params_t spd__ref_window_params(const spd_layer_t *layer, int batch) {
  const spd_layer_config_t *c = &layer->config;
  const spd_shape_t *in = &layer->input_shape, *out = &layer->output_shape;
  bool conv = spd__op_has(layer, SPD_OP_WEIGHTS);
  const int32_t *k = conv ? c->kernel_size : c->pool_size;
  spd_window_params_t p = {.batch = batch, .in_h = 1, .out_h = 1, .k_h = 1, .stride_h = 1,
                           .dil_h = 1, .dil_w = 1};
  int w = in->rank == 3 ? 1 : 0; /* index of the width axis and its config */
  if (w) {
    p.in_h = in->dims[0];
    p.out_h = out->dims[0];
    p.k_h = k[0];
    p.stride_h = c->strides[0];
    p.dil_h = conv ? c->dilation_rate[0] : 1;
    p.pad_top = spd__layer_pad_before(c, 0, p.in_h, p.k_h, p.stride_h, p.dil_h);
  }
  p.in_w = in->dims[w];
  p.out_w = out->dims[w];
  p.k_w = k[w];
  p.stride_w = c->strides[w];
  p.dil_w = conv ? c->dilation_rate[w] : 1;
  p.pad_left = spd__layer_pad_before(c, w, p.in_w, p.k_w, p.stride_w, p.dil_w);
  p.in_c = last_dim(in);
  p.out_c = last_dim(out);
  p.groups = conv && c->groups > 1 ? c->groups : 1;
  return p;
}

spd_act_extra_t spd__ref_act_extra(const spd_layer_t *layer, const float *x) {
  spd_act_extra_t e = {layer->config.relu_max_value, layer->config.relu_threshold, x};
  return e;
}

spd_act_params_t spd__ref_act_params(const spd_layer_t *layer, int batch) {
  spd_act_params_t p;
  p.kind = layer->config.activation;
  p.cols = (size_t)last_dim(&layer->output_shape);
  p.rows = spd_shape_size(&layer->output_shape) / p.cols * (size_t)batch;
  p.negative_slope = layer->config.negative_slope;
  p.elu_alpha = layer->config.elu_alpha;
  return p;
}

const float *spd__ref_input_of(const spd_ref_t *ref, const spd_layer_t *layer, int k) {
  return ref->layers[layer->inbound[k]].out;
}

float *spd__ref_input_grad_of(const spd_ref_t *ref, const spd_layer_t *layer, int k) {
  const ref_layer_state_t *from = &ref->layers[layer->inbound[k]];
  return from->needs_grad ? from->dout : NULL;
}

void spd__ref_weights_forward(spd_ref_t *ref, int i, bool training) {
  (void)training;
  const spd_layer_t *layer = &ref->model->layers[i];
  ref_layer_state_t *st = &ref->layers[i];
  const float *in = spd__ref_input_of(ref, layer, 0);
  float *z = st->pre ? st->pre : st->out;
  if (layer->config.kind == SPD_LAYER_DENSE) {
    spd_dense_params_t p = dense_params(layer, ref->batch);
    spd_dense_forward(z, in, spd__ref_param(layer, "kernel"), spd__ref_param(layer, "bias"), &p);
  } else {
    spd_window_params_t p = spd__ref_window_params(layer, ref->batch);
    if (p.groups > 1) /* grouped and depthwise: the direct loops */
      spd_conv_forward(z, in, spd__ref_param(layer, "kernel"), spd__ref_param(layer, "bias"), &p);
    else
      spd__conv_gemm_forward(z, in, spd__ref_param(layer, "kernel"), spd__ref_param(layer, "bias"), &p,
                             ref->conv_scratch);
  }
  if (st->pre) {
    spd_act_params_t a = spd__ref_act_params(layer, ref->batch);
    spd_act_extra_t e = spd__ref_act_extra(layer, st->pre);
    spd_activation_forward_extra(st->out, st->pre, &a, &e);
  }
}

void spd__ref_weights_backward(spd_ref_t *ref, int i, const float *dz_ready) {
  const spd_layer_t *layer = &ref->model->layers[i];
  ref_layer_state_t *st = &ref->layers[i];
  const float *dz = st->dout;
  if (dz_ready) {
    dz = dz_ready;
  } else if (st->pre) {
    spd_act_params_t a = spd__ref_act_params(layer, ref->batch);
    spd_act_extra_t e = spd__ref_act_extra(layer, st->pre);
    memset(ref->scratch, 0, st->out_size * (size_t)ref->batch * sizeof(float));
    spd_activation_backward_extra(ref->scratch, st->dout, st->out, &a, &e);
    dz = ref->scratch;
  }
  const float *in = spd__ref_input_of(ref, layer, 0), *w = spd__ref_param(layer, "kernel");
  float *din = spd__ref_input_grad_of(ref, layer, 0);
  float *dw = spd__ref_param_grad(layer, st, "kernel"), *db = spd__ref_param_grad(layer, st, "bias");
  if (layer->config.kind == SPD_LAYER_DENSE) {
    spd_dense_params_t p = dense_params(layer, ref->batch);
    spd_dense_backward(din, dw, db, dz, in, w, &p);
  } else {
    spd_window_params_t p = spd__ref_window_params(layer, ref->batch);
    if (p.groups > 1)
      spd_conv_backward(din, dw, db, dz, in, w, &p);
    else
      spd__conv_gemm_backward(din, dw, db, dz, in, w, &p, ref->conv_scratch);
  }
}

void spd__ref_layer_forward(spd_ref_t *ref, int i, bool training) {
  const spd_layer_op_t *op = spd__op_of(&ref->model->layers[i]);
  if (op->ref_forward) /* the input layer's output is written by spd_ref_forward */
    op->ref_forward(ref, i, training);
}

void spd__ref_layer_backward(spd_ref_t *ref, int i, const float *dz_ready) {
  const spd_layer_op_t *op = spd__op_of(&ref->model->layers[i]);
  if (op->ref_backward)
    op->ref_backward(ref, i, dz_ready);
}
