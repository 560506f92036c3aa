/* The reference executor's passes: each layer's forward and backward mapped
 * onto the kernels, the loss (fused with a softmax/sigmoid output as tf.keras
 * 2 does), and the graph walks. */
#include <math.h>
#include <string.h>

#include "nn/conv_gemm.h"
#include "nn/ref_exec.h"
#include "nn/shape.h"

static const float *param(const spd_layer_t *layer, const char *name) {
  for (int p = 0; p < layer->n_params; p++)
    if (!strcmp(layer->params[p].name, name))
      return layer->params[p].value.data;
  return NULL;
}

static float *param_grad(const spd_layer_t *layer, const ref_layer_state_t *st,
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
  bool conv = c->kind == SPD_LAYER_CONV1D || c->kind == SPD_LAYER_CONV2D;
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

static spd_act_params_t act_params(const spd_layer_t *layer, int batch) {
  spd_act_params_t p;
  p.kind = layer->config.activation;
  p.cols = (size_t)last_dim(&layer->output_shape);
  p.rows = spd_shape_size(&layer->output_shape) / p.cols * (size_t)batch;
  p.negative_slope = layer->config.negative_slope;
  p.elu_alpha = layer->config.elu_alpha;
  return p;
}

static spd_lrn_params_t lrn_params(const spd_layer_t *layer, int batch) {
  const spd_layer_config_t *c = &layer->config;
  spd_lrn_params_t p = {.channels = last_dim(&layer->output_shape), .size = c->lrn_size,
                        .alpha = c->lrn_alpha, .beta = c->lrn_beta, .bias = c->lrn_bias};
  p.rows = spd_shape_size(&layer->output_shape) / (size_t)p.channels * (size_t)batch;
  return p;
}

static spd_batchnorm_params_t bn_params(const spd_layer_t *layer, int batch, bool training) {
  spd_batchnorm_params_t p = {0};
  p.channels = last_dim(&layer->output_shape);
  p.rows = spd_shape_size(&layer->output_shape) / (size_t)p.channels * (size_t)batch;
  p.epsilon = layer->config.epsilon;
  p.momentum = layer->config.momentum;
  p.training = training;
  return p;
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

static const float *input_of(const spd_ref_t *ref, const spd_layer_t *layer, int k) {
  return ref->layers[layer->inbound[k]].out;
}

/* Gradient buffer of inbound k, or NULL when nothing upstream needs it. */
static float *input_grad_of(const spd_ref_t *ref, const spd_layer_t *layer, int k) {
  const ref_layer_state_t *from = &ref->layers[layer->inbound[k]];
  return from->needs_grad ? from->dout : NULL;
}

static void weights_forward(spd_ref_t *ref, const spd_layer_t *layer, ref_layer_state_t *st) {
  const float *in = input_of(ref, layer, 0);
  float *z = st->pre ? st->pre : st->out;
  if (layer->config.kind == SPD_LAYER_DENSE) {
    spd_dense_params_t p = dense_params(layer, ref->batch);
    spd_dense_forward(z, in, param(layer, "kernel"), param(layer, "bias"), &p);
  } else {
    spd_window_params_t p = spd__ref_window_params(layer, ref->batch);
    if (p.groups > 1) /* grouped and depthwise: the direct loops */
      spd_conv_forward(z, in, param(layer, "kernel"), param(layer, "bias"), &p);
    else
      spd__conv_gemm_forward(z, in, param(layer, "kernel"), param(layer, "bias"), &p,
                             ref->conv_scratch);
  }
  if (st->pre) {
    spd_act_params_t a = act_params(layer, ref->batch);
    spd_activation_forward(st->out, st->pre, &a);
  }
}

static void add_forward(spd_ref_t *ref, const spd_layer_t *layer, ref_layer_state_t *st) {
  const float *inputs[SPD_MAX_INBOUND];
  for (int k = 0; k < layer->n_inbound; k++)
    inputs[k] = input_of(ref, layer, k);
  spd_add_forward(st->out, inputs, layer->n_inbound, st->out_size * (size_t)ref->batch);
}

/* The channel counts of a Concatenate's inputs and the number of positions
 * (rows of channels) they share, for @p batch samples. */
static spd_concat_params_t concat_params(const spd_ref_t *ref, const spd_layer_t *layer) {
  spd_concat_params_t p = {.n_inputs = layer->n_inbound};
  const spd_shape_t *out = &layer->output_shape;
  p.rows = spd_shape_size(out) / (size_t)last_dim(out) * (size_t)ref->batch;
  for (int k = 0; k < layer->n_inbound; k++)
    p.channels[k] = last_dim(&ref->model->layers[layer->inbound[k]].output_shape);
  return p;
}

static void concat_forward(spd_ref_t *ref, const spd_layer_t *layer, ref_layer_state_t *st) {
  const float *inputs[SPD_MAX_INBOUND];
  for (int k = 0; k < layer->n_inbound; k++)
    inputs[k] = input_of(ref, layer, k);
  spd_concat_params_t p = concat_params(ref, layer);
  spd_concat_forward(st->out, inputs, &p);
}

static void batchnorm_forward(spd_ref_t *ref, const spd_layer_t *layer, ref_layer_state_t *st,
                              bool training) {
  spd_batchnorm_params_t p = bn_params(layer, ref->batch, training);
  spd_batchnorm_forward(st->out, st->stats, st->stats + p.channels, input_of(ref, layer, 0),
                        param(layer, "gamma"), param(layer, "beta"),
                        (float *)param(layer, "moving_mean"),
                        (float *)param(layer, "moving_variance"), &p);
}

void spd__ref_layer_forward(spd_ref_t *ref, int i, bool training) {
  const spd_layer_t *layer = &ref->model->layers[i];
  ref_layer_state_t *st = &ref->layers[i];
  size_t n = st->out_size * (size_t)ref->batch;
  switch (layer->config.kind) {
  case SPD_LAYER_DENSE:
  case SPD_LAYER_CONV1D:
  case SPD_LAYER_CONV2D:
    weights_forward(ref, layer, st);
    break;
  case SPD_LAYER_MAXPOOL1D:
  case SPD_LAYER_MAXPOOL2D: {
    spd_window_params_t p = spd__ref_window_params(layer, ref->batch);
    spd_maxpool_forward(st->out, input_of(ref, layer, 0), &p);
    break;
  }
  case SPD_LAYER_AVGPOOL1D:
  case SPD_LAYER_AVGPOOL2D: {
    spd_window_params_t p = spd__ref_window_params(layer, ref->batch);
    spd_avgpool_forward(st->out, input_of(ref, layer, 0), &p);
    break;
  }
  case SPD_LAYER_GLOBALAVGPOOL2D: {
    const spd_shape_t *in = &layer->input_shape;
    spd_gap_params_t p = {ref->batch, in->dims[0] * in->dims[1], in->dims[2]};
    spd_gap_forward(st->out, input_of(ref, layer, 0), &p);
    break;
  }
  case SPD_LAYER_FLATTEN:
  case SPD_LAYER_RESHAPE:
    spd_reshape_forward(st->out, input_of(ref, layer, 0), n);
    break;
  case SPD_LAYER_ACTIVATION: {
    spd_act_params_t p = act_params(layer, ref->batch);
    spd_activation_forward(st->out, input_of(ref, layer, 0), &p);
    break;
  }
  case SPD_LAYER_DROPOUT: {
    spd_dropout_params_t p = dropout_params(ref, i, training);
    spd_dropout_forward(st->out, st->mask, input_of(ref, layer, 0), &p);
    if (training)
      st->samples_seen += (uint64_t)ref->batch;
    break;
  }
  case SPD_LAYER_BATCHNORM:
    batchnorm_forward(ref, layer, st, training);
    break;
  case SPD_LAYER_ADD:
    add_forward(ref, layer, st);
    break;
  case SPD_LAYER_CONCATENATE:
    concat_forward(ref, layer, st);
    break;
  case SPD_LAYER_LRN: {
    spd_lrn_params_t p = lrn_params(layer, ref->batch);
    spd_lrn_forward(st->out, input_of(ref, layer, 0), &p);
    break;
  }
  default: /* the input layer's output is written by spd_ref_forward */
    break;
  }
}

static void weights_backward(spd_ref_t *ref, const spd_layer_t *layer, ref_layer_state_t *st,
                             const float *dz_ready) {
  const float *dz = st->dout;
  if (dz_ready) {
    dz = dz_ready;
  } else if (st->pre) {
    spd_act_params_t a = act_params(layer, ref->batch);
    memset(ref->scratch, 0, st->out_size * (size_t)ref->batch * sizeof(float));
    spd_activation_backward(ref->scratch, st->dout, st->out, &a);
    dz = ref->scratch;
  }
  const float *in = input_of(ref, layer, 0), *w = param(layer, "kernel");
  float *din = input_grad_of(ref, layer, 0);
  float *dw = param_grad(layer, st, "kernel"), *db = param_grad(layer, st, "bias");
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

static void batchnorm_backward(spd_ref_t *ref, const spd_layer_t *layer, ref_layer_state_t *st,
                               float *din) {
  spd_batchnorm_params_t p = bn_params(layer, ref->batch, ref->training);
  spd_batchnorm_backward(din, param_grad(layer, st, "gamma"), param_grad(layer, st, "beta"),
                         st->dout, input_of(ref, layer, 0), param(layer, "gamma"), st->stats,
                         st->stats + p.channels, &p);
}

/* Backward of the layers without weights; @p din is never NULL here. */
static void plain_backward(spd_ref_t *ref, int i, float *din, const float *dz_ready) {
  const spd_layer_t *layer = &ref->model->layers[i];
  ref_layer_state_t *st = &ref->layers[i];
  size_t n = st->out_size * (size_t)ref->batch;
  switch (layer->config.kind) {
  case SPD_LAYER_MAXPOOL1D:
  case SPD_LAYER_MAXPOOL2D: {
    spd_window_params_t p = spd__ref_window_params(layer, ref->batch);
    spd_maxpool_backward(din, st->dout, input_of(ref, layer, 0), &p);
    break;
  }
  case SPD_LAYER_AVGPOOL1D:
  case SPD_LAYER_AVGPOOL2D: {
    spd_window_params_t p = spd__ref_window_params(layer, ref->batch);
    spd_avgpool_backward(din, st->dout, &p);
    break;
  }
  case SPD_LAYER_GLOBALAVGPOOL2D: {
    const spd_shape_t *in = &layer->input_shape;
    spd_gap_params_t p = {ref->batch, in->dims[0] * in->dims[1], in->dims[2]};
    spd_gap_backward(din, st->dout, &p);
    break;
  }
  case SPD_LAYER_FLATTEN:
  case SPD_LAYER_RESHAPE:
    spd_reshape_backward(din, st->dout, n);
    break;
  case SPD_LAYER_ACTIVATION: {
    /* A fused loss already gave the gradient w.r.t. this layer's input. */
    if (dz_ready) {
      spd_reshape_backward(din, dz_ready, n);
    } else {
      spd_act_params_t p = act_params(layer, ref->batch);
      spd_activation_backward(din, st->dout, st->out, &p);
    }
    break;
  }
  case SPD_LAYER_DROPOUT: {
    spd_dropout_params_t p = dropout_params(ref, i, ref->training);
    spd_dropout_backward(din, st->dout, st->mask, &p);
    break;
  }
  case SPD_LAYER_LRN: {
    spd_lrn_params_t p = lrn_params(layer, ref->batch);
    spd_lrn_backward(din, st->dout, input_of(ref, layer, 0), &p);
    break;
  }
  default:
    break;
  }
}

void spd__ref_layer_backward(spd_ref_t *ref, int i, const float *dz_ready) {
  const spd_layer_t *layer = &ref->model->layers[i];
  ref_layer_state_t *st = &ref->layers[i];
  switch (layer->config.kind) {
  case SPD_LAYER_INPUT:
    return;
  case SPD_LAYER_DENSE:
  case SPD_LAYER_CONV1D:
  case SPD_LAYER_CONV2D:
    weights_backward(ref, layer, st, dz_ready);
    return;
  case SPD_LAYER_BATCHNORM:
    batchnorm_backward(ref, layer, st, input_grad_of(ref, layer, 0));
    return;
  case SPD_LAYER_ADD: {
    float *dins[SPD_MAX_INBOUND];
    for (int k = 0; k < layer->n_inbound; k++)
      dins[k] = input_grad_of(ref, layer, k);
    spd_add_backward(dins, st->dout, layer->n_inbound, st->out_size * (size_t)ref->batch);
    return;
  }
  case SPD_LAYER_CONCATENATE: {
    float *dins[SPD_MAX_INBOUND];
    for (int k = 0; k < layer->n_inbound; k++)
      dins[k] = input_grad_of(ref, layer, k);
    spd_concat_params_t p = concat_params(ref, layer);
    spd_concat_backward(dins, st->dout, &p);
    return;
  }
  default: {
    float *din = input_grad_of(ref, layer, 0);
    if (din)
      plain_backward(ref, i, din, dz_ready);
    return;
  }
  }
}
