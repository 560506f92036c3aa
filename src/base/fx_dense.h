/* The fixed-point arithmetic of a Dense layer, written as a tile computes it:
 * a tile owns a block of rows x cols of the kernel W (row stride ld, Keras
 * layout W[in][out]), accumulates exact int64 partial sums, and a reducer
 * adds the partial sums of all tiles and rounds once. Integer addition is
 * associative, so any split of W into blocks and any order of reduction
 * gives the same bits (docs/numerics.md, "Bit identity"). The host
 * reference calls these with one block covering the whole matrix; the
 * kernels call them with their own block.
 *
 * Worst case: every product of two int16 values is at most 2^30 in
 * magnitude, so an int64 accumulator holds 2^33 of them: any layer width
 * and any batch of any size a SpiNNaker run can hold. */
#ifndef SPINDLE_BASE_FX_DENSE_H
#define SPINDLE_BASE_FX_DENSE_H

#include <stdint.h>

/** acc[c] += sum_r x[r] * w[r*ld + c], r < rows, c < cols: the forward
 *  partial sums of one tile (frac = x's frac + w's frac). */
void spd_fx_dense_forward_block(int64_t *acc, const int16_t *x, const int16_t *w, int rows,
                                int cols, int ld);

/** The reducer: z[c] = acc[c] + bias[c], rounded once from @p acc_frac to
 *  frac 16 and saturated to int32 (counted). @p bias is int32 at
 *  @p bias_frac or NULL. */
void spd_fx_dense_reduce(int32_t *z, const int64_t *acc, const int32_t *bias, int n,
                         int acc_frac, int bias_frac, uint32_t *saturations);

/** dx[r] += sum_c w[r*ld + c] * dz[c]: one tile's share of dX = W dZ
 *  (frac = w's frac + dz's frac). */
void spd_fx_dense_backward_input_block(int64_t *dx, const int16_t *dz, const int16_t *w,
                                       int rows, int cols, int ld);

/** gw[r*ld + c] += x[r] * dz[c]: one sample's kernel gradient for a tile's
 *  block, accumulated exactly over the batch (frac = x's + dz's). */
void spd_fx_dense_grad_block(int64_t *gw, const int16_t *x, const int16_t *dz, int rows,
                             int cols, int ld);

/** gb[c] += dz[c]: the bias gradient, exact (frac = dz's). */
void spd_fx_bias_grad(int64_t *gb, const int16_t *dz, int n);

/** out[i] = acc[i] rounded once from frac @p from to frac @p to, saturated to
 *  int16 (counted): how a reducer turns a full sum into a packet value. */
void spd_fx_round16(int16_t *out, const int64_t *acc, int n, int from, int to,
                    uint32_t *saturations);

#endif
