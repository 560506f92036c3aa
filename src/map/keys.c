/* Key allocation: one contiguous, aligned, power-of-two key block per net.
 *
 * Zoned layout first (PACMAN's zoned allocator, SPINNAKER.md §8): the nets of
 * one group share a region  | region | index | atom |  whose atom field is
 * sized by the group's largest net, so the group's blocks differ only in the
 * index bits and a chip that routes all of them the same way can merge them
 * into one entry. Regions are power-of-two sized and placed largest first,
 * so each lands aligned to its size with no gaps. If the zoned layout
 * overflows the 32-bit space, every net instead gets the smallest block that
 * holds it, placed the same way (it wastes nothing, so it fits whenever
 * anything does). */
#include <stdlib.h>

#include "spindle/map_route.h"

#define KEY_SPACE (UINT64_C(1) << 32)

/* A unit to place: a group's region or a single net's block. */
typedef struct key_unit {
  uint64_t size;     /* power of two */
  uint32_t first;    /* first position in the sorted net order */
  uint32_t count;    /* nets in the unit */
  uint32_t atom_log; /* log2 of each net's block size */
} key_unit_t;

static uint32_t ceil_log2(uint64_t v) {
  uint32_t b = 0;
  while ((UINT64_C(1) << b) < v)
    b++;
  return b;
}

/* Net indices sorted by (group, index); qsort has no context argument, so
 * the group travels with the index instead of through a global. */
typedef struct net_ref {
  uint32_t group;
  uint32_t index;
} net_ref_t;

static int cmp_net_ref(const void *a, const void *b) {
  const net_ref_t *x = a, *y = b;
  if (x->group != y->group)
    return x->group < y->group ? -1 : 1;
  return x->index < y->index ? -1 : (x->index > y->index);
}

/* Largest units first; ties keep the earlier unit first (stable and
 * deterministic). */
static int cmp_unit(const void *a, const void *b) {
  const key_unit_t *x = a, *y = b;
  if (x->size != y->size)
    return x->size > y->size ? -1 : 1;
  return x->first < y->first ? -1 : (x->first > y->first);
}

/* One unit per group: count and atom size from its largest net. */
static uint32_t zoned_units(const spd_map_net_t *nets, const net_ref_t *refs, uint32_t n,
                            key_unit_t *units) {
  uint32_t n_units = 0;
  for (uint32_t i = 0; i < n;) {
    uint32_t j = i, max_keys = 0;
    while (j < n && refs[j].group == refs[i].group) {
      uint32_t k = nets[refs[j].index].n_keys;
      max_keys = k > max_keys ? k : max_keys;
      j++;
    }
    uint32_t atom_log = ceil_log2(max_keys);
    uint32_t index_log = ceil_log2(j - i);
    uint32_t total_log = atom_log + index_log;
    units[n_units++] = (key_unit_t){total_log >= 64 ? UINT64_MAX : UINT64_C(1) << total_log,
                                    i, j - i, atom_log};
    i = j;
  }
  return n_units;
}

/* One unit per net, each the smallest power of two holding it. */
static uint32_t packed_units(const spd_map_net_t *nets, const net_ref_t *refs, uint32_t n,
                             key_unit_t *units) {
  for (uint32_t i = 0; i < n; i++) {
    uint32_t atom_log = ceil_log2(nets[refs[i].index].n_keys);
    units[i] = (key_unit_t){UINT64_C(1) << atom_log, i, 1, atom_log};
  }
  return n;
}

static uint64_t units_total(const key_unit_t *units, uint32_t n_units) {
  uint64_t total = 0;
  for (uint32_t u = 0; u < n_units; u++) {
    if (units[u].size > KEY_SPACE - total)
      return KEY_SPACE + 1;
    total += units[u].size;
  }
  return total;
}

/* Place sorted units back to back; sizes descend, so each base is a
 * multiple of its unit's size. */
static void place_units(const spd_map_net_t *nets, const net_ref_t *refs,
                        const key_unit_t *units, uint32_t n_units, spd_key_block_t *out) {
  uint64_t base = 0;
  for (uint32_t u = 0; u < n_units; u++) {
    const key_unit_t *k = &units[u];
    for (uint32_t i = 0; i < k->count; i++) {
      uint32_t net = refs[k->first + i].index;
      uint64_t block = UINT64_C(1) << k->atom_log;
      out[net].base = (uint32_t)(base + (uint64_t)i * block);
      out[net].mask = (uint32_t)~(block - 1u);
      out[net].n_keys = nets[net].n_keys;
    }
    base += k->size;
  }
}

static uint64_t layout(const spd_map_net_t *nets, const net_ref_t *refs, uint32_t n,
                       key_unit_t *units, bool zoned, uint32_t *n_units) {
  *n_units = zoned ? zoned_units(nets, refs, n, units) : packed_units(nets, refs, n, units);
  qsort(units, *n_units, sizeof *units, cmp_unit);
  return units_total(units, *n_units);
}

int spd_map_keys_allocate(spd_ctx_t *ctx, const spd_map_net_t *nets, uint32_t n,
                          spd_key_block_t *out) {
  for (uint32_t i = 0; i < n; i++)
    if (nets[i].n_keys == 0)
      return spd_ctx_fail(ctx, SPD_EINVAL,
                          "keys: net %u (source chip (%u,%u) core %u) has no keys", i,
                          nets[i].source.x, nets[i].source.y, nets[i].source.core);
  if (n == 0)
    return 0;
  net_ref_t *refs = spd_calloc(ctx, n, sizeof *refs);
  key_unit_t *units = spd_calloc(ctx, n, sizeof *units);
  if (!refs || !units) {
    spd_free(ctx, refs);
    spd_free(ctx, units);
    return spd_ctx_fail(ctx, SPD_ENOMEM, "keys: out of memory for %u nets", n);
  }
  for (uint32_t i = 0; i < n; i++)
    refs[i] = (net_ref_t){nets[i].group, i};
  qsort(refs, n, sizeof *refs, cmp_net_ref);

  uint32_t n_units;
  uint64_t total = layout(nets, refs, n, units, true, &n_units);
  if (total > KEY_SPACE)
    total = layout(nets, refs, n, units, false, &n_units);
  int rc = 0;
  if (total > KEY_SPACE) {
    uint64_t need = 0;
    for (uint32_t u = 0; u < n_units; u++)
      need += units[u].size;
    rc = spd_ctx_fail(ctx, SPD_ERANGE,
                      "keys: %u nets need %llu keys in power-of-two blocks; the 32-bit "
                      "key space holds %llu",
                      n, (unsigned long long)need, (unsigned long long)KEY_SPACE);
  } else {
    place_units(nets, refs, units, n_units, out);
  }
  spd_free(ctx, refs);
  spd_free(ctx, units);
  return rc;
}
