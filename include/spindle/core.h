/* The on-core API: what a kernel (a program for one application core) is
 * written against. It follows spin1_api (SPINNAKER.md §6) with one change:
 * no globals, every call takes the core's handle, because many emulated cores
 * live in one process. Kernels include this header and base/ headers only;
 * they never see the emulator, the host or the graph they belong to.
 *
 * A core runs its kernel's main() once when started (spin1's c_main): main
 * allocates its state from DTCM, reads its parameters from SDRAM (by DMA or a
 * charged read), registers callbacks and returns 0. From then on the core is
 * event driven: packet received, DMA done, timer tick and user events run the
 * registered callbacks at spin1 priorities until the kernel calls
 * spd_core_exit(). Work done in a callback costs simulated time only when the
 * kernel says so with spd_core_charge(); sends, DMAs and SDRAM accesses
 * charge their own documented costs (docs/cost-model.md). */
#ifndef SPINDLE_CORE_H
#define SPINDLE_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** A core's handle, valid while its kernel runs (owned by the machine). */
typedef struct spd_core spd_core_t;

/** A kernel: a name the host loads it by and its entry point.
 *  main returns 0, or a negative SPD_E* code that leaves the core in the
 *  error state with that code as its exit status. */
typedef struct spd_kernel {
  const char *name;
  int (*main)(spd_core_t *core, uint32_t params_addr);
} spd_kernel_t;

/** Events, numbered as spin1's (SPINNAKER.md §6). */
typedef enum spd_core_event {
  SPD_EVENT_MC_PACKET = 0,   /* (key, 0): multicast packet without payload */
  SPD_EVENT_DMA_DONE = 1,    /* (tid, tag) */
  SPD_EVENT_TIMER_TICK = 2,  /* (tick number, counting from 1, 0) */
  SPD_EVENT_USER = 4,        /* (arg0, arg1) from spd_core_trigger_user_event */
  SPD_EVENT_MCPL_PACKET = 5, /* (key, payload) */
  SPD_EVENT_COUNT = 6
} spd_core_event_t;

/** A callback: runs to completion; charge its work with spd_core_charge(). */
typedef void (*spd_core_cb)(spd_core_t *core, uint32_t arg0, uint32_t arg1);

/* Callback priorities (SPINNAKER.md §6): -1 preeminent (FIQ; only one event
 * may have it, a second is demoted to 0), 0 non-queueable (runs inside the
 * interrupt, delays every later interrupt), 1..4 queued, lowest number first,
 * 15 usable slots per priority; an event finding its queue full is lost and
 * counted (task_queue_full). */
#define SPD_PRIORITY_PREEMINENT (-1)
#define SPD_PRIORITY_MAX_QUEUED 4

/** DMA directions (spin1 DMA_READ / DMA_WRITE). */
typedef enum spd_dma_dir {
  SPD_DMA_READ = 0,  /* SDRAM -> DTCM */
  SPD_DMA_WRITE = 1, /* DTCM -> SDRAM */
} spd_dma_dir_t;

/** Register @p cb for @p event at @p priority (-1..4).
 *  @return 0 or SPD_EINVAL (unknown event or priority). */
int spd_core_callback_on(spd_core_t *core, spd_core_event_t event, spd_core_cb cb,
                         int priority);
/** Stop delivering @p event; later occurrences are discarded. */
void spd_core_callback_off(spd_core_t *core, spd_core_event_t event);

/** The kernel's own state pointer (usually a struct in DTCM). */
void spd_core_set_state(spd_core_t *core, void *state);
void *spd_core_get_state(const spd_core_t *core);

/** Chip coordinates and physical core number (1..17 for applications). */
int spd_core_chip_x(const spd_core_t *core);
int spd_core_chip_y(const spd_core_t *core);
int spd_core_id(const spd_core_t *core);

/** Send a multicast packet (with a 32-bit payload when @p with_payload) at
 *  the core's current time. It waits in the core's 16-slot TX queue until
 *  the router takes it. @return 0, or SPD_EQUEUE when the TX queue is full
 *  (nothing was sent: retry from a later event). */
int spd_core_send_mc(spd_core_t *core, uint32_t key, uint32_t payload, bool with_payload);

/** Free slots in the TX queue (0..16): how many sends would succeed now. */
uint32_t spd_core_tx_free(const spd_core_t *core);

/** Queue @p cb(core, arg0, arg1) at @p priority 1..4 to run when the core is
 *  free, as spin1_schedule_callback: a way to defer work out of an interrupt.
 *  @return 0, SPD_EQUEUE (that priority's queue is full), SPD_EINVAL. */
int spd_core_schedule_callback(spd_core_t *core, spd_core_cb cb, uint32_t arg0, uint32_t arg1,
                               int priority);

/** Queue a DMA of @p bytes (a multiple of 4, at most 128 KB - 4) between the
 *  chip's SDRAM at @p sdram_addr and @p dtcm (memory from spd_core_dtcm_alloc).
 *  Completion raises SPD_EVENT_DMA_DONE with (tid, tag); transfers complete
 *  in order. The data moves at completion time.
 *  @return 0 and the transfer id in @p tid (never 0), SPD_EQUEUE (16
 *  transfers pending) or SPD_EINVAL (bad size, range or direction). */
int spd_core_dma(spd_core_t *core, uint32_t tag, uint32_t sdram_addr, void *dtcm,
                 spd_dma_dir_t dir, uint32_t bytes, uint32_t *tid);

/** Allocate @p bytes (8-byte aligned) from the core's 64 KB DTCM, less the
 *  spin1 stacks. Nothing is freed until the core is reloaded.
 *  @return the memory (zeroed) or NULL; then spd_core_error() says
 *  "core (x,y,p) kernel K asked for N bytes of DTCM, M free". */
void *spd_core_dtcm_alloc(spd_core_t *core, uint32_t bytes);
/** Bytes of DTCM still free. */
uint32_t spd_core_dtcm_free(const spd_core_t *core);

/** Allocate @p bytes of the chip's SDRAM; @p addr receives its address.
 *  @return 0 or SPD_ESDRAM (diagnostic names the core, kernel, bytes asked
 *  and free). */
int spd_core_sdram_alloc(spd_core_t *core, uint32_t bytes, uint32_t *addr);

/** Read or write SDRAM directly from the CPU, charged per word at the SDRAM
 *  access cost (SPINNAKER.md #8); use DMA for anything large.
 *  @return 0 or SPD_EINVAL (range outside the chip's SDRAM), SPD_ENOMEM. */
int spd_core_sdram_read(spd_core_t *core, uint32_t addr, void *dst, uint32_t bytes);
int spd_core_sdram_write(spd_core_t *core, uint32_t addr, const void *src, uint32_t bytes);

/** Count @p n packets the kernel sends again because a receiver asked
 *  (the core's provenance; the host reads it as packets_resent). */
void spd_core_count_resent(spd_core_t *core, uint32_t n);
/** Provenance: the kernel finished one more sample. */
void spd_core_count_sample(spd_core_t *core);

/** Charge @p cycles of CPU work to the running callback. */
void spd_core_charge(spd_core_t *core, uint32_t cycles);

/** Start (or change) the timer: SPD_EVENT_TIMER_TICK every @p period_us
 *  microseconds from now (0 stops it). */
void spd_core_set_timer_us(spd_core_t *core, uint32_t period_us);

/** The core's current simulated time (including cycles charged so far). */
uint64_t spd_core_time_ps(const spd_core_t *core);
uint64_t spd_core_time_us(const spd_core_t *core);
uint64_t spd_core_time_cycles(const spd_core_t *core);

/** Raise SPD_EVENT_USER with (arg0, arg1). @return 0 or SPD_EQUEUE (4
 *  pending user events, SPINNAKER.md #26). */
int spd_core_trigger_user_event(spd_core_t *core, uint32_t arg0, uint32_t arg1);

/** Stop the core with exit status @p status (0 = success). Callbacks stop;
 *  packets already in the TX queue still leave. */
void spd_core_exit(spd_core_t *core, int status);

/** The last diagnostic recorded for this core (failed allocation, bad DMA). */
const char *spd_core_error(const spd_core_t *core);

#endif
