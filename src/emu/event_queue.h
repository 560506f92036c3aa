/* The emulator's event queue: a (4-ary) min-heap ordered by (time, sequence
 * number), so events at the same simulated time run in the order they were
 * scheduled and every run is identical. Storage grows by doubling (never one
 * allocation per event); a caller-allocated object (_init/_deinit). */
#ifndef SPINDLE_EMU_EVENT_QUEUE_H
#define SPINDLE_EMU_EVENT_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spindle/context.h"

/** One event. @c a, @c b carry a packet's key/payload or callback arguments;
 *  @c unit is a core or link number; @c gen guards events of a core that was
 *  reloaded since they were scheduled. */
typedef struct spd_event {
  uint64_t time;     /* picoseconds */
  uint64_t seq;
  uint32_t chip;     /* dense chip index */
  uint32_t a, b;
  uint8_t type;
  uint8_t unit;
  uint8_t flags;
  uint8_t gen;
} spd_event_t;

/* Events scheduled for the current time (the time of the last event taken)
 * skip the heap: they go to a FIFO ring, which keeps the (time, sequence)
 * order exactly, because every heap event of the current time was scheduled
 * before them and so has a smaller sequence number. */
typedef struct spd_event_queue {
  spd_ctx_t *ctx;
  spd_event_t *heap;
  size_t count, capacity;
  spd_event_t *ring;         /* events at time `now` */
  size_t ring_head, ring_count, ring_capacity;
  uint64_t now;              /* time of the last event popped */
  uint64_t next_seq;
} spd_event_queue_t;

/** Prepare an empty queue with room for @p capacity events.
 *  @return 0 or SPD_ENOMEM. */
int spd_event_queue_init(spd_event_queue_t *q, spd_ctx_t *ctx, size_t capacity);
void spd_event_queue_deinit(spd_event_queue_t *q);

/* Out of line: double the ring (events at `now`) or the heap.
 * @return 0 or SPD_ENOMEM (queue unchanged). */
int spd__event_queue_grow(spd_event_queue_t *q, bool ring);

/* The queue's order: time, then scheduling order. */
static inline bool spd__event_earlier(const spd_event_t *a, const spd_event_t *b) {
  return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

#define SPD_EVENT_QUEUE_ARITY 4

/** Make room for an event at @p time and return its slot, with time and seq
 *  (assigned here) filled in; the caller writes the other fields. NULL when
 *  the queue cannot grow (SPD_ENOMEM; queue unchanged).
 *  Inline, and the caller writes the fields straight into the slot: an event
 *  built on the stack with narrow stores and copied with wide loads stalled
 *  store-to-load forwarding on every schedule (a third of its time, perf).
 *  A 4-ary heap: half the depth of a binary one, and the four children of a
 *  node share two cache lines. The new event has the largest sequence
 *  number so far, so it sorts before a parent only when its time is
 *  strictly earlier: sifting up compares times alone. */
static inline spd_event_t *spd_event_queue_place(spd_event_queue_t *q, uint64_t time) {
  spd_event_t *slot;
  if (time == q->now) {
    if (q->ring_count == q->ring_capacity && spd__event_queue_grow(q, true))
      return NULL;
    /* The ring's capacity is a power of two, so wrapping is a mask. */
    slot = &q->ring[(q->ring_head + q->ring_count) & (q->ring_capacity - 1)];
    q->ring_count++;
  } else {
    if (q->count == q->capacity && spd__event_queue_grow(q, false))
      return NULL;
    size_t i = q->count++;
    while (i > 0) {
      size_t parent = (i - 1) / SPD_EVENT_QUEUE_ARITY;
      if (time >= q->heap[parent].time)
        break;
      q->heap[i] = q->heap[parent];
      i = parent;
    }
    slot = &q->heap[i];
  }
  slot->time = time;
  slot->seq = q->next_seq++;
  return slot;
}

/** Add @p ev (its seq is assigned here). @return 0 or SPD_ENOMEM (queue unchanged). */
static inline int spd_event_queue_push(spd_event_queue_t *q, const spd_event_t *ev) {
  spd_event_t *slot = spd_event_queue_place(q, ev->time);
  if (!slot)
    return SPD_ENOMEM;
  uint64_t seq = slot->seq;
  *slot = *ev;
  slot->seq = seq;
  return 0;
}

/** Nothing is pending at the current time (the time of the last event
 *  taken): an event scheduled now would be the next one taken. */
static inline bool spd_event_queue_nothing_now(const spd_event_queue_t *q) {
  return !q->ring_count && !(q->count && q->heap[0].time == q->now);
}

/** Remove the earliest event into @p out; false when empty. */
bool spd_event_queue_pop(spd_event_queue_t *q, spd_event_t *out);
/** The same, but only an event at or before @p limit: false (queue
 *  unchanged) when none is. One look at the queue per event, not a peek and
 *  then a pop. */
bool spd_event_queue_pop_until(spd_event_queue_t *q, uint64_t limit, spd_event_t *out);

/** The earliest event, or NULL when empty (valid until the next push/pop). */
static inline const spd_event_t *spd_event_queue_peek(const spd_event_queue_t *q) {
  if (q->ring_count && !(q->count && q->heap[0].time == q->now))
    return &q->ring[q->ring_head];
  return q->count ? &q->heap[0] : NULL;
}

#endif
