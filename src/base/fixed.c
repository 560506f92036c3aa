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
