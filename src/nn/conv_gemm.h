/* Convolution lowered to matrix products (im2col), the executor's fast path.
 * It computes every output and gradient element with the same terms in the
 * same order as spd_conv_forward/backward (the oracle), so the two agree
 * exactly (tests/test_ref_layers.c checks it); only padded taps contribute an
 * explicit +0. */
#ifndef SPINDLE_NN_CONV_GEMM_H
#define SPINDLE_NN_CONV_GEMM_H

#include "spindle/reference.h"

/** Floats of scratch memory the two functions need (one sample at a time). */
size_t spd__conv_gemm_scratch(const spd_window_params_t *p);

/* out (B, oh, ow, oc) = conv(in, w) + b, as spd_conv_forward. */
void spd__conv_gemm_forward(float *out, const float *in, const float *w, const float *b,
                            const spd_window_params_t *p, float *scratch);
/* As spd_conv_backward, except that dw receives its batch sum in one
 * addition (identical when dw starts at zero, as in the executor). */
void spd__conv_gemm_backward(float *din, float *dw, float *db, const float *dout,
                             const float *in, const float *w, const spd_window_params_t *p,
                             float *scratch);

#endif
