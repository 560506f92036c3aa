/* Fixed-point helpers shared by the host reference executor and the kernels,
 * so both round and saturate identically (bit-identical results are a
 * promise: docs/numerics.md). All helpers are branch-light static inlines.
 *
 * A fixed-point tensor stores integers v with value v * 2^-frac, where frac
 * (the tensor's power-of-two scale) is fixed at map time. Storage types:
 *   spd_q16_t  16-bit values streamed through the MAC loop and in packets,
 *   spd_q32_t  32-bit master weights, biases and optimizer state,
 *   spd_acc_t  64-bit accumulators (a 16x16-bit product fits 31 bits, so
 *              2^32 of them can be summed before overflow is possible).
 * Rounding: to nearest, ties toward +infinity (add half an LSB, then an
 * arithmetic shift), or stochastic (add a uniform random fraction of an LSB,
 * then shift). Saturation clamps to the type's range and counts one event in
 * an optional counter, so saturation is reported, never silent. */
#ifndef SPINDLE_FIXED_H
#define SPINDLE_FIXED_H

#include <stdint.h>

typedef int16_t spd_q16_t;
typedef int32_t spd_q32_t;
typedef int64_t spd_acc_t;

/* Formats that do not depend on the model (docs/numerics.md): master
 * weights and biases, first-order optimizer state (SGD velocity, Adam m,
 * RMSprop momentum and mean gradient) and second moments (Adam v, RMSprop
 * mean square, int64). The SGD and momentum updates add state to master
 * weights directly, so the first two must stay equal. */
#define SPD_FX_MASTER_FRAC 24   /* int32 s7.24 */
#define SPD_FX_STATE_FRAC 24    /* int32 s7.24 */
#define SPD_FX_SECOND_FRAC 48   /* int64 s15.48 */

/* spin1's `accum` (s16.15, GCC TR 18037) for reference and for kernels that
 * want a fixed format: SPINNAKER.md #27. */
#define SPD_FRAC_S1615 15

static inline void spd_fx_count(uint32_t *saturations) {
  if (saturations)
    (*saturations)++;
}

/** Clamp @p v to int32, counting a saturation. */
static inline int32_t spd_fx_sat32(int64_t v, uint32_t *saturations) {
  if (v > INT32_MAX) {
    spd_fx_count(saturations);
    return INT32_MAX;
  }
  if (v < INT32_MIN) {
    spd_fx_count(saturations);
    return INT32_MIN;
  }
  return (int32_t)v;
}

/** Clamp @p v to int16, counting a saturation. */
static inline int16_t spd_fx_sat16(int64_t v, uint32_t *saturations) {
  if (v > INT16_MAX) {
    spd_fx_count(saturations);
    return INT16_MAX;
  }
  if (v < INT16_MIN) {
    spd_fx_count(saturations);
    return INT16_MIN;
  }
  return (int16_t)v;
}

/** Arithmetic shift by @p shift bits: right with round-to-nearest (ties up)
 *  when positive, left when negative. |shift| < 63. The left shift is done as
 *  a multiply so it is defined for negative values. */
static inline int64_t spd_fx_shift_round(int64_t v, int shift) {
  if (shift > 0)
    return (v + ((int64_t)1 << (shift - 1))) >> shift;
  if (shift < 0)
    return v * ((int64_t)1 << -shift);
  return v;
}

/** Right shift by @p shift (0..32) with stochastic rounding: the discarded
 *  fraction rounds up with probability equal to its size, using the top bits
 *  of the uniform random word @p random. Unbiased in expectation. */
static inline int64_t spd_fx_shift_stochastic(int64_t v, int shift, uint32_t random) {
  if (shift <= 0)
    return spd_fx_shift_round(v, shift);
  int64_t dither = (int64_t)((uint64_t)random >> (32 - shift));
  return (v + dither) >> shift;
}

/** Saturating 64-bit add, counting a saturation: optimizer steps can reach
 *  the int64 limits when a learning rate is extreme. */
static inline int64_t spd_fx_add64(int64_t a, int64_t b, uint32_t *saturations) {
  if (b > 0 && a > INT64_MAX - b) {
    spd_fx_count(saturations);
    return INT64_MAX;
  }
  if (b < 0 && a < INT64_MIN - b) {
    spd_fx_count(saturations);
    return INT64_MIN;
  }
  return a + b;
}

/** Saturating 64-bit subtract (a - b), counting a saturation. */
static inline int64_t spd_fx_sub64(int64_t a, int64_t b, uint32_t *saturations) {
  if (b == INT64_MIN) {
    if (a >= 0) {
      spd_fx_count(saturations);
      return INT64_MAX;
    }
    return a - INT64_MIN / 2 - INT64_MIN / 2; /* a < 0: exact, no overflow */
  }
  return spd_fx_add64(a, -b, saturations);
}

/** Saturating 32-bit add. */
static inline int32_t spd_fx_add32(int32_t a, int32_t b, uint32_t *saturations) {
  return spd_fx_sat32((int64_t)a + b, saturations);
}

/** Product of a (frac fa) and b (frac fb) in frac @p fout, rounded to
 *  nearest and saturated to 32 bits. */
static inline int32_t spd_fx_mul32(int32_t a, int fa, int32_t b, int fb, int fout,
                                   uint32_t *saturations) {
  int64_t product = (int64_t)a * b;
  return spd_fx_sat32(spd_fx_shift_round(product, fa + fb - fout), saturations);
}

/** Requantise a value of frac @p from to frac @p to and 16 bits. */
static inline int16_t spd_fx_to16(int64_t v, int from, int to, uint32_t *saturations) {
  return spd_fx_sat16(spd_fx_shift_round(v, from - to), saturations);
}

/** Requantise a value of frac @p from to frac @p to and 32 bits. */
static inline int32_t spd_fx_to32(int64_t v, int from, int to, uint32_t *saturations) {
  return spd_fx_sat32(spd_fx_shift_round(v, from - to), saturations);
}

/* Host-side conversions (the kernels never touch float in fixed mode). */

/** Round x * 2^frac to the nearest integer (ties up), saturated to 32 bits. */
int32_t spd_fx_from_float32(float x, int frac, uint32_t *saturations);
/** As spd_fx_from_float32, saturated to 16 bits. */
int16_t spd_fx_from_float16(float x, int frac, uint32_t *saturations);
/** v * 2^-frac as float. */
float spd_fx_to_float(int64_t v, int frac);

/* Scaled multiplies by map-time constants. A constant c is stored as an
 * unsigned 32-bit mantissa and a shift, value = mant * 2^-shift, so a kernel
 * multiplies by it with integer instructions only (no divide, no float). The
 * host builds them with spd_fx_const_from_double at map time. */
typedef struct spd_fx_const {
  uint32_t mant;   /* normalised to [2^31, 2^32) unless the value is 0 */
  int32_t shift;   /* value = mant * 2^-shift */
} spd_fx_const_t;

/** The random word that makes a stochastic rounding round to nearest, ties
 *  toward +infinity: half an LSB is added before the floor. */
#define SPD_FX_ROUND_NEAREST 0x80000000u

/** floor((a * c + dither) / 2^shift) for int64 @p a, uint32 @p c and any
 *  @p shift (a negative shift multiplies by 2^-shift, saturating; a shift
 *  past 94 leaves a product below one LSB, so the dither alone rounds it),
 *  where the dither is the 32-bit word @p random placed
 *  just below the rounding point (random * 2^(shift-32), or its top @p shift
 *  bits when shift < 32). With random = SPD_FX_ROUND_NEAREST this is
 *  round-to-nearest, ties up; with a uniform random word it is stochastic
 *  rounding. The 96-bit product is formed from 32-bit halves, because the
 *  ARM968 has no 128-bit type and this must match it bit for bit. Requires
 *  |a| < 2^62. Results beyond int64 saturate and count. */
int64_t spd_fx_mul64x32(int64_t a, uint32_t c, int shift, uint32_t random,
                        uint32_t *saturations);

/** a * k rescaled from frac @p from to frac @p to: spd_fx_mul64x32 with the
 *  constant's shift plus (from - to). */
static inline int64_t spd_fx_mul_const(int64_t a, spd_fx_const_t k, int from, int to,
                                       uint32_t random, uint32_t *saturations) {
  return spd_fx_mul64x32(a, k.mant, k.shift + from - to, random, saturations);
}

/** Map-time conversion of a non-negative @p x to a normalised constant
 *  (mantissa rounded to nearest). x = 0 gives {0, 0}. Negative or non-finite
 *  x gives {0, 0} as well; callers validate their hyperparameters first. */
spd_fx_const_t spd_fx_const_from_double(double x);
/** The constant v * 2^-shift for an unsigned 64-bit @p v, normalised with
 *  integer operations only (one rounding to nearest when v has more than 32
 *  significant bits), so a kernel can turn a per-batch statistic into a
 *  multiplier. v = 0 gives {0, 0}. */
spd_fx_const_t spd_fx_const_from_u64(uint64_t v, int shift);
/** The constant's value, for tests and reports. */
double spd_fx_const_value(spd_fx_const_t k);

/** floor(sqrt(v)) exactly, by the bit-by-bit method (no divide, no float). */
uint32_t spd_fx_isqrt64(uint64_t v);

#endif
