/* MaxPooling, AveragePooling (1-D as 2-D with one row) and
 * GlobalAveragePooling2D. Windows are clipped to the input, which is what
 * TensorFlow's SAME padding means for pooling: padded positions never win a
 * max and are not counted in an average. */

#include "spindle/reference.h"

/* The window of output (oh, ow) clipped to the input: rows [h0, h1), columns
 * [w0, w1). */
typedef struct window {
  int h0, h1, w0, w1;
} window_t;

static window_t window_at(const spd_window_params_t *p, int oh, int ow) {
  window_t w;
  w.h0 = oh * p->stride_h - p->pad_top;
  w.w0 = ow * p->stride_w - p->pad_left;
  w.h1 = w.h0 + p->k_h;
  w.w1 = w.w0 + p->k_w;
  w.h0 = w.h0 < 0 ? 0 : w.h0;
  w.w0 = w.w0 < 0 ? 0 : w.w0;
  w.h1 = w.h1 > p->in_h ? p->in_h : w.h1;
  w.w1 = w.w1 > p->in_w ? p->in_w : w.w1;
  return w;
}

static size_t in_index(const spd_window_params_t *p, int n, int h, int w, int c) {
  return (((size_t)n * p->in_h + h) * p->in_w + w) * p->in_c + c;
}

static size_t out_index(const spd_window_params_t *p, int n, int h, int w, int c) {
  return (((size_t)n * p->out_h + h) * p->out_w + w) * p->out_c + c;
}

/* Index of the first maximum of the window (row-major scan, as TensorFlow
 * and PyTorch pick it). */
static size_t window_argmax(const float *in, const spd_window_params_t *p, int n, window_t w,
                            int c) {
  size_t best = in_index(p, n, w.h0, w.w0, c);
  for (int h = w.h0; h < w.h1; h++)
    for (int x = w.w0; x < w.w1; x++) {
      size_t at = in_index(p, n, h, x, c);
      if (in[at] > in[best])
        best = at;
    }
  return best;
}

void spd_maxpool_forward(float *out, const float *in, const spd_window_params_t *p) {
  for (int n = 0; n < p->batch; n++)
    for (int oh = 0; oh < p->out_h; oh++)
      for (int ow = 0; ow < p->out_w; ow++) {
        window_t w = window_at(p, oh, ow);
        for (int c = 0; c < p->in_c; c++)
          out[out_index(p, n, oh, ow, c)] = in[window_argmax(in, p, n, w, c)];
      }
}

void spd_maxpool_backward(float *din, const float *dout, const float *in,
                          const spd_window_params_t *p) {
  for (int n = 0; n < p->batch; n++)
    for (int oh = 0; oh < p->out_h; oh++)
      for (int ow = 0; ow < p->out_w; ow++) {
        window_t w = window_at(p, oh, ow);
        for (int c = 0; c < p->in_c; c++)
          din[window_argmax(in, p, n, w, c)] += dout[out_index(p, n, oh, ow, c)];
      }
}

void spd_avgpool_forward(float *out, const float *in, const spd_window_params_t *p) {
  for (int n = 0; n < p->batch; n++)
    for (int oh = 0; oh < p->out_h; oh++)
      for (int ow = 0; ow < p->out_w; ow++) {
        window_t w = window_at(p, oh, ow);
        float count = (float)((w.h1 - w.h0) * (w.w1 - w.w0));
        for (int c = 0; c < p->in_c; c++) {
          float sum = 0.0f;
          for (int h = w.h0; h < w.h1; h++)
            for (int x = w.w0; x < w.w1; x++)
              sum += in[in_index(p, n, h, x, c)];
          out[out_index(p, n, oh, ow, c)] = sum / count;
        }
      }
}

void spd_avgpool_backward(float *din, const float *dout, const spd_window_params_t *p) {
  for (int n = 0; n < p->batch; n++)
    for (int oh = 0; oh < p->out_h; oh++)
      for (int ow = 0; ow < p->out_w; ow++) {
        window_t w = window_at(p, oh, ow);
        float count = (float)((w.h1 - w.h0) * (w.w1 - w.w0));
        for (int c = 0; c < p->in_c; c++) {
          float share = dout[out_index(p, n, oh, ow, c)] / count;
          for (int h = w.h0; h < w.h1; h++)
            for (int x = w.w0; x < w.w1; x++)
              din[in_index(p, n, h, x, c)] += share;
        }
      }
}

void spd_gap_forward(float *out, const float *in, const spd_gap_params_t *p) {
  for (int n = 0; n < p->batch; n++)
    for (int c = 0; c < p->channels; c++) {
      float sum = 0.0f;
      for (int i = 0; i < p->positions; i++)
        sum += in[((size_t)n * p->positions + i) * p->channels + c];
      out[(size_t)n * p->channels + c] = sum / (float)p->positions;
    }
}

void spd_gap_backward(float *din, const float *dout, const spd_gap_params_t *p) {
  for (int n = 0; n < p->batch; n++)
    for (int c = 0; c < p->channels; c++) {
      float share = dout[(size_t)n * p->channels + c] / (float)p->positions;
      for (int i = 0; i < p->positions; i++)
        din[((size_t)n * p->positions + i) * p->channels + c] += share;
    }
}
