#include "spindle/rng.h"

#include <math.h>

/* Philox4x32 constants from Salmon et al., "Parallel random numbers: as easy
 * as 1, 2, 3" (SC'11), as used by Random123. */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static void mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo) {
  uint64_t product = (uint64_t)a * b;
  *hi = (uint32_t)(product >> 32);
  *lo = (uint32_t)product;
}

void spd_philox4x32(const uint32_t key[2], uint64_t counter, uint32_t stream,
                    uint32_t out[4]) {
  uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32);
  uint32_t c2 = stream, c3 = 0;
  uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; round++) {
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(PHILOX_M0, c0, &hi0, &lo0);
    mulhilo(PHILOX_M1, c2, &hi1, &lo1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0;
    c1 = n1;
    c2 = n2;
    c3 = n3;
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

void spd_rng_init(spd_rng_t *rng, uint64_t seed, uint32_t stream) {
  rng->key[0] = (uint32_t)seed;
  rng->key[1] = (uint32_t)(seed >> 32);
  rng->counter = 0;
  rng->stream = stream;
  rng->used = 4;
}

uint32_t spd_rng_u32(spd_rng_t *rng) {
  if (rng->used == 4) {
    spd_philox4x32(rng->key, rng->counter++, rng->stream, rng->block);
    rng->used = 0;
  }
  return rng->block[rng->used++];
}

uint64_t spd_rng_u64(spd_rng_t *rng) {
  uint64_t hi = spd_rng_u32(rng);
  return (hi << 32) | spd_rng_u32(rng);
}

float spd_rng_uniform(spd_rng_t *rng) {
  return (float)(spd_rng_u32(rng) >> 8) * (1.0f / 16777216.0f);
}

double spd_rng_uniform_double(spd_rng_t *rng) {
  return (double)(spd_rng_u64(rng) >> 11) * (1.0 / 9007199254740992.0);
}

uint32_t spd_rng_below(spd_rng_t *rng, uint32_t bound) {
  /* Rejection of the short final interval keeps the draw unbiased. */
  uint32_t limit = UINT32_MAX - UINT32_MAX % bound;
  uint32_t r;
  do {
    r = spd_rng_u32(rng);
  } while (r >= limit);
  return r % bound;
}

double spd_rng_normal(spd_rng_t *rng) {
  double u1 = spd_rng_uniform_double(rng);
  double u2 = spd_rng_uniform_double(rng);
  /* 1 - u1 lies in (0, 1], so the logarithm is finite. */
  return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

void spd_rng_shuffle_u32(spd_rng_t *rng, uint32_t *items, uint32_t n) {
  for (uint32_t i = n; i > 1; i--) {
    uint32_t j = spd_rng_below(rng, i);
    uint32_t tmp = items[i - 1];
    items[i - 1] = items[j];
    items[j] = tmp;
  }
}
