#include "base/fx_conv.h"

#include <stddef.h>

spd_fx_conv_block_t spd_fx_conv_whole(const spd_fx_window_t *g) {
  return (spd_fx_conv_block_t){0, g->out_h, 0, g->out_c, 0, g->in_c, 0};
}

/* Input row/column of tap @p k for output position @p o, or -1 in the
 * padding. */
static int tap(int o, int k, int stride, int dil, int pad, int n) {
  int i = o * stride + k * dil - pad;
  return i >= 0 && i < n ? i : -1;
}

/* Offsets of the input pixel of tap (kh, kw) at output (oh, ow) and of the
 * kernel slice of that tap, or -1 when the tap falls in the padding. */
static int64_t tap_pixel(const spd_fx_window_t *g, const spd_fx_conv_block_t *b, int oh, int ow,
                         int kh, int kw) {
  int ih = tap(oh, kh, g->stride_h, g->dil_h, g->pad_top, g->in_h);
  int iw = tap(ow, kw, g->stride_w, g->dil_w, g->pad_left, g->in_w);
  if (ih < 0 || iw < 0)
    return -1;
  return ((int64_t)(ih - b->in_row0) * g->in_w + iw) * g->in_c;
}

static int64_t kernel_at(const spd_fx_window_t *g, int kh, int kw) {
  return ((int64_t)kh * g->k_w + kw) * g->in_c * g->out_c;
}

static int64_t out_at(const spd_fx_window_t *g, const spd_fx_conv_block_t *b, int oh, int ow) {
  return ((int64_t)(oh - b->oh0) * g->out_w + ow) * g->out_c;
}

void spd_fx_conv_forward_block(int64_t *acc, const int16_t *x, const int16_t *w,
                               const spd_fx_window_t *g, const spd_fx_conv_block_t *b) {
  for (int oh = b->oh0; oh < b->oh1; oh++)
    for (int ow = 0; ow < g->out_w; ow++) {
      int64_t *o = acc + out_at(g, b, oh, ow);
      for (int kh = 0; kh < g->k_h; kh++)
        for (int kw = 0; kw < g->k_w; kw++) {
          int64_t at = tap_pixel(g, b, oh, ow, kh, kw);
          if (at < 0)
            continue;
          for (int ic = b->ic0; ic < b->ic1; ic++) {
            int32_t xi = x[at + ic];
            const int16_t *wr = w + kernel_at(g, kh, kw) + (int64_t)ic * g->out_c;
            for (int oc = b->oc0; oc < b->oc1; oc++)
              o[oc] += xi * wr[oc];
          }
        }
    }
}

void spd_fx_conv_backward_input_block(int64_t *dx, const int16_t *dz, const int16_t *w,
                                      const spd_fx_window_t *g, const spd_fx_conv_block_t *b) {
  for (int oh = b->oh0; oh < b->oh1; oh++)
    for (int ow = 0; ow < g->out_w; ow++) {
      const int16_t *d = dz + out_at(g, b, oh, ow);
      for (int kh = 0; kh < g->k_h; kh++)
        for (int kw = 0; kw < g->k_w; kw++) {
          int64_t at = tap_pixel(g, b, oh, ow, kh, kw);
          if (at < 0)
            continue;
          for (int ic = b->ic0; ic < b->ic1; ic++) {
            const int16_t *wr = w + kernel_at(g, kh, kw) + (int64_t)ic * g->out_c;
            int64_t sum = 0;
            for (int oc = b->oc0; oc < b->oc1; oc++)
              sum += (int32_t)wr[oc] * d[oc];
            dx[at + ic] += sum;
          }
        }
    }
}

void spd_fx_conv_grad_block(int64_t *gw, const int16_t *x, const int16_t *dz,
                            const spd_fx_window_t *g, const spd_fx_conv_block_t *b) {
  for (int oh = b->oh0; oh < b->oh1; oh++)
    for (int ow = 0; ow < g->out_w; ow++) {
      const int16_t *d = dz + out_at(g, b, oh, ow);
      for (int kh = 0; kh < g->k_h; kh++)
        for (int kw = 0; kw < g->k_w; kw++) {
          int64_t at = tap_pixel(g, b, oh, ow, kh, kw);
          if (at < 0)
            continue;
          for (int ic = b->ic0; ic < b->ic1; ic++) {
            int32_t xi = x[at + ic];
            if (xi == 0)
              continue;
            int64_t *gr = gw + kernel_at(g, kh, kw) + (int64_t)ic * g->out_c;
            for (int oc = b->oc0; oc < b->oc1; oc++)
              gr[oc] += xi * d[oc];
          }
        }
    }
}

void spd_fx_conv_bias_grad(int64_t *gb, const int16_t *dz, const spd_fx_window_t *g,
                           const spd_fx_conv_block_t *b) {
  for (int oh = b->oh0; oh < b->oh1; oh++)
    for (int ow = 0; ow < g->out_w; ow++) {
      const int16_t *d = dz + out_at(g, b, oh, ow);
      for (int oc = b->oc0; oc < b->oc1; oc++)
        gb[oc] += d[oc];
    }
}

void spd_fx_conv_reduce(int32_t *z, const int64_t *acc, const int32_t *bias, int positions,
                        int channels, int acc_frac, int bias_frac, uint32_t *saturations) {
  for (int p = 0; p < positions; p++)
    for (int c = 0; c < channels; c++) {
      int64_t sum = acc[(int64_t)p * channels + c];
      if (bias)
        sum += spd_fx_shift_round(bias[c], bias_frac - acc_frac);
      z[(int64_t)p * channels + c] = spd_fx_to32(sum, acc_frac, 16, saturations);
    }
}

void spd_fx_maxpool_forward(int16_t *y, int32_t *argmax, const int16_t *x,
                            const spd_fx_window_t *g) {
  spd_fx_conv_block_t whole = spd_fx_conv_whole(g);
  for (int oh = 0; oh < g->out_h; oh++)
    for (int ow = 0; ow < g->out_w; ow++)
      for (int c = 0; c < g->in_c; c++) {
        int64_t best = -1;
        for (int kh = 0; kh < g->k_h; kh++)
          for (int kw = 0; kw < g->k_w; kw++) {
            int64_t at = tap_pixel(g, &whole, oh, ow, kh, kw);
            if (at >= 0 && (best < 0 || x[at + c] > x[best]))
              best = at + c;
          }
        int64_t o = ((int64_t)oh * g->out_w + ow) * g->out_c + c;
        y[o] = best >= 0 ? x[best] : 0;
        argmax[o] = (int32_t)best;
      }
}

void spd_fx_maxpool_backward(int64_t *dx, const int16_t *dy, const int32_t *argmax, int n_out) {
  for (int o = 0; o < n_out; o++)
    if (argmax[o] >= 0)
      dx[argmax[o]] += dy[o];
}

/* Number of taps of window (oh, ow) inside the input. */
static int window_count(const spd_fx_window_t *g, int oh, int ow) {
  int n = 0;
  for (int kh = 0; kh < g->k_h; kh++)
    for (int kw = 0; kw < g->k_w; kw++)
      n += tap(oh, kh, g->stride_h, 1, g->pad_top, g->in_h) >= 0 &&
           tap(ow, kw, g->stride_w, 1, g->pad_left, g->in_w) >= 0;
  return n;
}

void spd_fx_avgpool_forward(int16_t *y, const int16_t *x, const spd_fx_window_t *g,
                            const spd_fx_const_t *inv_count, uint32_t *saturations) {
  spd_fx_conv_block_t whole = spd_fx_conv_whole(g);
  for (int oh = 0; oh < g->out_h; oh++)
    for (int ow = 0; ow < g->out_w; ow++) {
      spd_fx_const_t k = inv_count[window_count(g, oh, ow)];
      for (int c = 0; c < g->in_c; c++) {
        int64_t sum = 0;
        for (int kh = 0; kh < g->k_h; kh++)
          for (int kw = 0; kw < g->k_w; kw++) {
            int64_t at = tap_pixel(g, &whole, oh, ow, kh, kw);
            if (at >= 0)
              sum += x[at + c];
          }
        int64_t mean = spd_fx_mul_const(sum, k, 0, 0, SPD_FX_ROUND_NEAREST, saturations);
        y[((int64_t)oh * g->out_w + ow) * g->out_c + c] = spd_fx_sat16(mean, saturations);
      }
    }
}

void spd_fx_avgpool_backward(int64_t *dx, const int16_t *dy, const spd_fx_window_t *g,
                             const spd_fx_const_t *inv_count) {
  spd_fx_conv_block_t whole = spd_fx_conv_whole(g);
  for (int oh = 0; oh < g->out_h; oh++)
    for (int ow = 0; ow < g->out_w; ow++) {
      spd_fx_const_t k = inv_count[window_count(g, oh, ow)];
      for (int c = 0; c < g->in_c; c++) {
        int64_t share = spd_fx_mul_const(dy[((int64_t)oh * g->out_w + ow) * g->out_c + c], k, 0,
                                          16, SPD_FX_ROUND_NEAREST, NULL);
        for (int kh = 0; kh < g->k_h; kh++)
          for (int kw = 0; kw < g->k_w; kw++) {
            int64_t at = tap_pixel(g, &whole, oh, ow, kh, kw);
            if (at >= 0)
              dx[at + c] += share;
          }
      }
    }
}

void spd_fx_gap_forward(int16_t *y, const int16_t *x, int positions, int channels,
                        spd_fx_const_t inv_positions, uint32_t *saturations) {
  for (int c = 0; c < channels; c++) {
    int64_t sum = 0;
    for (int p = 0; p < positions; p++)
      sum += x[(int64_t)p * channels + c];
    y[c] = spd_fx_sat16(spd_fx_mul_const(sum, inv_positions, 0, 0, SPD_FX_ROUND_NEAREST,
                                         saturations),
                        saturations);
  }
}

void spd_fx_gap_backward(int64_t *dx, const int16_t *dy, int positions, int channels,
                         spd_fx_const_t inv_positions) {
  for (int c = 0; c < channels; c++) {
    int64_t share = spd_fx_mul_const(dy[c], inv_positions, 0, 16, SPD_FX_ROUND_NEAREST, NULL);
    for (int p = 0; p < positions; p++)
      dx[(int64_t)p * channels + c] += share;
  }
}
