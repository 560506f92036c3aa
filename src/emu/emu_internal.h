/* Inside the emulator: chips (router, links, SDRAM, cores) and the event
 * loop's shared helpers. Split over emu.c (lifecycle, host access, run loop),
 * emu_net.c (routers and links), emu_core.c (cores) and
 * emu_counters.c (read-out and energy). */
#ifndef SPINDLE_EMU_EMU_INTERNAL_H
#define SPINDLE_EMU_EMU_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core_impl.h"
#include "emu/cost_model.h"
#include "emu/event_queue.h"
#include "emu/router_table.h"
#include "emu/sdram.h"
#include "spindle/emu.h"
#include "spindle/rng.h"

#define SPD_EMU_NEVER UINT64_MAX
#define SPD_ROUTER_FIFO_MAX 16
#define SPD_IN_LOCAL 0xFFu /* a packet's input: a local core, not a link */

enum spd_emu_event_type {
  SPD_EV_ROUTER_ARRIVE, /* a packet arrives over link `unit` (a key, b payload) */
  SPD_EV_ROUTER_SERVE,  /* the router takes its next packet or retries a blocked one */
  SPD_EV_CORE_START,    /* run the kernel's main */
  SPD_EV_CORE_TASK,     /* dispatch the next queued callback */
  SPD_EV_CORE_RX,       /* the core takes the packet its comms controller holds */
  SPD_EV_CORE_TX,       /* the TX queue's head goes to the router */
  SPD_EV_CORE_IRQ,      /* interrupt for event `flags` with (a, b) */
  SPD_EV_CORE_TIMER,    /* timer tick; a = timer epoch */
  SPD_EV_CORE_DMA,      /* the oldest DMA transfer completes */
  SPD_EV_MONITOR_FIQ,   /* the monitor takes the packet in its router's dump registers */
  SPD_EV_MONITOR_SEND,  /* the monitor re-sends the head of its queue */
};

typedef struct spd_emu_packet {
  uint32_t key, payload;
  uint8_t in;            /* link 0..5 or SPD_IN_LOCAL */
  bool with_payload;
} spd_emu_packet_t;

typedef struct spd_emu_router {
  spd_router_table_t table;
  spd_emu_packet_t fifo[SPD_ROUTER_FIFO_MAX];
  uint8_t head, count;
  uint8_t fill;            /* fifo entries + packets on their way in over links */
  bool busy;               /* `cur` is at the output stage */
  spd_emu_packet_t cur;
  uint32_t pending;        /* route bits of `cur` not yet sent */
  uint64_t deadline;       /* `cur` is dropped when still blocked then */
  uint64_t free_at;        /* the pipeline takes the next packet then */
  uint64_t wake_at;        /* a SERVE event is scheduled then, or NEVER */
  uint32_t tx_waiters;     /* cores whose injection waits for a free slot */
  uint8_t rr;              /* input woken first when a slot frees */
  uint64_t link_free[SPD_LINKS];
} spd_emu_router_t;

/* The monitor core's reinjector (emu_monitor.c): the router's dump
 * registers hold one dropped packet until the monitor's FIQ reads them;
 * the monitor queues it and sends it again. */
typedef struct spd_emu_monitor {
  bool dump_full;          /* the dump registers hold `dump` */
  bool send_pending;       /* a MONITOR_SEND event is scheduled */
  spd_emu_packet_t dump;
  spd_emu_packet_t *queue; /* cost->monitor_queue_packets, allocated on first use */
  uint32_t head, count;
  spd_rng_t rng;           /* fault injection's draws for this router */
} spd_emu_monitor_t;

typedef struct spd_emu_chip {
  const spd_chip_t *chip;
  int32_t neighbour[SPD_LINKS]; /* dense index across each working link, or -1 */
  spd_emu_router_t router;
  spd_sdram_t sdram;
  uint64_t sdram_free_at;       /* the chip's SDRAM bandwidth is reserved until */
  spd_core_t *cores[SPD_CORES_PER_CHIP]; /* allocated when first loaded */
  spd_chip_counters_t counters;
  spd_core_counters_t retired;  /* counters of kernels since replaced */
  spd_emu_monitor_t monitor;
} spd_emu_chip_t;

struct spd_emu {
  spd_ctx_t *ctx;
  const spd_machine_t *machine;
  const spd_cost_model_t *cost;
  spd_emu_chip_t *chips;
  uint32_t n_chips;
  spd_event_queue_t queue;
  uint64_t now;
  uint64_t events;
  int error;                    /* sticky host failure (SPD_ENOMEM) */
  uint32_t cores_active;        /* started and neither exited nor failed */
  uint64_t in_flight;           /* packets (copies) not yet delivered or dropped */
  spd_core_t *failed_core;      /* first core that failed in this run */
  spd_emu_observer_fn observer;  /* spd_emu_set_observer, or NULL */
  void *observer_ud;
  const spd_kernel_t **kernels; /* registered by spd_emu_register_kernel */
  uint32_t n_kernels, cap_kernels;
  bool reinject;                /* monitors reinject dropped packets */
  uint32_t drop_threshold;      /* fault injection: a copy drops when a draw is below */
  spd_core_t *kill_core;        /* fault injection: dies once it has finished */
  uint64_t kill_after;          /* ... this many samples (spd_emu_kill_core) */
};

extern const spd_core_platform_t spd__emu_core_platform;
extern const spd_kernel_t *const spd__builtin_kernels[];

/* Set bits of a route word. Without -mpopcnt (the portable x86-64 baseline)
 * __builtin_popcount is a library call on every routed packet; these few
 * arithmetic steps are inlined. */
static inline uint32_t bit_count(uint32_t v) {
  v = v - ((v >> 1) & 0x55555555u);
  v = (v & 0x33333333u) + ((v >> 2) & 0x33333333u);
  v = (v + (v >> 4)) & 0x0f0f0f0fu;
  return (v * 0x01010101u) >> 24;
}

/* Index of the lowest set bit of @p v (not 0): bsf/tzcnt, baseline x86-64.
 * Loops over a route's set bits skip the clear ones (most of 18 cores). */
static inline unsigned lowest_bit(uint32_t v) { return (unsigned)__builtin_ctz(v); }

/** Schedule an event; a host allocation failure becomes the sticky error. */
static inline void spd__emu_schedule(spd_emu_t *emu, uint64_t time, uint8_t type, uint32_t chip,
                                     uint8_t unit, uint32_t a, uint32_t b, uint8_t flags,
                                     uint8_t gen) {
  spd_event_t *ev = spd_event_queue_place(&emu->queue, time);
  if (!ev) {
    if (!emu->error)
      emu->error = SPD_ENOMEM;
    return;
  }
  ev->chip = chip;
  ev->a = a;
  ev->b = b;
  ev->type = type;
  ev->unit = unit;
  ev->flags = flags;
  ev->gen = gen;
}

/* emu_counters.c */
void spd__counters_retire(spd_core_counters_t *into, const spd_core_counters_t *c);

/* emu_net.c */
void spd__router_arrive(spd_emu_t *emu, uint32_t chip, const spd_emu_packet_t *p);
void spd__router_serve(spd_emu_t *emu, uint32_t chip, uint64_t time);
/** Hand a core's packet to its router; false when the router's inputs are full
 *  (the core is woken when a slot frees). */
bool spd__router_inject(spd_emu_t *emu, uint32_t chip, uint8_t core, const spd_emu_packet_t *p);
/** The router may be waiting for core @p core's comms controller. */
void spd__router_core_freed(spd_emu_t *emu, uint32_t chip, uint8_t core);
/** Hand a routed copy to a core's comms controller (slot known empty). */
void spd__core_deliver(spd_emu_t *emu, spd_core_t *core, const spd_emu_packet_t *p);

/* emu_monitor.c */
/** A packet at chip @p chip's output stage lost the copies for @p outputs
 *  (route bits); the dump registers take it if they are free. */
void spd__monitor_dump(spd_emu_t *emu, uint32_t chip, const spd_emu_packet_t *p,
                       uint32_t outputs);
/** Fault injection: which one of @p route's outputs (route bits) to drop,
 *  or 0. */
uint32_t spd__monitor_inject_drop(spd_emu_t *emu, uint32_t chip, uint32_t route);
void spd__monitor_event(spd_emu_t *emu, const spd_event_t *ev);
void spd__monitor_free(spd_emu_t *emu);

/* emu_core.c */
void spd__core_event(spd_emu_t *emu, const spd_event_t *ev, spd_core_t *core);
/** The core stops (exit or failure): queued work is dropped, counters kept. */
void spd__core_stop(spd_emu_t *emu, spd_core_t *core, spd_core_state_t state, int code);

#endif
