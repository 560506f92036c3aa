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

/** Add @p ev (its seq is assigned here). @return 0 or SPD_ENOMEM (queue unchanged). */
int spd_event_queue_push(spd_event_queue_t *q, const spd_event_t *ev);

/** Remove the earliest event into @p out; false when empty. */
bool spd_event_queue_pop(spd_event_queue_t *q, spd_event_t *out);

/** The earliest event, or NULL when empty (valid until the next push/pop). */
static inline const spd_event_t *spd_event_queue_peek(const spd_event_queue_t *q) {
  if (q->ring_count && !(q->count && q->heap[0].time == q->now))
    return &q->ring[q->ring_head];
  return q->count ? &q->heap[0] : NULL;
}

#endif
