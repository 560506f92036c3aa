#include "emu/event_queue.h"

#include <string.h>

int spd_event_queue_init(spd_event_queue_t *q, spd_ctx_t *ctx, size_t capacity) {
  (void)capacity; /* buckets grow as they fill */
  memset(q, 0, sizeof *q);
  q->ctx = ctx;
  return 0;
}

void spd_event_queue_deinit(spd_event_queue_t *q) {
  for (unsigned b = 0; b < SPD_EVENT_QUEUE_BUCKETS; b++)
    spd_free(q->ctx, q->bucket[b].ev);
  memset(q, 0, sizeof *q);
}

int spd__event_queue_grow(spd_event_queue_t *q, unsigned b) {
  spd_event_bucket_t *k = &q->bucket[b];
  if (k->head) { /* bucket 0's taken events leave room at the front */
    memmove(k->ev, k->ev + k->head, (k->count - k->head) * sizeof *k->ev);
    k->count -= k->head;
    k->head = 0;
    if (k->count < k->capacity)
      return 0;
  }
  uint32_t capacity = k->capacity ? k->capacity * 2u : 64u;
  spd_event_t *ev = spd_realloc(q->ctx, k->ev, (size_t)capacity * sizeof *ev);
  if (!ev)
    return spd_ctx_fail(q->ctx, SPD_ENOMEM,
                        "emulator: no memory to grow the event queue to %u events", capacity);
  k->ev = ev;
  k->capacity = capacity;
  return 0;
}

/* Bucket 0 is empty: move the lowest non-empty bucket down around its
 * earliest time, which becomes `now`, if that is at or before @p limit.
 * Every bucket below it is empty, and its events land there in order.
 * @return false when no event is, or (q->failed) when a lower bucket could
 * not grow: the copies already made are discarded, so the queue is as it
 * was. */
static bool refill(spd_event_queue_t *q, uint64_t limit) {
  q->failed = false;
  if (!q->nonempty)
    return false;
  unsigned b = (unsigned)__builtin_ctzll(q->nonempty) + 1u;
  spd_event_bucket_t *k = &q->bucket[b];
  uint64_t min = UINT64_MAX;
  for (uint32_t i = 0; i < k->count; i++)
    if (k->ev[i].time < min)
      min = k->ev[i].time;
  if (min > limit)
    return false;
  uint64_t was = q->now;
  q->now = min;
  q->bucket[0].head = q->bucket[0].count = 0;
  for (uint32_t i = 0; i < k->count; i++) {
    const spd_event_t *e = &k->ev[i];
    unsigned nb = spd__event_bucket_of(e->time, min);
    spd_event_bucket_t *d = &q->bucket[nb];
    if (d->count == d->capacity && spd__event_queue_grow(q, nb)) {
      for (unsigned j = 0; j < b; j++)
        q->bucket[j].head = q->bucket[j].count = 0;
      q->nonempty &= ~((1ull << (b - 1)) - 1u);
      q->now = was;
      q->failed = true;
      return false;
    }
    d->ev[d->count++] = *e;
    if (nb)
      q->nonempty |= 1ull << (nb - 1);
  }
  k->count = 0;
  q->nonempty &= ~(1ull << (b - 1));
  return true;
}

bool spd_event_queue_pop(spd_event_queue_t *q, spd_event_t *out) {
  return spd_event_queue_pop_until(q, UINT64_MAX, out);
}

bool spd_event_queue_pop_until(spd_event_queue_t *q, uint64_t limit, spd_event_t *out) {
  spd_event_bucket_t *z = &q->bucket[0];
  if (z->head == z->count) {
    if (!refill(q, limit))
      return false;
  } else if (q->now > limit) {
    return false;
  }
  *out = z->ev[z->head++];
  if (z->head == z->count)
    z->head = z->count = 0;
  q->count--;
  return true;
}

const spd_event_t *spd_event_queue_peek(spd_event_queue_t *q) {
  spd_event_bucket_t *z = &q->bucket[0];
  if (z->head == z->count && !refill(q, UINT64_MAX))
    return NULL;
  return &z->ev[z->head];
}
