/* The emulator's event queue, ordered by (time, sequence number) so events
 * at the same simulated time run in the order they were scheduled and every
 * run is identical. A radix heap on the time: bucket b > 0 holds the events
 * whose time first differs from `now` (the time of the last event taken)
 * in bit b - 1, bucket 0 those at `now`, each bucket in scheduling order.
 * Time never goes back, so an event's bucket only moves down: taking from
 * an empty bucket 0 moves the lowest non-empty bucket's events down around
 * its earliest time, in order (they land in empty buckets), and every
 * event of one time is always in one bucket, so bucket 0 is a FIFO in
 * (time, sequence) order. An event moves a few times at most (the bits
 * between its time and now), against a heap's sift down and up.
 * Storage grows by doubling (never one allocation per event); a
 * caller-allocated object (_init/_deinit). */
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

#define SPD_EVENT_QUEUE_BUCKETS 65

typedef struct spd_event_bucket {
  spd_event_t *ev;
  uint32_t head, count, capacity; /* events ev[head .. count) */
} spd_event_bucket_t;

typedef struct spd_event_queue {
  spd_ctx_t *ctx;
  spd_event_bucket_t bucket[SPD_EVENT_QUEUE_BUCKETS];
  uint64_t nonempty;         /* bit b - 1: bucket b (1..64) holds events */
  size_t count;              /* events queued */
  uint64_t now;              /* time of the last event taken */
  uint64_t next_seq;
  bool failed;               /* a pop found no memory to move events down
                                (SPD_ENOMEM in the context; queue unchanged) */
} spd_event_queue_t;

/** Prepare an empty queue with room for @p capacity events.
 *  @return 0 or SPD_ENOMEM. */
int spd_event_queue_init(spd_event_queue_t *q, spd_ctx_t *ctx, size_t capacity);
void spd_event_queue_deinit(spd_event_queue_t *q);

/* Out of line: double bucket @p b. @return 0 or SPD_ENOMEM (queue unchanged). */
int spd__event_queue_grow(spd_event_queue_t *q, unsigned b);

static inline unsigned spd__event_bucket_of(uint64_t time, uint64_t now) {
  return time == now ? 0u : 64u - (unsigned)__builtin_clzll(time ^ now);
}

/** Make room for an event at @p time (not before the last event taken) and
 *  return its slot, with time and seq (assigned here) filled in; the caller
 *  writes the other fields. NULL when the queue cannot grow (SPD_ENOMEM;
 *  queue unchanged). Inline, and the caller writes the fields straight into
 *  the slot (an event built on the stack and copied stalled store-to-load
 *  forwarding, perf). */
static inline spd_event_t *spd_event_queue_place(spd_event_queue_t *q, uint64_t time) {
  unsigned b = spd__event_bucket_of(time, q->now);
  spd_event_bucket_t *k = &q->bucket[b];
  if (k->count == k->capacity && spd__event_queue_grow(q, b))
    return NULL;
  spd_event_t *slot = &k->ev[k->count++];
  if (b)
    q->nonempty |= 1ull << (b - 1);
  q->count++;
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
  return q->bucket[0].head == q->bucket[0].count;
}

/** Remove the earliest event into @p out; false when empty (or, with
 *  q->failed set, when no memory was left to move events down). */
bool spd_event_queue_pop(spd_event_queue_t *q, spd_event_t *out);
/** The same, but only an event at or before @p limit: false (queue
 *  unchanged) when none is. */
bool spd_event_queue_pop_until(spd_event_queue_t *q, uint64_t limit, spd_event_t *out);

/** The earliest event, or NULL when empty (valid until the next push/pop). */
const spd_event_t *spd_event_queue_peek(spd_event_queue_t *q);

#endif
