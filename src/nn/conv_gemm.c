/* Convolution as matrix products. With K = kh*kw*ic taps and P = oh*ow
 * output positions of one sample: the forward pass is outT (oc, P) = bias +
 * W^T (oc, K) colsT (K, P), whose inner loop runs over the P positions; the
 * backward pass forms dW^T (oc, K) += dout^T patches (P, K) and dpatches
 * (P, K) = dout W^T, whose inner loops run over the K taps, then scatters
 * dpatches back onto the input. Long contiguous inner loops are what the
 * vectoriser needs; the short channel loops of the direct form are not.
 * Same vectorisation note as ref_conv.c: summation orders are unchanged. */
#pragma GCC optimize("vect-cost-model=dynamic")

#include "nn/conv_gemm.h"

#include <string.h>

static size_t taps(const spd_window_params_t *p) { return (size_t)p->k_h * p->k_w * p->in_c; }
static size_t positions(const spd_window_params_t *p) { return (size_t)p->out_h * p->out_w; }

size_t spd__conv_gemm_scratch(const spd_window_params_t *p) {
  size_t k = taps(p), n = positions(p), oc = (size_t)p->out_c;
  size_t forward = k * n + oc * n, backward = 2 * n * k + 2 * oc * k;
  return forward > backward ? forward : backward;
}

/* Input offset of tap (kh, kw) for output (oh, ow), or -1 in the padding. */
static long tap_offset(const spd_window_params_t *p, int oh, int ow, int kh, int kw) {
  int ih = oh * p->stride_h + kh * p->dil_h - p->pad_top;
  int iw = ow * p->stride_w + kw * p->dil_w - p->pad_left;
  if (ih < 0 || ih >= p->in_h || iw < 0 || iw >= p->in_w)
    return -1;
  return ((long)ih * p->in_w + iw) * p->in_c;
}

/* colsT (K, P) of one sample: tap-major, so each write run is contiguous;
 * zero in the padding. */
static void gather_taps(float *cols, const float *in_b, const spd_window_params_t *p) {
  size_t n = positions(p);
  float *row = cols;
  for (int kh = 0; kh < p->k_h; kh++)
    for (int kw = 0; kw < p->k_w; kw++)
      for (int ic = 0; ic < p->in_c; ic++, row += n) {
        size_t pos = 0;
        for (int oh = 0; oh < p->out_h; oh++) {
          int ih = oh * p->stride_h + kh * p->dil_h - p->pad_top;
          if (ih < 0 || ih >= p->in_h) {
            memset(row + pos, 0, (size_t)p->out_w * sizeof *row);
            pos += (size_t)p->out_w;
            continue;
          }
          const float *src = in_b + (long)ih * p->in_w * p->in_c + ic;
          for (int ow = 0; ow < p->out_w; ow++, pos++) {
            int iw = ow * p->stride_w + kw * p->dil_w - p->pad_left;
            row[pos] = iw >= 0 && iw < p->in_w ? src[(long)iw * p->in_c] : 0.0f;
          }
        }
      }
}

/* patches (P, K) of one sample: position-major, one run of in_c channels
 * per tap; zero in the padding. */
static void gather_positions(float *patches, const float *in_b, const spd_window_params_t *p) {
  float *dst = patches;
  size_t run = (size_t)p->in_c * sizeof(float);
  for (int oh = 0; oh < p->out_h; oh++)
    for (int ow = 0; ow < p->out_w; ow++)
      for (int kh = 0; kh < p->k_h; kh++)
        for (int kw = 0; kw < p->k_w; kw++, dst += p->in_c) {
          long at = tap_offset(p, oh, ow, kh, kw);
          if (at < 0)
            memset(dst, 0, run);
          else
            memcpy(dst, in_b + at, run);
        }
}

/* din (one sample) += dpatches (P, K), skipping padded taps. */
static void scatter(float *din_b, const float *dpatch, const spd_window_params_t *p) {
  size_t pos = 0, k = taps(p);
  for (int oh = 0; oh < p->out_h; oh++)
    for (int ow = 0; ow < p->out_w; ow++, pos++) {
      const float *row = dpatch + pos * k;
      for (int kh = 0; kh < p->k_h; kh++)
        for (int kw = 0; kw < p->k_w; kw++, row += p->in_c) {
          long at = tap_offset(p, oh, ow, kh, kw);
          if (at < 0)
            continue;
          for (int ic = 0; ic < p->in_c; ic++)
            din_b[at + ic] += row[ic];
        }
    }
}

void spd__conv_gemm_forward(float *out, const float *in, const float *w, const float *b,
                            const spd_window_params_t *p, float *scratch) {
  size_t k = taps(p), n = positions(p), oc_n = (size_t)p->out_c;
  size_t in_size = (size_t)p->in_h * p->in_w * p->in_c;
  float *cols = scratch, *out_t = scratch + k * n;
  for (int s = 0; s < p->batch; s++) {
    gather_taps(cols, in + s * in_size, p);
    for (size_t oc = 0; oc < oc_n; oc++) {
      float *o = out_t + oc * n;
      float bias = b ? b[oc] : 0.0f;
      for (size_t i = 0; i < n; i++)
        o[i] = bias;
      for (size_t t = 0; t < k; t++) {
        const float wv = w[t * oc_n + oc], *row = cols + t * n;
        for (size_t i = 0; i < n; i++)
          o[i] += wv * row[i];
      }
    }
    float *out_b = out + s * n * oc_n;
    for (size_t i = 0; i < n; i++)
      for (size_t oc = 0; oc < oc_n; oc++)
        out_b[i * oc_n + oc] = out_t[oc * n + i];
  }
}

/* dw_t (oc, K) += d (P, oc)^T patches (P, K); dpatch (P, K) = d w_t. */
static void backward_products(float *dw_t, float *dpatch, const float *patches, const float *d,
                              const float *w_t, size_t n, size_t k, size_t oc_n) {
  for (size_t i = 0; i < n; i++) {
    const float *patch = patches + i * k;
    float *dp = dpatch ? dpatch + i * k : NULL;
    if (dp)
      memset(dp, 0, k * sizeof *dp);
    for (size_t oc = 0; oc < oc_n; oc++) {
      const float dv = d[i * oc_n + oc];
      if (dw_t) {
        float *row = dw_t + oc * k;
        for (size_t t = 0; t < k; t++)
          row[t] += patch[t] * dv;
      }
      if (dp) {
        const float *wrow = w_t + oc * k;
        for (size_t t = 0; t < k; t++)
          dp[t] += wrow[t] * dv;
      }
    }
  }
}

void spd__conv_gemm_backward(float *din, float *dw, float *db, const float *dout,
                             const float *in, const float *w, const spd_window_params_t *p,
                             float *scratch) {
  size_t k = taps(p), n = positions(p), oc_n = (size_t)p->out_c;
  size_t in_size = (size_t)p->in_h * p->in_w * p->in_c;
  float *patches = scratch, *dpatch = scratch + n * k;
  float *dw_t = dpatch + n * k, *w_t = dw_t + oc_n * k;
  for (size_t t = 0; t < k; t++)
    for (size_t oc = 0; oc < oc_n; oc++)
      w_t[oc * k + t] = w[t * oc_n + oc];
  memset(dw_t, 0, oc_n * k * sizeof *dw_t);
  for (int s = 0; s < p->batch; s++) {
    const float *d = dout + s * n * oc_n;
    if (db)
      for (size_t i = 0; i < n; i++)
        for (size_t oc = 0; oc < oc_n; oc++)
          db[oc] += d[i * oc_n + oc];
    if (dw)
      gather_positions(patches, in + s * in_size, p);
    backward_products(dw ? dw_t : NULL, din ? dpatch : NULL, patches, d, w_t, n, k, oc_n);
    if (din)
      scatter(din + s * in_size, dpatch, p);
  }
  if (dw)
    for (size_t t = 0; t < k; t++)
      for (size_t oc = 0; oc < oc_n; oc++)
        dw[t * oc_n + oc] += dw_t[oc * k + t];
}
