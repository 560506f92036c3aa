#include "emu/event_queue.h"

#include <string.h>

#define ARITY SPD_EVENT_QUEUE_ARITY
#define earlier spd__event_earlier

_Static_assert(ARITY == 4, "pop picks the smallest of four children");

/* (time, seq) as one 128-bit number: comparing two is a compare and a
 * subtract-with-borrow, no branch. Which of a node's children is smallest is
 * close to random, so a branch on it is mispredicted about half the time. */
__extension__ typedef unsigned __int128 order_key_t;

static inline order_key_t order_key(const spd_event_t *e) {
  return (order_key_t)e->time << 64 | e->seq;
}

/* The heap array has ARITY slots past its capacity, and every slot from
 * `count` on holds a sentinel that sorts after any event: a node's children
 * are then always four, compared without a bound check (see pop). */
static inline void set_sentinels(spd_event_t *from, size_t n) {
  for (size_t i = 0; i < n; i++)
    from[i] = (spd_event_t){.time = UINT64_MAX, .seq = UINT64_MAX};
}

/* The ring's capacity is a power of two (64, doubled), so wrapping is a mask,
 * not a division on every push and pop. */
static inline size_t ring_index(const spd_event_queue_t *q, size_t i) {
  return i & (q->ring_capacity - 1);
}

int spd_event_queue_init(spd_event_queue_t *q, spd_ctx_t *ctx, size_t capacity) {
  memset(q, 0, sizeof *q);
  q->ctx = ctx;
  if (capacity < 16)
    capacity = 16;
  q->heap = spd_malloc(ctx, (capacity + ARITY) * sizeof *q->heap);
  q->ring = spd_calloc(ctx, 64, sizeof *q->ring);
  if (!q->heap || !q->ring) {
    spd_free(ctx, q->heap);
    spd_free(ctx, q->ring);
    q->heap = q->ring = NULL;
    return spd_ctx_fail(ctx, SPD_ENOMEM, "emulator: no memory for %zu events", capacity);
  }
  set_sentinels(q->heap, capacity + ARITY);
  q->capacity = capacity;
  q->ring_capacity = 64;
  return 0;
}

void spd_event_queue_deinit(spd_event_queue_t *q) {
  spd_free(q->ctx, q->heap);
  spd_free(q->ctx, q->ring);
  memset(q, 0, sizeof *q);
}

static int grow(spd_event_queue_t *q) {
  size_t capacity = q->capacity * 2;
  spd_event_t *heap = spd_realloc(q->ctx, q->heap, (capacity + ARITY) * sizeof *heap);
  if (!heap)
    return spd_ctx_fail(q->ctx, SPD_ENOMEM,
                        "emulator: no memory to grow the event queue to %zu events", capacity);
  set_sentinels(heap + q->capacity + ARITY, capacity - q->capacity);
  q->heap = heap;
  q->capacity = capacity;
  return 0;
}

/* Double the ring, unwrapping it so its head is at index 0. */
static int grow_ring(spd_event_queue_t *q) {
  size_t capacity = q->ring_capacity * 2;
  spd_event_t *ring = spd_malloc(q->ctx, capacity * sizeof *ring);
  if (!ring)
    return spd_ctx_fail(q->ctx, SPD_ENOMEM,
                        "emulator: no memory to grow the event queue to %zu events", capacity);
  for (size_t i = 0; i < q->ring_count; i++)
    ring[i] = q->ring[ring_index(q, q->ring_head + i)];
  spd_free(q->ctx, q->ring);
  q->ring = ring;
  q->ring_head = 0;
  q->ring_capacity = capacity;
  return 0;
}

int spd__event_queue_grow(spd_event_queue_t *q, bool ring) {
  return ring ? grow_ring(q) : grow(q);
}

bool spd_event_queue_pop(spd_event_queue_t *q, spd_event_t *out) {
  return spd_event_queue_pop_until(q, UINT64_MAX, out);
}

bool spd_event_queue_pop_until(spd_event_queue_t *q, uint64_t limit, spd_event_t *out) {
  if (q->ring_count && !(q->count && q->heap[0].time == q->now)) {
    if (q->now > limit)
      return false;
    *out = q->ring[q->ring_head];
    q->ring_head = ring_index(q, q->ring_head + 1);
    q->ring_count--;
    return true;
  }
  if (q->count == 0 || q->heap[0].time > limit)
    return false;
  q->now = q->heap[0].time;
  *out = q->heap[0];
  size_t n = --q->count;
  const spd_event_t last = q->heap[n];
  set_sentinels(&q->heap[n], 1);
  if (!n)
    return true;
  /* Bottom-up: move the hole at the root down along the smallest children
   * to a leaf, then sift the last event up from there. The last event
   * belongs near the bottom, so this saves comparing it with every level's
   * smallest child (a branch mispredicted about half the time). The events
   * come out in the same (time, seq) order either way: it is a total order.
   * The smallest of four children is a branch-free tournament (sentinels
   * stand in for missing children). */
  size_t i = 0;
  for (;;) {
    size_t first = ARITY * i + 1;
    if (first >= n)
      break;
    const spd_event_t *c = &q->heap[first];
    order_key_t k0 = order_key(&c[0]), k1 = order_key(&c[1]);
    order_key_t k2 = order_key(&c[2]), k3 = order_key(&c[3]);
    bool b01 = k1 < k0, b23 = k3 < k2;
    order_key_t m01 = b01 ? k1 : k0, m23 = b23 ? k3 : k2;
    size_t child = first + (m23 < m01 ? 2 + (size_t)b23 : (size_t)b01);
    q->heap[i] = q->heap[child];
    i = child;
  }
  while (i > 0) {
    size_t parent = (i - 1) / ARITY;
    if (!earlier(&last, &q->heap[parent]))
      break;
    q->heap[i] = q->heap[parent];
    i = parent;
  }
  q->heap[i] = last;
  return true;
}
