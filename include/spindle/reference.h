/* The float32 reference executor: framework-free forward and backward maths
 * for every layer of model.h, Keras's losses, and a graph executor that runs
 * a built model over a batch and back-propagates a loss. It is the oracle the
 * SpiNNaker kernels are checked against (and `--backend reference`), so each
 * kernel is written for clarity first and kept forever (llm.c style).
 *
 * Conventions of the kernels below:
 * - Tensors are row-major float32 in Keras's layout (channels_last), the
 *   batch dimension first.
 * - `<layer>_forward` writes its outputs; `<layer>_backward` ACCUMULATES
 *   (+=) into the input gradient and the parameter gradients, so a tensor
 *   feeding several layers receives the sum of their gradients. Any gradient
 *   pointer may be NULL when that gradient is not wanted.
 * - Arguments: outputs first, then inputs and weights, then a params struct.
 * - Gradients are of the batch-mean loss (as Keras): the loss kernels divide
 *   by the batch, the layer kernels do not average again. */
#ifndef SPINDLE_REFERENCE_H
#define SPINDLE_REFERENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spindle/model.h"

/* ---- Dense ------------------------------------------------------------- */

/** Dense on the last axis: @p rows = batch * (product of the other axes). */
typedef struct spd_dense_params {
  int rows, in, out;
} spd_dense_params_t;

/* out (rows, out) = in (rows, in) @ w (in, out) + b (out); b may be NULL. */
void spd_dense_forward(float *out, const float *in, const float *w, const float *b,
                       const spd_dense_params_t *p);
/* din (rows, in) += dout @ w^T; dw (in, out) += in^T @ dout; db (out) += sum dout. */
void spd_dense_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                        const float *w, const spd_dense_params_t *p);

/* ---- Sliding windows: Conv1D/Conv2D and pooling ------------------------ */

/** Geometry of a 2-D window layer on (batch, in_h, in_w, in_c) channels_last
 *  input; 1-D layers use in_h = k_h = stride_h = dil_h = 1, pad_top = 0.
 *  pad_top/pad_left come from TensorFlow's SAME rule (shape.h). */
typedef struct spd_window_params {
  int batch;
  int in_h, in_w, in_c;
  int out_h, out_w, out_c;     /* pooling: out_c = in_c */
  int k_h, k_w;                /* kernel or pool size */
  int stride_h, stride_w;
  int dil_h, dil_w;            /* 1 for pooling */
  int pad_top, pad_left;
  int groups;                  /* convolutions: channel groups (0 or 1: one group) */
} spd_window_params_t;

/* out (B, oh, ow, oc) = conv(in (B, ih, iw, ic), w (kh, kw, ic / groups, oc)) + b (oc); b may
 * be NULL. Group g maps input channels [g*ic/groups, (g+1)*ic/groups) to outputs
 * [g*oc/groups, (g+1)*oc/groups) (depthwise: groups = ic). */
void spd_conv_forward(float *out, const float *in, const float *w, const float *b,
                      const spd_window_params_t *p);
/* din (B, ih, iw, ic) += ...; dw (kh, kw, ic, oc) += ...; db (oc) += sum dout. */
void spd_conv_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                       const float *w, const spd_window_params_t *p);

/* out (B, oh, ow, c) = max over each window of in (B, ih, iw, c); padding never wins. */
void spd_maxpool_forward(float *out, const float *in, const spd_window_params_t *p);
/* din += dout routed to the first maximum of each window (as TensorFlow/PyTorch). */
void spd_maxpool_backward(float *din, const float *dout, const float *in,
                          const spd_window_params_t *p);
/* out (B, oh, ow, c) = mean of the window's valid (unpadded) elements of in,
 * as TensorFlow's avg_pool with SAME padding. */
void spd_avgpool_forward(float *out, const float *in, const spd_window_params_t *p);
/* din (B, ih, iw, c) += dout / (valid elements of the window). */
void spd_avgpool_backward(float *din, const float *dout, const spd_window_params_t *p);

/** GlobalAveragePooling2D: @p positions = h * w. */
typedef struct spd_gap_params {
  int batch, positions, channels;
} spd_gap_params_t;

/* out (B, c) = mean over positions of in (B, h*w, c). */
void spd_gap_forward(float *out, const float *in, const spd_gap_params_t *p);
/* din (B, h*w, c) += dout / positions. */
void spd_gap_backward(float *din, const float *dout, const spd_gap_params_t *p);

/* ---- Activations -------------------------------------------------------- */

/** An activation over @p rows vectors of @p cols (softmax normalises each
 *  row, i.e. the last axis). */
typedef struct spd_act_params {
  spd_activation_t kind;
  size_t rows, cols;
  float negative_slope;        /* leaky_relu, relu_args */
  float elu_alpha;             /* elu */
} spd_act_params_t;

/** What relu_args (Keras's ReLU layer with arguments) and the backward of
 *  swish, gelu and relu_args need beyond spd_act_params_t. */
typedef struct spd_act_extra {
  float max_value, threshold;  /* relu_args */
  const float *x;              /* the input (rows, cols) */
} spd_act_extra_t;

/* y (rows, cols) = f(x (rows, cols)); y may alias x. */
void spd_activation_forward(float *y, const float *x, const spd_act_params_t *p);
/* dx (rows, cols) += dy * f'(x), computed from the output y (relu y > 0,
 * sigmoid y(1-y), tanh 1-y^2, leaky_relu slope where y <= 0, elu y+alpha where
 * y <= 0, selu lambda or y + lambda alpha, softmax y (dy - sum y dy)), as
 * TensorFlow's *Grad ops do; swish, gelu and relu_args from p->x. */
void spd_activation_backward(float *dx, const float *dy, const float *y,
                             const spd_act_params_t *p);
/* The same with @p e, which relu_args (forward and backward) and swish and
 * gelu (backward) require; the functions above pass NULL, which those
 * activations do not take (relu_args then acts as relu, and the backward of
 * swish, gelu and relu_args adds nothing). */
void spd_activation_forward_extra(float *y, const float *x, const spd_act_params_t *p,
                                  const spd_act_extra_t *e);
void spd_activation_backward_extra(float *dx, const float *dy, const float *y,
                                   const spd_act_params_t *p, const spd_act_extra_t *e);

/* ---- Dropout ------------------------------------------------------------ */

/** Inverted dropout. In training each element is kept when a uniform draw is
 *  >= rate and then scaled by 1/(1-rate). The draw of element i of the
 *  sample with global index s (samples seen by this layer in training so
 *  far) is output word (i % 4) of Philox block counter s*ceil(n/4) + i/4 of
 *  (seed, stream), as 24-bit uniform (spd_rng_uniform), so a kernel that
 *  knows s reproduces the mask. */
typedef struct spd_dropout_params {
  int batch;
  size_t n;                    /* elements per sample */
  float rate;
  bool training;               /* false: identity */
  uint64_t seed;
  uint32_t stream;
  uint64_t first_sample;       /* s of the batch's first sample */
} spd_dropout_params_t;

/* y (B, n) = x * mask; mask (B, n) receives 0 or 1/(1-rate) (1 in inference). */
void spd_dropout_forward(float *y, float *mask, const float *x, const spd_dropout_params_t *p);
/* dx (B, n) += dy * mask. */
void spd_dropout_backward(float *dx, const float *dy, const float *mask,
                          const spd_dropout_params_t *p);

/* ---- BatchNormalization ------------------------------------------------- */

/** BatchNormalization over the last axis (Keras axis=-1): @p rows = batch *
 *  (product of the other axes). Training normalises with the batch mean and
 *  biased variance and updates moving = moving * momentum + batch * (1 -
 *  momentum) with the biased batch variance, as Keras 3 and tf.keras 2's
 *  non-fused path do; tf.keras 2's fused kernel (4-D inputs) feeds the
 *  Bessel-corrected variance n/(n-1) to the moving average instead: set
 *  @p unbiased_moving_variance to reproduce that. Inference uses the moving
 *  statistics. */
typedef struct spd_batchnorm_params {
  size_t rows;
  int channels;
  float epsilon, momentum;
  bool training;
  bool unbiased_moving_variance;
} spd_batchnorm_params_t;

/* y (rows, C) = gamma * (x - mean) * inv_std + beta; saves mean and inv_std (C)
 * for backward; gamma/beta may be NULL (scale/center false); in training
 * moving_mean/moving_var (C) are updated. */
void spd_batchnorm_forward(float *y, float *save_mean, float *save_inv_std, const float *x,
                           const float *gamma, const float *beta, float *moving_mean,
                           float *moving_var, const spd_batchnorm_params_t *p);
/* dx (rows, C) +=; dgamma, dbeta (C) += ; the batch statistics' dependence on
 * x is included in training mode. */
void spd_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                            const float *x, const float *gamma, const float *save_mean,
                            const float *save_inv_std, const spd_batchnorm_params_t *p);

/* ---- Add, Flatten/Reshape ----------------------------------------------- */

/* out (n) = sum of the @p n_inputs inputs (n each). */
void spd_add_forward(float *out, const float *const *inputs, int n_inputs, size_t n);
/* Each din[i] (n) += dout (gradient fan-out); NULL entries are skipped. */
void spd_add_backward(float *const *dins, const float *dout, int n_inputs, size_t n);
/* LRN across the last axis (channels): @p rows positions of @p channels;
 * window of channel c: [c - (size-1)/2, c + size/2] clipped, as ONNX. */
typedef struct spd_lrn_params {
  size_t rows;
  int channels, size;
  float alpha, beta, bias;
} spd_lrn_params_t;

/* out = in / (bias + alpha / size * sum over the window of in^2)^beta. */
void spd_lrn_forward(float *out, const float *in, const spd_lrn_params_t *p);
/* din += the gradient through the forward above (recomputed from @p in). */
void spd_lrn_backward(float *din, const float *dout, const float *in, const spd_lrn_params_t *p);

/* Concatenate on the last axis: @p rows positions (batch included), input k
 * holding channels[k] values at each. */
typedef struct spd_concat_params {
  size_t rows;
  int n_inputs;
  int channels[SPD_MAX_INBOUND];
} spd_concat_params_t;

/* out (rows, sum channels) = the inputs (rows, channels[k]) side by side. */
void spd_concat_forward(float *out, const float *const *inputs, const spd_concat_params_t *p);
/* Each din[k] (rows, channels[k]) += its slice of dout; NULL entries are skipped. */
void spd_concat_backward(float *const *dins, const float *dout, const spd_concat_params_t *p);
/* Flatten and Reshape keep the row-major order: out (n) = in; din += dout. */
void spd_reshape_forward(float *out, const float *in, size_t n);
void spd_reshape_backward(float *din, const float *dout, size_t n);

/* ---- Losses ------------------------------------------------------------- */

#define SPD_LOSSES(X)                                                         \
  X(MSE, "mean_squared_error", "MeanSquaredError")                            \
  X(BINARY_CROSSENTROPY, "binary_crossentropy", "BinaryCrossentropy")         \
  X(CATEGORICAL_CROSSENTROPY, "categorical_crossentropy",                     \
    "CategoricalCrossentropy")                                                \
  X(SPARSE_CATEGORICAL_CROSSENTROPY, "sparse_categorical_crossentropy",       \
    "SparseCategoricalCrossentropy")

typedef enum spd_loss_kind {
#define SPD_LOSS_ENUM_(id, fn, cls) SPD_LOSS_##id,
  SPD_LOSSES(SPD_LOSS_ENUM_)
#undef SPD_LOSS_ENUM_
  SPD_LOSS_COUNT
} spd_loss_kind_t;

/** "mean_squared_error", ...; parse also takes "mse" and the class names;
 *  -1 if unknown. */
const char *spd_loss_name(spd_loss_kind_t kind);
int spd_loss_parse(const char *name);

/** Keras's clipping epsilon (keras.backend.epsilon()). */
#define SPD_LOSS_EPSILON 1e-7f

/** A loss over @p rows vectors of @p cols (the last axis). Keras reduces the
 *  last axis (mean for MSE and binary crossentropy, sum for the categorical
 *  ones) and then takes the mean over the rows (sum_over_batch_size). Sparse
 *  labels hold one class index per row (as a float, like Keras's float label
 *  arrays); other labels have the prediction's shape. Without from_logits,
 *  predictions are clipped to [eps, 1-eps] (eps 1e-7) and categorical
 *  predictions renormalised to sum 1, as Keras does, and the gradient is zero
 *  where the clip is active. */
typedef struct spd_loss_params {
  spd_loss_kind_t kind;
  bool from_logits;            /* crossentropies only */
  size_t rows, cols;
} spd_loss_params_t;

/** The mean loss (accumulated in double). */
double spd_loss_forward(const float *pred, const float *labels, const spd_loss_params_t *p);
/* dpred (rows, cols) = d loss / d pred (overwritten, not accumulated). */
void spd_loss_backward(float *dpred, const float *pred, const float *labels,
                       const spd_loss_params_t *p);

/* ---- The graph executor -------------------------------------------------- */

/** Executor options; spd_ref_options_default() gives seed 0, no input
 *  gradient. */
typedef struct spd_ref_options {
  uint64_t seed;               /* dropout masks (per-layer dropout_seed overrides) */
  bool input_gradient;         /* also compute d loss / d model input */
} spd_ref_options_t;

void spd_ref_options_default(spd_ref_options_t *o);

/** An executor for one built model. It BORROWS the model (which must outlive
 *  it and keep its structure): parameters are read from the model's tensors
 *  at every call, so an optimizer updating them in place is seen at once,
 *  and training forward passes update the model's BatchNormalization moving
 *  statistics in place. It OWNS one slab of activations (outputs,
 *  pre-activations, masks, saved statistics) and one parameter-shaped slab
 *  of gradients. */
typedef struct spd_ref spd_ref_t;

/** *out is owned by the caller (spd_ref_free); it borrows @p model as above.
 *  @return 0, SPD_ESTATE (model not built), SPD_EINVAL (capacity < 1),
 *  SPD_ENOMEM (diagnostic gives the bytes). */
int spd_ref_new(const spd_model_t *model, int batch_capacity, const spd_ref_options_t *opts,
                spd_ref_t **out);
void spd_ref_free(spd_ref_t *ref);

/** Forward @p batch samples of @p x (batch, model input shape) through every
 *  layer, keeping the activations for backward. Training mode applies
 *  dropout and batch statistics (and updates moving statistics).
 *  @return 0 or SPD_ERANGE (batch outside 1..capacity). */
int spd_ref_forward(spd_ref_t *ref, const float *x, int batch, bool training);

/** The loss of the last forward against @p labels (see spd_loss_params_t).
 *  With a softmax output and a categorical crossentropy (or sigmoid and
 *  binary crossentropy) without from_logits, the loss is computed from the
 *  output layer's logits, as tf.keras 2's compiled training does (no
 *  clipping), so the loss and its gradient (p - y)/rows stay consistent.
 *  @return 0 or SPD_EINVAL (loss/output mismatch, diagnostic). */
int spd_ref_loss(spd_ref_t *ref, spd_loss_kind_t kind, bool from_logits, const float *labels,
                 double *loss_out);

/** Back-propagate the loss of the last forward: zero every gradient, then
 *  fill the gradient slab with d(batch-mean loss)/d(parameter) for every
 *  trainable parameter. @p loss_out (may be NULL) receives the loss.
 *  @return 0, SPD_ESTATE (no forward yet), SPD_EINVAL (as spd_ref_loss). */
int spd_ref_backward(spd_ref_t *ref, spd_loss_kind_t kind, bool from_logits,
                     const float *labels, double *loss_out);

/** The gradient of parameter @p param_index of layer @p layer: a view into
 *  the executor's slab (valid until spd_ref_free) with the parameter's shape;
 *  data is NULL for non-trainable parameters and bad indices. */
spd_tensor_t spd_ref_grad(spd_ref_t *ref, int layer, int param_index);

/** Output of layer @p layer for the last forward (batch * output size
 *  floats, layer->output_shape per sample); view valid until spd_ref_free.
 *  Layer 0 holds the model input. NULL for a bad index. */
float *spd_ref_output(spd_ref_t *ref, int layer);
/** Gradient of the loss w.r.t. layer @p layer's output after backward (layer
 *  0: the model input, if options.input_gradient). */
float *spd_ref_output_grad(spd_ref_t *ref, int layer);
/** The batch of the last forward. */
int spd_ref_batch(const spd_ref_t *ref);

/** One layer on its own, for tests: forward @p layer reading its inbound
 *  layers' outputs (set them through spd_ref_output after spd_ref_set_batch);
 *  backward accumulates from its output gradient into its inputs' gradients
 *  and its parameter gradients. */
int spd_ref_set_batch(spd_ref_t *ref, int batch);
int spd_ref_layer_forward(spd_ref_t *ref, int layer, bool training);
int spd_ref_layer_backward(spd_ref_t *ref, int layer);
/** Zero every output gradient and parameter gradient. */
void spd_ref_zero_grads(spd_ref_t *ref);

#endif
