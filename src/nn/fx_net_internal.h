/* Internals of the fixed-point reference network shared by fx_net.c (layers,
 * forward, backward, update) and fx_loss.c (the loss core). */
#ifndef SPINDLE_NN_FX_NET_INTERNAL_H
#define SPINDLE_NN_FX_NET_INTERNAL_H

#include "base/fx_conv.h"
#include "nn/fx_net.h"
#include "nn/layer_op.h"

/* One parameter tensor: master weights (int32, frac 24), the int16 MAC copy
 * (kernels only), the exact batch gradient sum and the optimizer slots. */
typedef struct fx_param {
  size_t n;
  uint32_t stream;      /* Philox stream of its stochastic rounding */
  int32_t *master;
  int16_t *w16;
  int64_t *grad;
  int32_t *a;
  int64_t *b;
  int32_t *c;
} fx_param_t;

/* BatchNormalization state (fx_batchnorm.c): per-channel statistics of
 * the current batch and the moving averages (int64, frac 32). */
typedef struct fx_batchnorm {
  int channels, positions;
  int gamma_index, beta_index;  /* in the model layer's params, or -1 */
  int64_t *mean;                /* frac x_frac + 16 */
  spd_fx_const_t *inv_std;      /* 1/sqrt(var + eps) as a multiplier */
  int64_t *moving_mean, *moving_var;
  int64_t *dx;                  /* batch x positions x channels, frac 32 */
  spd_fx_const_t momentum, one_minus_momentum, epsilon;
} fx_batchnorm_t;

/* Per-sample tensors of a layer for a whole batch (sample s at
 * s * out_size). Data movers own none: they alias their input's. */
typedef struct fx_batch_tensors {
  int16_t *y;
  int32_t *z;
  int16_t *dy;
  int16_t *dz;
  int64_t *dy_acc;
  int32_t *argmax;
  uint8_t *keep;
} fx_batch_tensors_t;

/* One layer. The plain pointers below are views of the sample being
 * processed, set by spd__fx_net_select; every per-sample function works on
 * them, so a layer runs over the whole batch before the next one does (as
 * BatchNormalization needs) while each sample's arithmetic stays the
 * sample-at-a-time arithmetic of a tile. */
typedef struct fx_layer {
  spd_layer_kind_t kind;
  bool folded;          /* an activation its producer applies (nn/layer_op.h) */
  size_t in_size, out_size;
  spd_fx_act_params_t act;
  bool softmax;
  fx_batch_tensors_t all;
  int16_t *y;           /* output, act_frac */
  int32_t *z;           /* pre-activation, frac 16 */
  int16_t *dy;          /* dL/dy, grad_frac */
  int16_t *dz;          /* dL/dz, grad_frac */
  int64_t *dy_acc;      /* consumers' dX, summed exactly at SPD_FX_GRAD_SUM_FRAC */
  int64_t *acc;         /* scratch accumulator, max(in, out) */
  fx_param_t kernel, bias;
  spd_fx_window_t window;            /* convolutions and pooling */
  int32_t *argmax;                   /* max pooling: input index per output */
  spd_fx_const_t *inv_count;         /* average pooling: 1/c, c = 0..k_h*k_w */
  uint8_t *keep;                     /* dropout: this sample's mask */
  uint32_t drop_threshold;           /* dropout: keep when (u32 >> 8) >= this */
  spd_fx_const_t drop_scale;         /* dropout: 1 / (1 - rate) */
  uint64_t drop_seed;
  uint64_t samples_seen;             /* dropout: training samples so far */
  fx_batchnorm_t bn;
  double max_z, max_g;  /* calibration statistics */
  uint64_t sat_forward;  /* saturations producing y (and z) */
  uint64_t sat_backward; /* saturations rounding the received dY and dz */
} fx_layer_t;

struct spd_fx_net {
  spd_ctx_t *ctx;
  const spd_model_t *model;
  spd_numeric_plan_t *plan;
  int n_layers;
  fx_layer_t *layers;
  spd_fx_loss_t loss;
  bool from_logits;
  bool loss_fused;      /* the loss core writes dz of the output layer */
  spd_fx_const_t inv_n, two_over_n;
  int16_t *loss_scratch;
  uint64_t seed;
  int max_batch;
  bool calibrating;
  bool training;        /* dropout masks are drawn only in training */
  uint32_t sat;         /* saturations of the batch in progress */
  uint64_t sat_total;
};

static inline bool op_traits_(spd_layer_kind_t k, unsigned all) {
  const spd_layer_op_t *op = spd__layer_op(k);
  return op && (op->traits & all) == all;
}
static inline bool is_mover(spd_layer_kind_t k) { return op_traits_(k, SPD_OP_MOVER); }
static inline bool is_conv(spd_layer_kind_t k) { return op_traits_(k, SPD_OP_WEIGHTS | SPD_OP_WINDOW); }
static inline bool is_maxpool(spd_layer_kind_t k) { return op_traits_(k, SPD_OP_MAXPOOL | SPD_OP_WINDOW); }
static inline bool is_avgpool(spd_layer_kind_t k) { return op_traits_(k, SPD_OP_AVGPOOL | SPD_OP_WINDOW); }
static inline bool has_weights(spd_layer_kind_t k) { return op_traits_(k, SPD_OP_WEIGHTS); }
/* A layer whose tensors are views of its input's: a data mover, or an
 * activation folded into its producer. */
static inline bool fx_aliased(const fx_layer_t *fl) { return fl->folded || is_mover(fl->kind); }

/** Frac of the exact sums of the gradients a layer receives (every dX
 *  frac the layers produce, w + g <= 28 or g + 16 <= 30, shifts up to it
 *  exactly; magnitudes stay below 2^46). */
#define SPD_FX_GRAD_SUM_FRAC 32

/** Index of the layer feeding input @p k of layer @p i. */
int spd__fx_inbound(const spd_fx_net_t *net, int i, int k);

/** The layer whose int16 formats a (possibly data-moving) layer @p i uses. */
int spd__fx_owner(const spd_fx_net_t *net, int i);

/** Allocate parameter tensor @p p like @p src (with an int16 MAC copy when
 *  @p mac_copy), quantise src's values into its masters; Philox @p stream. */
int spd__fx_param_new(spd_fx_net_t *net, fx_param_t *p, const spd_param_t *src, bool mac_copy,
                      uint32_t stream);

/** BatchNormalization (fx_batchnorm.c): set-up from the model layer (gamma
 *  in kernel, beta in bias), free, batch forward, batch backward (dX at
 *  SPD_FX_GRAD_SUM_FRAC into @p dx unless NULL), moving statistics back into
 *  the model. */
int spd__fx_bn_setup(spd_fx_net_t *net, fx_layer_t *fl, const spd_layer_t *l, int i);
void spd__fx_bn_free(spd_fx_net_t *net, fx_layer_t *fl);
/* The largest batch whose BatchNormalization rows keep the batch
 * statistics exact (INT_MAX without one), its layer into *layer; and the
 * refusal of a larger one (training). */
int spd__fx_bn_batch_limit(const spd_fx_net_t *net, int *layer);
int spd__fx_bn_check_batch(spd_fx_net_t *net, int batch);
void spd__fx_bn_forward(spd_fx_net_t *net, int i, int batch);
void spd__fx_bn_backward(spd_fx_net_t *net, int i, int batch, int64_t *dx);
void spd__fx_bn_export(const spd_fx_net_t *net, int i, spd_model_t *m);

/** Check that the loss fits the output layer and set its constants. */
int spd__fx_loss_check(spd_fx_net_t *net);
/** Loss value, accuracy and output gradient of sample @p s after a forward
 *  pass: writes dz (fused losses) or dy of the output layer. */
void spd__fx_loss_sample(spd_fx_net_t *net, const spd_fx_batch_t *b, int s,
                         spd_fx_result_t *res);

/* The per-kind passes the layer descriptors (nn/layer_op.h) point at
 * (fx_pass.c), and what a new kind's passes use: the output of the layer
 * feeding input k, the activation of a layer's z into y, and the exact
 * hand-over of a dX sum (frac @p from) to the layer feeding input k. */
const int16_t *spd__fx_input_y(const spd_fx_net_t *net, int i, int k);
void spd__fx_activate(spd_fx_net_t *net, fx_layer_t *fl);
void spd__fx_emit_dx(spd_fx_net_t *net, int i, int k, const int64_t *dx, int from);
void spd__fx_forward_dense(spd_fx_net_t *net, int i);
void spd__fx_forward_conv(spd_fx_net_t *net, int i);
void spd__fx_forward_pool(spd_fx_net_t *net, int i);
void spd__fx_forward_dropout(spd_fx_net_t *net, int i);
void spd__fx_forward_activation(spd_fx_net_t *net, int i);
void spd__fx_forward_add(spd_fx_net_t *net, int i);
void spd__fx_backward_dense(spd_fx_net_t *net, int i);
void spd__fx_backward_conv(spd_fx_net_t *net, int i);
void spd__fx_backward_pool(spd_fx_net_t *net, int i);
void spd__fx_backward_dropout(spd_fx_net_t *net, int i);
void spd__fx_backward_pass_on(spd_fx_net_t *net, int i);
void spd__fx_backward_batchnorm(spd_fx_net_t *net, int i, int batch);
/* Set-ups (fx_net.c): a weighted layer's parameters, pooling's constants,
 * Dropout's mask. */
int spd__fx_setup_weights(spd_fx_net_t *net, int i);
int spd__fx_setup_pooling(spd_fx_net_t *net, int i);
int spd__fx_setup_dropout(spd_fx_net_t *net, int i);
int spd__fx_setup_batchnorm(spd_fx_net_t *net, int i);

/** Re-derive what the plan sets (activation constants, the MAC-loop copies
 *  of the masters) after the plan or the masters changed. */
void spd__fx_net_apply_plan(spd_fx_net_t *net);

/** Point every layer's sample views at sample @p s of the batch. */
void spd__fx_net_select(spd_fx_net_t *net, int s);
/** Forward @p batch samples of @p x, layer by layer. */
void spd__fx_net_forward(spd_fx_net_t *net, const float *x, int batch);
/** Backward of the batch after spd__fx_loss_sample of every sample. */
void spd__fx_net_backward(spd_fx_net_t *net, int batch);

#endif
