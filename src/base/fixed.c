#include "spindle/fixed.h"

#include <math.h>

static int64_t scale_round(float x, int frac) {
  double scaled = floor(ldexp((double)x, frac) + 0.5);
  if (isnan(scaled))
    return 0;
  if (scaled > 9.2e18)
    return INT64_MAX;
  if (scaled < -9.2e18)
    return INT64_MIN;
  return (int64_t)scaled;
}

int32_t spd_fx_from_float32(float x, int frac, uint32_t *saturations) {
  return spd_fx_sat32(scale_round(x, frac), saturations);
}

int16_t spd_fx_from_float16(float x, int frac, uint32_t *saturations) {
  return spd_fx_sat16(scale_round(x, frac), saturations);
}

float spd_fx_to_float(int64_t v, int frac) { return (float)ldexp((double)v, -frac); }

static int64_t shl_sat64(int64_t v, int up, uint32_t *saturations) {
  if (up > 62 || v > (INT64_MAX >> up) || v < (INT64_MIN >> up)) {
    if (v == 0)
      return 0;
    spd_fx_count(saturations);
    return v > 0 ? INT64_MAX : INT64_MIN;
  }
  return v * ((int64_t)1 << up);
}

/* The 96-bit product a * c is held as hi * 2^32 + lo with hi signed 64-bit
 * and lo unsigned 32-bit. |a| < 2^62 and c < 2^32 keep |hi| below 2^62, so
 * adding the dither and its carry cannot overflow. */
int64_t spd_fx_mul64x32(int64_t a, uint32_t c, int shift, uint32_t random,
                        uint32_t *saturations) {
  if (shift < 0) {
    uint32_t overflowed = 0;
    int64_t whole = spd_fx_mul64x32(a, c, 0, 0, &overflowed);
    if (overflowed) {
      spd_fx_count(saturations);
      return whole;
    }
    return shl_sat64(whole, -shift, saturations);
  }
  int64_t a_hi = a >> 32; /* arithmetic shift: floor */
  uint32_t a_lo = (uint32_t)a;
  uint64_t low = (uint64_t)a_lo * c;
  int64_t hi = a_hi * (int64_t)c + (int64_t)(low >> 32);
  uint32_t lo = (uint32_t)low;
  if (shift >= 64) {
    /* floor((hi / 2^(shift-64) + random) / 2^32), with the inner floor
     * taken first: exact because random is a whole number at that scale,
     * and free of oversized shifts for any shift (past 126 the product is
     * below one part in 2^32 and only the dither decides). */
    int down = shift - 64 > 63 ? 63 : shift - 64;
    return ((hi >> down) + (int64_t)random) >> 32;
  }
  if (shift >= 32) {
    uint64_t dither = (uint64_t)random << (shift - 32);
    uint32_t sum = lo + (uint32_t)dither;
    hi += (int64_t)(dither >> 32) + (sum < lo);
    return hi >> (shift - 32);
  }
  uint64_t sum = (uint64_t)lo + (shift > 0 ? random >> (32 - shift) : 0u);
  hi += (int64_t)(sum >> 32);
  int up = 32 - shift;
  if (hi > (INT64_MAX >> up)) {
    spd_fx_count(saturations);
    return INT64_MAX;
  }
  if (hi < (INT64_MIN >> up)) {
    spd_fx_count(saturations);
    return INT64_MIN;
  }
  return hi * ((int64_t)1 << up) + (int64_t)((uint32_t)sum >> shift);
}

spd_fx_const_t spd_fx_const_from_double(double x) {
  spd_fx_const_t k = {0, 0};
  if (!(x > 0.0) || !isfinite(x))
    return k;
  int exponent;
  double m = frexp(x, &exponent); /* x = m * 2^exponent, m in [0.5, 1) */
  double mant = floor(ldexp(m, 32) + 0.5);
  int shift = 32 - exponent;
  if (mant >= 4294967296.0) { /* rounding carried into bit 32 */
    mant = 2147483648.0;
    shift--;
  }
  k.mant = (uint32_t)mant;
  k.shift = shift;
  return k;
}

double spd_fx_const_value(spd_fx_const_t k) { return ldexp((double)k.mant, -k.shift); }

uint32_t spd_fx_isqrt64(uint64_t v) {
  uint64_t root = 0, bit = (uint64_t)1 << 62;
  while (bit > v)
    bit >>= 2;
  while (bit != 0) {
    if (v >= root + bit) {
      v -= root + bit;
      root = (root >> 1) + bit;
    } else {
      root >>= 1;
    }
    bit >>= 2;
  }
  return (uint32_t)root;
}

spd_fx_const_t spd_fx_const_from_u64(uint64_t v, int shift) {
  spd_fx_const_t k = {0, 0};
  if (v == 0)
    return k;
  int top = 63;
  while (!(v >> top))
    top--;
  if (top < 31)
    return (spd_fx_const_t){(uint32_t)(v << (31 - top)), shift + 31 - top};
  int drop = top - 31;
  /* Round half up without forming v + half, which can pass 2^64. */
  uint64_t mant = drop ? (v >> drop) + ((v >> (drop - 1)) & 1) : v;
  if (mant >> 32) { /* rounding carried into bit 32 */
    mant >>= 1;
    drop++;
  }
  return (spd_fx_const_t){(uint32_t)mant, shift - drop};
}
