#include "emu/event_queue.h"

#include <string.h>

#define ARITY SPD_EVENT_QUEUE_ARITY
#define earlier spd__event_earlier

/* (time, seq) as one 128-bit number: comparing two is a compare and a
 * subtract-with-borrow, no branch. Which of a node's children is smallest is
 * close to random, so a branch on it is mispredicted about half the time. */
__extension__ typedef unsigned __int128 order_key_t;

static inline order_key_t order_key(const spd_event_t *e) {
  return (order_key_t)e->time << 64 | e->seq;
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
  q->heap = spd_calloc(ctx, capacity, sizeof *q->heap);
  q->ring = spd_calloc(ctx, 64, sizeof *q->ring);
  if (!q->heap || !q->ring) {
    spd_free(ctx, q->heap);
    spd_free(ctx, q->ring);
    q->heap = q->ring = NULL;
    return spd_ctx_fail(ctx, SPD_ENOMEM, "emulator: no memory for %zu events", capacity);
  }
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
  spd_event_t *heap = spd_realloc(q->ctx, q->heap, capacity * sizeof *heap);
  if (!heap)
    return spd_ctx_fail(q->ctx, SPD_ENOMEM,
                        "emulator: no memory to grow the event queue to %zu events", capacity);
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
  if (q->ring_count && !(q->count && q->heap[0].time == q->now)) {
    *out = q->ring[q->ring_head];
    q->ring_head = ring_index(q, q->ring_head + 1);
    q->ring_count--;
    return true;
  }
  if (q->count == 0)
    return false;
  q->now = q->heap[0].time;
  *out = q->heap[0];
  size_t n = --q->count;
  if (!n)
    return true;
  /* Bottom-up: move the hole at the root down along the smallest children
   * to a leaf, then sift the last event up from there. The last event
   * belongs near the bottom, so this saves comparing it with every level's
   * smallest child (a branch mispredicted about half the time). The events
   * come out in the same (time, seq) order either way: it is a total order. */
  const spd_event_t last = q->heap[n];
  size_t i = 0;
  for (;;) {
    size_t first = ARITY * i + 1;
    if (first >= n)
      break;
    size_t child = first, end = first + ARITY < n ? first + ARITY : n;
    /* Select by arithmetic, not a branch (see order_key). */
    for (size_t k = first + 1; k < end; k++) {
      size_t take = (size_t)(order_key(&q->heap[k]) < order_key(&q->heap[child]));
      child += (k - child) & (0 - take);
    }
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
