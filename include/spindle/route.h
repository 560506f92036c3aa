/* Multicast routing entries: the one type the mapper writes and the emulated
 * (or real) router reads. Semantics follow the SpiNNaker1 router
 * (SPINNAKER.md §2, #10, #11):
 *   - an entry is (key, mask, route); a packet key k hits it when
 *     (k & mask) == key;
 *   - a key bit set where the mask bit is 0 makes the entry dead: it can never
 *     hit (this falls out of the rule above);
 *   - when several entries hit, the lowest index wins;
 *   - the route word's bits 0..5 are the links E NE N W SW S, bits 6..23 the
 *     physical cores 0..17 of the chip. */
#ifndef SPINDLE_ROUTE_H
#define SPINDLE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* SPINNAKER.md #11: 24-bit route word, 6 link bits then 18 core bits. */
#define SPD_ROUTE_LINK_BITS 6
#define SPD_ROUTE_CORE_BITS 18
#define SPD_ROUTE_LINKS_MASK 0x3Fu
#define SPD_ROUTE_CORES_MASK 0xFFFFC0u
#define SPD_ROUTE_WORD_MASK 0xFFFFFFu

typedef struct spd_route_entry {
  uint32_t key;
  uint32_t mask;
  uint32_t route; /* bits 0..5 links, 6..23 cores 0..17 */
} spd_route_entry_t;

/** Route bit of link @p link (0..5: E NE N W SW S). */
static inline uint32_t spd_route_link(unsigned link) { return 1u << link; }

/** Route bit of physical core @p core (0..17). */
static inline uint32_t spd_route_core(unsigned core) {
  return 1u << (SPD_ROUTE_LINK_BITS + core);
}

/** The link bits (0..5) of a route word. */
static inline uint32_t spd_route_links(uint32_t route) {
  return route & SPD_ROUTE_LINKS_MASK;
}

/** The core bits of a route word, shifted down so bit c is core c. */
static inline uint32_t spd_route_cores(uint32_t route) {
  return (route & SPD_ROUTE_CORES_MASK) >> SPD_ROUTE_LINK_BITS;
}

/** Build an entry; bits of @p key outside @p mask are kept, so such an entry
 *  is dead exactly as on the hardware. */
static inline spd_route_entry_t spd_route_entry(uint32_t key, uint32_t mask,
                                                uint32_t route) {
  spd_route_entry_t e = {key, mask, route & SPD_ROUTE_WORD_MASK};
  return e;
}

/** True when packet key @p k hits entry @p e. */
static inline bool spd_route_entry_hits(const spd_route_entry_t *e, uint32_t k) {
  return (k & e->mask) == e->key;
}

/** True when the entry can never hit (a key bit outside its mask). */
static inline bool spd_route_entry_dead(const spd_route_entry_t *e) {
  return (e->key & ~e->mask) != 0;
}

/** Index of the first (lowest-index) entry of @p table[0..n) hit by @p key,
 *  or -1 when none hits. */
static inline long spd_route_lookup(const spd_route_entry_t *table, size_t n,
                                    uint32_t key) {
  for (size_t i = 0; i < n; i++)
    if (spd_route_entry_hits(&table[i], key))
      return (long)i;
  return -1;
}

#endif
