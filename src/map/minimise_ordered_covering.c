/* Ordered covering (Mundy; rig's routing_table/ordered_covering.py,
 * SPINNAKER.md §8). The table is kept sorted by generality (number of X
 * bits), so a more general entry always sits below the less general ones it
 * may overlap. A merge turns a set of same-route entries into one entry with
 * an X wherever their keys differ, inserted below every entry of its
 * generality or less, and is allowed only when
 *   - down-check: the new entry does not cover, below its insertion point,
 *     any original entry (followed through earlier merges via aliases) with
 *     another route; entries are dropped from the merge until it does not;
 *   - up-check: no member would fall below an entry it overlaps, which sits
 *     between the member and the insertion point.
 * The best (largest) legal merge is applied until the table fits or none is
 * left; then default routes are removed. Input must be orthogonal (no key
 * hits two entries), which disjoint key blocks guarantee. */
#include "spindle/map_route.h"

#include <stdlib.h>
#include <string.h>

#include "map/minimise_util.h"

/* A working entry: the entry, its generality and the original entries it
 * stands for (a linked list through oc_t.alias_next). */
typedef struct oc_entry {
  spd_map_entry_t e;
  uint32_t generality;
  uint32_t alias_head, alias_tail;
} oc_entry_t;

#define NO_ALIAS UINT32_MAX

/* A candidate merge: member positions (ascending) and the entry they make. */
typedef struct oc_merge {
  uint32_t *idx;
  uint32_t n;
  uint32_t key, mask, sources, generality, insert;
} oc_merge_t;

typedef struct oc {
  oc_entry_t *table, *spare;
  uint32_t n;
  spd_map_entry_t *orig;  /* originals, for aliases */
  uint32_t *alias_next;   /* next original in the same alias list */
  uint64_t *by_route;     /* route << 32 | position, sorted */
  uint32_t *cand, *best, *work;
} oc_t;

static uint32_t goodness(const oc_merge_t *m) { return m->n > 0 ? m->n - 1 : 0; }

/* First position whose generality exceeds g: merged entries go below every
 * entry as general as they are or less. */
static uint32_t insertion_index(const oc_t *oc, uint32_t g) {
  uint32_t lo = 0, hi = oc->n;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (oc->table[mid].generality <= g)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* Recompute the merged key, mask, sources and insertion point of m's members. */
static void merge_update(const oc_t *oc, oc_merge_t *m) {
  uint32_t any_ones = 0, all_ones = UINT32_MAX, all_selected = UINT32_MAX, sources = 0;
  for (uint32_t i = 0; i < m->n; i++) {
    const spd_map_entry_t *e = &oc->table[m->idx[i]].e;
    any_ones |= e->key;
    all_ones &= e->key;
    all_selected &= e->mask;
    sources |= e->sources;
  }
  /* A bit stays set in the mask where every key agrees (all 1 or all 0). */
  uint32_t agree = any_ones ^ ~all_ones;
  m->mask = all_selected & agree;
  m->key = all_ones & m->mask;
  m->sources = sources;
  m->generality = spd__km_generality(m->key, m->mask);
  m->insert = insertion_index(oc, m->generality);
}

/* Drop the members flagged in @p drop (a bit per member slot) from m. */
static void merge_remove(const oc_t *oc, oc_merge_t *m, const uint8_t *drop) {
  uint32_t kept = 0;
  for (uint32_t i = 0; i < m->n; i++)
    if (!drop[i])
      m->idx[kept++] = m->idx[i];
  m->n = kept;
  merge_update(oc, m);
}

/* Bits (and values) a merge could fix to stop covering its most constrained
 * covered entries: want0 bits must become 0, want1 bits 1. @return the
 * number of settable bits of those entries (33 when nothing is covered). */
static uint32_t covered_constraints(const oc_t *oc, const oc_merge_t *m, uint32_t *want0,
                                    uint32_t *want1) {
  uint32_t most = 33;
  *want0 = *want1 = 0;
  for (uint32_t p = m->insert; p < oc->n; p++)
    for (uint32_t a = oc->table[p].alias_head; a != NO_ALIAS; a = oc->alias_next[a]) {
      uint32_t key = oc->orig[a].key, mask = oc->orig[a].mask;
      if (!spd__km_intersect(m->key, m->mask, key, mask))
        continue;
      uint32_t settable = mask & ~m->mask;
      uint32_t count = (uint32_t)__builtin_popcount(settable);
      if (count > most)
        continue;
      if (count < most) {
        most = count;
        *want0 = *want1 = 0;
      }
      /* To stop covering a key bit v, the merged bit must become !v. */
      *want1 |= settable & ~key;
      *want0 |= settable & key;
    }
  return most;
}

/* Members that must leave the merge for bit b of the merged entry to become
 * `value`: those with an X there or the other value. */
static uint32_t mark_for_bit(const oc_t *oc, const oc_merge_t *m, uint32_t bit, bool value,
                             uint8_t *drop) {
  uint32_t count = 0;
  for (uint32_t i = 0; i < m->n; i++) {
    const spd_map_entry_t *e = &oc->table[m->idx[i]].e;
    bool x = !(e->mask & bit);
    bool one = (e->key & bit) != 0;
    drop[i] = x || one != value;
    count += drop[i];
  }
  return count;
}

/* The cheapest single bit to fix: fewest members removed, more significant
 * bits and "make it 1" first on ties (rig's order). Fills @p drop. */
static void choose_removal(const oc_t *oc, const oc_merge_t *m, uint32_t want0, uint32_t want1,
                           uint8_t *drop, uint8_t *scratch) {
  uint32_t best = UINT32_MAX;
  for (int b = 31; b >= 0; b--) {
    uint32_t bit = 1u << b;
    for (int v = 1; v >= 0; v--) {
      if (!((v ? want1 : want0) & bit))
        continue;
      uint32_t count = mark_for_bit(oc, m, bit, v, scratch);
      if (count < best) {
        best = count;
        memcpy(drop, scratch, m->n);
      }
    }
  }
}

/* Shrink m until its entry covers nothing below its insertion point;
 * empty it if that takes it to min_goodness or below. */
static void downcheck(const oc_t *oc, oc_merge_t *m, uint32_t min_goodness, uint8_t *drop,
                      uint8_t *scratch) {
  while (goodness(m) > min_goodness) {
    uint32_t want0, want1;
    uint32_t most = covered_constraints(oc, m, &want0, &want1);
    if (most == 33)
      return;
    if (most == 0)
      break;
    choose_removal(oc, m, want0, want1, drop, scratch);
    merge_remove(oc, m, drop);
  }
  m->n = 0;
}

/* Drop members that an entry between them and the insertion point
 * overlaps. @return true when anything was dropped. */
static bool upcheck(const oc_t *oc, oc_merge_t *m, uint32_t min_goodness, uint8_t *drop) {
  bool changed = false;
  for (uint32_t k = m->n; k-- > 0;) {
    uint32_t pos = m->idx[k];
    const spd_map_entry_t *e = &oc->table[pos].e;
    bool hidden = false;
    for (uint32_t p = pos + 1; p < m->insert && !hidden; p++)
      hidden = spd__km_intersect(e->key, e->mask, oc->table[p].e.key, oc->table[p].e.mask);
    if (!hidden)
      continue;
    memset(drop, 0, m->n);
    drop[k] = 1;
    merge_remove(oc, m, drop);
    changed = true;
    if (goodness(m) <= min_goodness) {
      m->n = 0;
      break;
    }
  }
  return changed;
}

static void refine(const oc_t *oc, oc_merge_t *m, uint32_t min_goodness, uint8_t *drop,
                   uint8_t *scratch) {
  downcheck(oc, m, min_goodness, drop, scratch);
  if (goodness(m) > min_goodness && upcheck(oc, m, min_goodness, drop) &&
      goodness(m) > min_goodness)
    downcheck(oc, m, min_goodness, drop, scratch);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Positions sorted by (route, position), so each run is one route's group
 * with its members in table order. */
static void sort_by_route(oc_t *oc) {
  for (uint32_t i = 0; i < oc->n; i++)
    oc->by_route[i] = (uint64_t)oc->table[i].e.route << 32 | i;
  qsort(oc->by_route, oc->n, sizeof *oc->by_route, cmp_u64);
}

/* The largest legal merge over all groups of same-route entries, in oc->best. */
static oc_merge_t best_merge(oc_t *oc, uint8_t *drop, uint8_t *scratch) {
  oc_merge_t best = {oc->best, 0, 0, 0, 0, 0, 0};
  sort_by_route(oc);
  for (uint32_t i = 0; i < oc->n;) {
    uint32_t j = i;
    while (j < oc->n && oc->by_route[j] >> 32 == oc->by_route[i] >> 32)
      j++;
    uint32_t size = j - i;
    if (size > 1 && size - 1 > goodness(&best)) {
      oc_merge_t m = {oc->cand, size, 0, 0, 0, 0, 0};
      for (uint32_t k = 0; k < size; k++)
        m.idx[k] = (uint32_t)oc->by_route[i + k];
      merge_update(oc, &m);
      refine(oc, &m, goodness(&best), drop, scratch);
      if (goodness(&m) > goodness(&best)) {
        memcpy(oc->best, m.idx, m.n * sizeof *m.idx);
        best = m;
        best.idx = oc->best;
      }
    }
    i = j;
  }
  return best;
}

/* Replace the members by the merged entry at its insertion point. */
static void apply_merge(oc_t *oc, const oc_merge_t *m, uint8_t *member) {
  memset(member, 0, oc->n);
  for (uint32_t i = 0; i < m->n; i++)
    member[m->idx[i]] = 1;
  oc_entry_t merged = {{m->key, m->mask, oc->table[m->idx[0]].e.route, m->sources},
                       m->generality, NO_ALIAS, NO_ALIAS};
  for (uint32_t i = 0; i < m->n; i++) {
    const oc_entry_t *e = &oc->table[m->idx[i]];
    if (merged.alias_head == NO_ALIAS)
      merged.alias_head = e->alias_head;
    else
      oc->alias_next[merged.alias_tail] = e->alias_head;
    merged.alias_tail = e->alias_tail;
  }
  uint32_t out = 0;
  for (uint32_t p = 0; p <= oc->n; p++) {
    if (p == m->insert)
      oc->spare[out++] = merged;
    if (p < oc->n && !member[p])
      oc->spare[out++] = oc->table[p];
  }
  oc_entry_t *t = oc->table;
  oc->table = oc->spare;
  oc->spare = t;
  oc->n = out;
}

static int cmp_generality(const void *a, const void *b) {
  const oc_entry_t *x = a, *y = b;
  if (x->generality != y->generality)
    return x->generality < y->generality ? -1 : 1;
  /* Keep the input order among equals: qsort is not stable. */
  return x->alias_head < y->alias_head ? -1 : (x->alias_head > y->alias_head);
}

static void oc_free(spd_ctx_t *ctx, oc_t *oc, uint8_t *flags) {
  spd_free(ctx, oc->table);
  spd_free(ctx, oc->spare);
  spd_free(ctx, oc->orig);
  spd_free(ctx, oc->alias_next);
  spd_free(ctx, oc->by_route);
  spd_free(ctx, oc->cand);
  spd_free(ctx, oc->best);
  spd_free(ctx, flags);
}

static int oc_init(spd_ctx_t *ctx, oc_t *oc, const spd_map_entry_t *table, uint32_t n,
                   uint8_t **flags) {
  size_t cap = n ? n : 1;
  oc->table = spd_calloc(ctx, cap + 1, sizeof *oc->table);
  oc->spare = spd_calloc(ctx, cap + 1, sizeof *oc->spare);
  oc->orig = spd_calloc(ctx, cap, sizeof *oc->orig);
  oc->alias_next = spd_calloc(ctx, cap, sizeof *oc->alias_next);
  oc->by_route = spd_calloc(ctx, cap, sizeof *oc->by_route);
  oc->cand = spd_calloc(ctx, cap, sizeof *oc->cand);
  oc->best = spd_calloc(ctx, cap, sizeof *oc->best);
  *flags = spd_calloc(ctx, 3 * cap, 1);
  if (!oc->table || !oc->spare || !oc->orig || !oc->alias_next || !oc->by_route ||
      !oc->cand || !oc->best || !*flags) {
    oc_free(ctx, oc, *flags);
    return spd_ctx_fail(ctx, SPD_ENOMEM, "minimise: out of memory for a table of %u entries", n);
  }
  oc->n = n;
  for (uint32_t i = 0; i < n; i++) {
    oc->orig[i] = table[i];
    oc->alias_next[i] = NO_ALIAS;
    oc->table[i] = (oc_entry_t){table[i], spd__km_generality(table[i].key, table[i].mask), i, i};
  }
  qsort(oc->table, n, sizeof *oc->table, cmp_generality);
  return 0;
}

int spd_map_minimise_ordered_covering(spd_ctx_t *ctx, spd_map_entry_t *table, uint32_t *n,
                                      uint32_t target) {
  if (*n == 0)
    return 0;
  oc_t oc = {0};
  uint8_t *flags;
  int rc = oc_init(ctx, &oc, table, *n, &flags);
  if (rc < 0)
    return rc;
  size_t cap = *n ? *n : 1;
  while (target == 0 || oc.n > target) {
    oc_merge_t m = best_merge(&oc, flags, flags + cap);
    if (goodness(&m) == 0)
      break;
    apply_merge(&oc, &m, flags + 2 * cap);
  }
  for (uint32_t i = 0; i < oc.n; i++)
    table[i] = oc.table[i].e;
  *n = oc.n;
  oc_free(ctx, &oc, flags);
  return spd_map_minimise_default_routes(ctx, table, n, target);
}
