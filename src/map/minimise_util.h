/* Small helpers the minimisers share. */
#ifndef SPINDLE_MAP_MINIMISE_UTIL_H
#define SPINDLE_MAP_MINIMISE_UTIL_H

#include <stdbool.h>
#include <stdint.h>

/** True when two key/mask pairs match at least one common key (rig's
 *  routing_table.utils.intersect). */
static inline bool spd__km_intersect(uint32_t key_a, uint32_t mask_a, uint32_t key_b,
                                     uint32_t mask_b) {
  return (key_a & mask_b) == (key_b & mask_a);
}

/** Number of don't-care bits (X: key 0, mask 0) of a key/mask pair. */
static inline uint32_t spd__km_generality(uint32_t key, uint32_t mask) {
  return (uint32_t)__builtin_popcount(~key & ~mask);
}

#endif
