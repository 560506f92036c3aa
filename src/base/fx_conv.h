/* The fixed-point arithmetic of Conv1D/Conv2D and pooling (channels_last),
 * written as a tile computes it. A tile owns output rows [oh0, oh1), output
 * channels [oc0, oc1) and input channels [ic0, ic1) (a 1-D layer is a 2-D
 * one with one row); it reads input rows from in_row0 on (its halo) and
 * accumulates exact int64 sums, so any split and any reduction order give the
 * same bits, as for Dense (base/fx_dense.h). Padding is virtual: taps that
 * fall outside the input are skipped.
 *
 * Worst case: products of int16 values are at most 2^30, so an int64 sum
 * holds 2^33 of them; the largest sums are the weight gradients of an early
 * convolution, out_h * out_w * batch terms (LeNet conv1: 784 * 32 < 2^15;
 * ResNet-50's 56x56 layers at batch 256: < 2^20). */
#ifndef SPINDLE_BASE_FX_CONV_H
#define SPINDLE_BASE_FX_CONV_H

#include <stdint.h>

#include "spindle/fixed.h"

/** Geometry of a window layer on one sample; TensorFlow's SAME rule gives
 *  pad_top / pad_left. Pooling has out_c = in_c and dil = 1. */
typedef struct spd_fx_window {
  int in_h, in_w, in_c;
  int out_h, out_w, out_c;
  int k_h, k_w;
  int stride_h, stride_w;
  int dil_h, dil_w;
  int pad_top, pad_left;
} spd_fx_window_t;

/** A tile's share of a convolution. Buffers passed with a block are indexed
 *  relative to it: input-shaped ones (x, dx) start at input row in_row0,
 *  output-shaped ones (acc, dz) at output row oh0; channel strides are the
 *  full in_c / out_c. */
typedef struct spd_fx_conv_block {
  int oh0, oh1;
  int oc0, oc1;
  int ic0, ic1;
  int in_row0;
} spd_fx_conv_block_t;

/** The block covering a whole layer (the reference's single tile). */
spd_fx_conv_block_t spd_fx_conv_whole(const spd_fx_window_t *g);

/** acc += conv(x, w) over the block (frac = x's + w's). w is the full kernel
 *  (kh, kw, in_c, out_c). */
void spd_fx_conv_forward_block(int64_t *acc, const int16_t *x, const int16_t *w,
                               const spd_fx_window_t *g, const spd_fx_conv_block_t *b);

/** dx += the block's share of the input gradient (frac = w's + dz's). */
void spd_fx_conv_backward_input_block(int64_t *dx, const int16_t *dz, const int16_t *w,
                                      const spd_fx_window_t *g, const spd_fx_conv_block_t *b);

/** gw += one sample's kernel gradient over the block (frac = x's + dz's);
 *  gw is the full kernel shape. */
void spd_fx_conv_grad_block(int64_t *gw, const int16_t *x, const int16_t *dz,
                            const spd_fx_window_t *g, const spd_fx_conv_block_t *b);

/** gb[oc] += sum over the block's positions of dz (frac = dz's). */
void spd_fx_conv_bias_grad(int64_t *gb, const int16_t *dz, const spd_fx_window_t *g,
                           const spd_fx_conv_block_t *b);

/** The reducer over @p positions output positions: z = acc + bias[channel],
 *  rounded once to frac 16 (saturating, counted). */
void spd_fx_conv_reduce(int32_t *z, const int64_t *acc, const int32_t *bias, int positions,
                        int channels, int acc_frac, int bias_frac, uint32_t *saturations);

/** Max pooling of one sample: y = the window's maximum (the first one wins;
 *  padding never does), @p argmax its input index. Values pass unchanged. */
void spd_fx_maxpool_forward(int16_t *y, int32_t *argmax, const int16_t *x,
                            const spd_fx_window_t *g);
/** dx[argmax[o]] += dy[o]: exact. */
void spd_fx_maxpool_backward(int64_t *dx, const int16_t *dy, const int32_t *argmax, int n_out);

/** Average pooling: the window's exact sum times 1/count (count = valid
 *  taps, as TensorFlow's SAME pooling), rounded once. @p inv_count[c] is the
 *  map-time constant 1/c for c = 1 .. k_h*k_w. */
void spd_fx_avgpool_forward(int16_t *y, const int16_t *x, const spd_fx_window_t *g,
                            const spd_fx_const_t *inv_count, uint32_t *saturations);
/** dx (frac = dy's + 16) += dy / count for every tap of every window, each
 *  term rounded to nearest at that finer frac; the caller rounds the sum
 *  once more into the gradient format. */
void spd_fx_avgpool_backward(int64_t *dx, const int16_t *dy, const spd_fx_window_t *g,
                             const spd_fx_const_t *inv_count);

/** GlobalAveragePooling2D: y[c] = (sum over positions of x) / positions,
 *  rounded once; backward dx[p][c] (frac = dy's + 16) += dy[c] / positions,
 *  rounded to nearest at that finer frac (the caller rounds once more). */
void spd_fx_gap_forward(int16_t *y, const int16_t *x, int positions, int channels,
                        spd_fx_const_t inv_positions, uint32_t *saturations);
void spd_fx_gap_backward(int64_t *dx, const int16_t *dy, int positions, int channels,
                         spd_fx_const_t inv_positions);

#endif
