#include "base/fx_conv.h"

/* The window loops a conv tile runs per sample are built at -O2 even in a
 * kernel image built at -Os to fit the ITCM (scripts/arm_build.py): at -Os
 * they spill their indices and cost several times more per MAC
 * (docs/calibration.md). GCC on the ARM only; elsewhere nothing. */
#if defined(__arm__) && defined(__GNUC__) && !defined(__clang__) && defined(__OPTIMIZE_SIZE__)
#define SPD_FX_HOT __attribute__((optimize("O2")))
#else
#define SPD_FX_HOT
#endif

#include <stdbool.h>
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

/* Per output position, per tap inside the input: two input channels per
 * pass over the output channels, so each accumulator is loaded and stored
 * once per two products (SMLALs into a register pair), with native-width
 * offsets (32-bit on the ARM968E-S, no 64-bit index arithmetic). Integer
 * sums: the order does not change the result. */
SPD_FX_HOT void spd_fx_conv_forward_block(int64_t *acc, const int16_t *x, const int16_t *w,
                               const spd_fx_window_t *g, const spd_fx_conv_block_t *b) {
  const ptrdiff_t tap_w = (ptrdiff_t)g->in_c * g->out_c;
  for (int oh = b->oh0; oh < b->oh1; oh++)
    for (int ow = 0; ow < g->out_w; ow++) {
      int64_t *o = acc + ((ptrdiff_t)(oh - b->oh0) * g->out_w + ow) * g->out_c;
      for (int kh = 0; kh < g->k_h; kh++) {
        int ih = tap(oh, kh, g->stride_h, g->dil_h, g->pad_top, g->in_h);
        if (ih < 0)
          continue;
        for (int kw = 0; kw < g->k_w; kw++) {
          int iw = tap(ow, kw, g->stride_w, g->dil_w, g->pad_left, g->in_w);
          if (iw < 0)
            continue;
          const int16_t *xp = x + ((ptrdiff_t)(ih - b->in_row0) * g->in_w + iw) * g->in_c;
          const int16_t *wk = w + ((ptrdiff_t)kh * g->k_w + kw) * tap_w;
          int ic = b->ic0;
          for (; ic + 1 < b->ic1; ic += 2) {
            int32_t x0 = xp[ic], x1 = xp[ic + 1];
            const int16_t *w0 = wk + (ptrdiff_t)ic * g->out_c, *w1 = w0 + g->out_c;
            for (int oc = b->oc0; oc < b->oc1; oc++) {
              int64_t a = o[oc];
              a += x0 * w0[oc];
              a += x1 * w1[oc];
              o[oc] = a;
            }
          }
          if (ic < b->ic1) {
            int32_t x0 = xp[ic];
            const int16_t *w0 = wk + (ptrdiff_t)ic * g->out_c;
            for (int oc = b->oc0; oc < b->oc1; oc++)
              o[oc] += x0 * w0[oc];
          }
        }
      }
    }
}

SPD_FX_HOT void spd_fx_conv_backward_input_block(int64_t *dx, const int16_t *dz, const int16_t *w,
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

SPD_FX_HOT void spd_fx_conv_grad_block(int64_t *gw, const int16_t *x, const int16_t *dz,
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

/* Per window, each tap's input offset once (not once per channel), then
 * a pass over the channels: the first tap inside the input sets y and
 * argmax, a later one replaces them only when strictly greater (the first
 * maximum wins, in (kh, kw) order). */
SPD_FX_HOT void spd_fx_maxpool_forward(int16_t *y, int32_t *argmax, const int16_t *x,
                            const spd_fx_window_t *g) {
  const int C = g->in_c;
  for (int oh = 0; oh < g->out_h; oh++)
    for (int ow = 0; ow < g->out_w; ow++) {
      ptrdiff_t o = ((ptrdiff_t)oh * g->out_w + ow) * g->out_c;
      int16_t *yo = y + o;
      int32_t *ao = argmax + o;
      bool any = false;
      for (int kh = 0; kh < g->k_h; kh++) {
        int ih = tap(oh, kh, g->stride_h, g->dil_h, g->pad_top, g->in_h);
        if (ih < 0)
          continue;
        for (int kw = 0; kw < g->k_w; kw++) {
          int iw = tap(ow, kw, g->stride_w, g->dil_w, g->pad_left, g->in_w);
          if (iw < 0)
            continue;
          int32_t at = (int32_t)(((ptrdiff_t)ih * g->in_w + iw) * C);
          const int16_t *xp = x + at;
          if (!any) {
            for (int c = 0; c < C; c++) {
              yo[c] = xp[c];
              ao[c] = at + c;
            }
            any = true;
            continue;
          }
          for (int c = 0; c < C; c++)
            if (xp[c] > yo[c]) {
              yo[c] = xp[c];
              ao[c] = at + c;
            }
        }
      }
      for (int c = 0; !any && c < C; c++) {
        yo[c] = 0;
        ao[c] = -1;
      }
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
