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

/** Infer @p layer's output shape from its inputs' shapes (@p inputs[i] is the
 *  output shape of inbound layer i) and check its configuration.
 *  @return 0 or SPD_ESHAPE / SPD_EINVAL with a diagnostic naming the layer
 *  and the shapes. */
int spd__layer_infer_shape(spd_ctx_t *ctx, const spd_layer_config_t *cfg,
                           const spd_shape_t *const *inputs, int n_inputs,
                           spd_shape_t *out);

#endif
