/* Deterministic counter-based RNG: Philox4x32-10 (Salmon et al., SC'11).
 * The n-th output depends only on (seed, stream, n), so every host, thread
 * count and run draws the same numbers, and a kernel on a core can draw the
 * same stream as the host reference by knowing its counter. */
#ifndef SPINDLE_RNG_H
#define SPINDLE_RNG_H

#include <stdint.h>

typedef struct spd_rng {
  uint32_t key[2];     /* seed */
  uint64_t counter;    /* block counter within the stream */
  uint32_t stream;     /* independent sub-stream id */
  uint32_t block[4];   /* current block of outputs */
  uint32_t used;       /* outputs of block already consumed (4 = empty) */
} spd_rng_t;

/** Initialise a generator for (seed, stream) at counter 0. */
void spd_rng_init(spd_rng_t *rng, uint64_t seed, uint32_t stream);

/** One Philox4x32-10 block for (key, counter, stream): the stateless core. */
void spd_philox4x32(const uint32_t key[2], uint64_t counter, uint32_t stream,
                    uint32_t out[4]);

uint32_t spd_rng_u32(spd_rng_t *rng);
uint64_t spd_rng_u64(spd_rng_t *rng);
/** Uniform float in [0, 1) with 24 random bits. */
float spd_rng_uniform(spd_rng_t *rng);
/** Uniform double in [0, 1) with 53 random bits. */
double spd_rng_uniform_double(spd_rng_t *rng);
/** Uniform integer in [0, bound) without modulo bias; bound > 0. */
uint32_t spd_rng_below(spd_rng_t *rng, uint32_t bound);
/** Standard normal (Box-Muller on two uniform doubles). */
double spd_rng_normal(spd_rng_t *rng);
/** Fisher-Yates shuffle of @p n indices. */
void spd_rng_shuffle_u32(spd_rng_t *rng, uint32_t *items, uint32_t n);

#endif
