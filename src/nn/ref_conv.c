/* Conv1D/Conv2D forward and backward in channels_last, one code path: a 1-D
 * convolution is a 2-D one with a single row. Padding is virtual (windows
 * skip positions outside the input), so SAME padding costs no copy.
 * The inner loops run along contiguous outputs; GCC 12 at -O2 only
 * vectorises loops without an epilogue, so ask for its dynamic cost model
 * here (4x faster training). Each output element still sums in the same
 * order (no reassociation, no contraction on x86-64), so results are
 * unchanged bit for bit. */
#pragma GCC optimize("vect-cost-model=dynamic")

#include <string.h>

#include "spindle/reference.h"

/* Input row/column of kernel tap @p k for output position @p o, or -1 when it
 * falls in the padding. */
static int tap(int o, int k, int stride, int dil, int pad, int n) {
  int i = o * stride + k * dil - pad;
  return i >= 0 && i < n ? i : -1;
}

static int groups_of(const spd_window_params_t *p) { return p->groups > 1 ? p->groups : 1; }

/* Group g reads input channels [g*cin_g, (g+1)*cin_g) and writes outputs
 * [g*cout_g, (g+1)*cout_g); with one group this is the plain loop. */
static void conv_pixel_forward(float *o, const float *in_b, const float *w,
                               const spd_window_params_t *p, int oh, int ow) {
  const int groups = groups_of(p), cin_g = p->in_c / groups, cout_g = p->out_c / groups;
  for (int kh = 0; kh < p->k_h; kh++) {
    int ih = tap(oh, kh, p->stride_h, p->dil_h, p->pad_top, p->in_h);
    if (ih < 0)
      continue;
    for (int kw = 0; kw < p->k_w; kw++) {
      int iw = tap(ow, kw, p->stride_w, p->dil_w, p->pad_left, p->in_w);
      if (iw < 0)
        continue;
      const float *x = in_b + ((size_t)ih * p->in_w + iw) * p->in_c;
      const float *wk = w + ((size_t)kh * p->k_w + kw) * cin_g * p->out_c;
      for (int g = 0; g < groups; g++)
        for (int ic = 0; ic < cin_g; ic++) {
          const float xi = x[g * cin_g + ic];
          const float *wrow = wk + (size_t)ic * p->out_c;
          for (int oc = g * cout_g; oc < (g + 1) * cout_g; oc++)
            o[oc] += xi * wrow[oc];
        }
    }
  }
}

void spd_conv_forward(float *out, const float *in, const float *w, const float *b,
                      const spd_window_params_t *p) {
  size_t in_size = (size_t)p->in_h * p->in_w * p->in_c;
  for (int n = 0; n < p->batch; n++) {
    const float *in_b = in + n * in_size;
    for (int oh = 0; oh < p->out_h; oh++) {
      for (int ow = 0; ow < p->out_w; ow++) {
        float *o = out + (((size_t)n * p->out_h + oh) * p->out_w + ow) * p->out_c;
        if (b)
          memcpy(o, b, (size_t)p->out_c * sizeof *o);
        else
          memset(o, 0, (size_t)p->out_c * sizeof *o);
        conv_pixel_forward(o, in_b, w, p, oh, ow);
      }
    }
  }
}

static void conv_pixel_backward(float *din_b, float *dw, const float *d, const float *in_b,
                                const float *w, const spd_window_params_t *p, int oh, int ow) {
  const int groups = groups_of(p), cin_g = p->in_c / groups, cout_g = p->out_c / groups;
  for (int kh = 0; kh < p->k_h; kh++) {
    int ih = tap(oh, kh, p->stride_h, p->dil_h, p->pad_top, p->in_h);
    if (ih < 0)
      continue;
    for (int kw = 0; kw < p->k_w; kw++) {
      int iw = tap(ow, kw, p->stride_w, p->dil_w, p->pad_left, p->in_w);
      if (iw < 0)
        continue;
      size_t at = ((size_t)ih * p->in_w + iw) * p->in_c;
      size_t k_at = ((size_t)kh * p->k_w + kw) * cin_g * p->out_c;
      for (int g = 0; g < groups; g++)
        for (int icg = 0; icg < cin_g; icg++) {
          const int ic = g * cin_g + icg, oc0 = g * cout_g, oc1 = oc0 + cout_g;
          const float *wrow = w + k_at + (size_t)icg * p->out_c;
          if (dw) {
            float *dwrow = dw + k_at + (size_t)icg * p->out_c;
            const float xi = in_b[at + ic];
            for (int oc = oc0; oc < oc1; oc++)
              dwrow[oc] += xi * d[oc];
          }
          if (din_b) {
            float sum = 0.0f;
            for (int oc = oc0; oc < oc1; oc++)
              sum += wrow[oc] * d[oc];
            din_b[at + ic] += sum;
          }
        }
    }
  }
}

void spd_conv_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                       const float *w, const spd_window_params_t *p) {
  size_t in_size = (size_t)p->in_h * p->in_w * p->in_c;
  for (int n = 0; n < p->batch; n++) {
    float *din_b = din ? din + n * in_size : NULL;
    for (int oh = 0; oh < p->out_h; oh++) {
      for (int ow = 0; ow < p->out_w; ow++) {
        const float *d = dout + (((size_t)n * p->out_h + oh) * p->out_w + ow) * p->out_c;
        if (db)
          for (int oc = 0; oc < p->out_c; oc++)
            db[oc] += d[oc];
        conv_pixel_backward(din_b, dw, d, in + n * in_size, w, p, oh, ow);
      }
    }
  }
}
