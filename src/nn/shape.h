/* Shape inference for every layer kind, and the window arithmetic that the
 * reference executor and the compiler share, so both agree on every size and
 * every padding. */
#ifndef SPINDLE_NN_SHAPE_H
#define SPINDLE_NN_SHAPE_H

#include "spindle/model.h"

/** Output length of a sliding window (convolution or pooling) over @p n
 *  positions, kernel/pool @p k, stride @p s, dilation @p d (1 for pooling):
 *  valid = floor((n - d*(k-1) - 1)/s) + 1, same = ceil(n/s). May be <= 0 for
 *  a window longer than the input (the caller reports it). */
int32_t spd__window_out(int32_t n, int32_t k, int32_t s, int32_t d, spd_padding_t padding);

/** Padding before the first element (TensorFlow's SAME rule: the total
 *  max((out-1)*s + d*(k-1) + 1 - n, 0) is split with the smaller half
 *  before); 0 for valid. */
int32_t spd__window_pad_before(int32_t n, int32_t k, int32_t s, int32_t d,
                               spd_padding_t padding);

/** The padding before axis @p axis (0 rows, 1 columns; 1-D layers pass 0)
 *  of the window layer @p c over @p n positions: pads[axis] when explicit,
 *  else spd__window_pad_before. Every executor and the compiler ask here. */
int32_t spd__layer_pad_before(const spd_layer_config_t *c, int axis, int32_t n, int32_t k,
                              int32_t s, int32_t d);

/* Every tensor, per sample, and every weight tensor holds at most
 * SPD_MAX_ELEMENTS values: the executors index them with int and size_t
 * products of int32 dimensions, which must not wrap. */
#define SPD_MAX_ELEMENTS INT32_MAX

/* The checks the layer descriptors (nn/layer_op.h) share; each fails with
 * a diagnostic naming the layer and its kind. */
int spd__shape_fail(spd_ctx_t *ctx, const spd_layer_config_t *cfg, const spd_shape_t *in,
                    const char *why);
int spd__config_fail(spd_ctx_t *ctx, const spd_layer_config_t *cfg, const char *why);
int spd__field_fail(spd_ctx_t *ctx, const spd_layer_config_t *cfg, const char *field,
                    int32_t value, const char *why);
/** The product of @p n factors, or -1 when it passes SPD_MAX_ELEMENTS. */
int64_t spd__checked_product(const int32_t *dims, int n);
int spd__too_many(spd_ctx_t *ctx, const spd_layer_config_t *cfg, const char *field,
                  const char *what, const int32_t *dims, int n);
int spd__check_activation(spd_ctx_t *ctx, const spd_layer_config_t *cfg);
/** Spatial output sizes of a window layer over the first @p nd axes of
 *  @p in (kernel or pool sizes @p k, dilations applied when @p dil_apply);
 *  the last axis (channels) is kept or replaced by @p channels. */
int spd__infer_window(spd_ctx_t *ctx, const spd_layer_config_t *cfg, const spd_shape_t *in,
                      int nd, const int32_t *k, int32_t dil_apply, int32_t channels,
                      spd_shape_t *out);

/** Infer @p layer's output shape from its inputs' shapes (@p inputs[i] is the
 *  output shape of inbound layer i) and check its configuration.
 *  @return 0 or SPD_ESHAPE / SPD_EINVAL with a diagnostic naming the layer
 *  and the shapes. */
int spd__layer_infer_shape(spd_ctx_t *ctx, const spd_layer_config_t *cfg,
                           const spd_shape_t *const *inputs, int n_inputs,
                           spd_shape_t *out);

#endif
