/* The reference executor's state, shared by its allocation (ref_exec.c) and
 * its passes (ref_run.c). */
#ifndef SPINDLE_NN_REF_EXEC_H
#define SPINDLE_NN_REF_EXEC_H

#include "spindle/reference.h"

/* Views into the slabs for one layer; NULL where the layer has no use. */
typedef struct ref_layer_state {
  size_t out_size;                 /* floats per sample of the output */
  float *out;                      /* capacity * out_size */
  float *dout;                     /* gradient of the loss w.r.t. out */
  float *pre;                      /* pre-activation of a fused non-linear activation */
  float *mask;                     /* Dropout mask */
  float *stats;                    /* BatchNormalization mean (C) then inv_std (C) */
                                   /* (both views of the descriptor's ref_state) */
  float *grads[SPD_MAX_PARAMS];    /* trainable parameters only */
  uint64_t samples_seen;           /* Dropout: training samples so far */
  bool needs_grad;                 /* something at or before it takes a gradient */
} ref_layer_state_t;

struct spd_ref {
  spd_ctx_t *ctx;
  const spd_model_t *model;
  spd_ref_options_t opts;
  int capacity;
  int batch;
  bool forward_done;
  bool training;                   /* mode of the last forward */
  ref_layer_state_t *layers;
  float *act_slab;                 /* every out, dout, pre, mask, stats */
  float *grad_slab;                /* every parameter gradient */
  size_t grad_floats;
  float *scratch;                  /* capacity * largest output: dz of fused activations */
  float *conv_scratch;             /* the lowered convolutions' patches (conv_gemm.h) */
};

/** Geometry of a Conv or pooling layer for @p batch samples; 1-D layers are
 *  one row high. */
spd_window_params_t spd__ref_window_params(const spd_layer_t *layer, int batch);

/* What the layer descriptors' reference passes (nn/layer_op.h) share. */
const float *spd__ref_param(const spd_layer_t *layer, const char *name);
float *spd__ref_param_grad(const spd_layer_t *layer, const ref_layer_state_t *st,
                           const char *name);
spd_act_params_t spd__ref_act_params(const spd_layer_t *layer, int batch);
/** The ReLU arguments of @p layer and the activation's input @p x. */
spd_act_extra_t spd__ref_act_extra(const spd_layer_t *layer, const float *x);
/** The output of inbound @p k; its gradient buffer, or NULL when nothing
 *  upstream needs it. */
const float *spd__ref_input_of(const spd_ref_t *ref, const spd_layer_t *layer, int k);
float *spd__ref_input_grad_of(const spd_ref_t *ref, const spd_layer_t *layer, int k);
/** Dense and convolutions with their fused activation. */
void spd__ref_weights_forward(spd_ref_t *ref, int i, bool training);
void spd__ref_weights_backward(spd_ref_t *ref, int i, const float *dz_ready);

/** Forward/backward of layer @p i on ref->batch samples; @p dz_ready, when
 *  non-NULL, is the gradient w.r.t. the layer's pre-activation (a fused
 *  loss), which skips the activation's backward. */
void spd__ref_layer_forward(spd_ref_t *ref, int i, bool training);
void spd__ref_layer_backward(spd_ref_t *ref, int i, const float *dz_ready);

#endif
