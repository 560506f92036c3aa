/* The inside of spd_core_t, shared by the on-core API (src/core/) and the
 * platform that runs cores (the emulator, src/emu/). Kernels never see it.
 * The platform fills in `ops` for what needs the machine (sending, DMA,
 * SDRAM, timer, exit); the rest of the API (callbacks and their priorities,
 * task queues, DTCM arena, cycle charging) lives in src/core/. */
#ifndef SPINDLE_CORE_CORE_IMPL_H
#define SPINDLE_CORE_CORE_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "spindle/core.h"
#include "spindle/provenance.h"

/* SPINNAKER.md #26: four queued priorities of 16 slots (15 usable). */
#define SPD_CORE_PRIORITIES 4
#define SPD_CORE_QUEUE_SLOTS 16
#define SPD_CORE_TX_SLOTS 16
#define SPD_CORE_DMA_SLOTS 16
#define SPD_CORE_USER_EVENTS 4

typedef struct spd_core_platform {
  int (*send)(spd_core_t *core, uint32_t key, uint32_t payload, bool with_payload);
  int (*dma)(spd_core_t *core, uint32_t tag, uint32_t addr, void *dtcm, spd_dma_dir_t dir,
             uint32_t bytes, uint32_t *tid);
  int (*sdram_alloc)(spd_core_t *core, uint32_t bytes, uint32_t *addr);
  int (*sdram_access)(spd_core_t *core, uint32_t addr, void *buf, uint32_t bytes, bool write);
  void (*set_timer)(spd_core_t *core, uint32_t period_us);
  int (*user_event)(spd_core_t *core, uint32_t arg0, uint32_t arg1);
  void (*exit)(spd_core_t *core, int status);
  int (*schedule)(spd_core_t *core, spd_core_cb cb, uint32_t arg0, uint32_t arg1, int priority);
} spd_core_platform_t;

typedef struct spd_core_callback {
  spd_core_cb cb;
  int8_t priority;
} spd_core_callback_t;

typedef struct spd_core_task {
  spd_core_cb cb;
  uint32_t arg0, arg1;
} spd_core_task_t;

typedef struct spd_core_task_queue {
  spd_core_task_t slots[SPD_CORE_QUEUE_SLOTS];
  uint8_t head, count;
} spd_core_task_queue_t;

typedef struct spd_core_tx {
  uint64_t time; /* when the kernel sent it */
  uint32_t key, payload;
  bool with_payload;
} spd_core_tx_t;

typedef struct spd_core_dma_req {
  uint64_t done; /* completion time */
  uint32_t tid, tag, addr, bytes;
  uint8_t *dtcm;
  spd_dma_dir_t dir;
} spd_core_dma_req_t;

struct spd_core {
  /* Hot fields first (the emulator touches them on every event of the
   * core), the queues' storage and the diagnostic last. */
  const spd_core_platform_t *ops;
  void *platform;                 /* the emulator */
  uint32_t chip;                  /* dense chip index */
  uint16_t x, y;
  uint8_t p;
  uint8_t gen;                    /* bumped on every load: stale events ignored */
  uint8_t queued;                 /* bit i: queues[i] holds a task */
  spd_core_state_t state;
  void *user;

  /* Time: the running callback started at exec_start and has charged
   * exec_cycles so far. irq_free is when the interrupt level is free again;
   * a queued task, once started, ends at task_end (pushed back by
   * interrupts that pre-empt it). */
  uint64_t exec_start;
  uint64_t exec_cycles;
  uint64_t cycle_ps;
  uint64_t irq_free;
  uint64_t fiq_free;              /* the preeminent (FIQ) level: pre-empts IRQ and tasks */
  uint64_t task_end;
  bool task_running, task_event_pending;
  bool in_task, task_kicked;      /* a queued callback runs; it queued more work */

  /* The comms controller holds one received packet until the core takes it. */
  bool rx_full, rx_event_pending;
  bool rx_with_payload;
  uint32_t rx_key, rx_payload;

  uint8_t tx_head, tx_count;
  bool tx_event_pending, tx_blocked;

  spd_core_callback_t callbacks[SPD_EVENT_COUNT];
  bool have_preeminent;

  spd_core_counters_t counters;

  uint8_t dma_head, dma_count;
  uint64_t dma_free;
  uint32_t next_tid;

  uint32_t timer_period_us;
  uint32_t timer_epoch;           /* bumped when the period changes */
  uint32_t ticks;
  uint32_t user_pending;

  const spd_kernel_t *kernel;
  uint32_t params_addr;
  int exit_code;
  uint8_t *dtcm;                  /* SPD_DTCM_BYTES arena (owned by the platform) */
  uint32_t dtcm_used, dtcm_limit;

  spd_core_task_queue_t queues[SPD_CORE_PRIORITIES];
  spd_core_tx_t tx[SPD_CORE_TX_SLOTS];
  spd_core_dma_req_t dma[SPD_CORE_DMA_SLOTS];
  char error[160];
};

/** Reset everything but the platform links, for a fresh kernel. */
void spd__core_reset(spd_core_t *core);

/** Queue a callback at priority 1..4; false (and task_queue_full counted)
 *  when its queue is full. */
bool spd__core_enqueue(spd_core_t *core, int priority, spd_core_cb cb, uint32_t a, uint32_t b);
/** Take the highest-priority queued task; false when none. */
bool spd__core_dequeue(spd_core_t *core, spd_core_task_t *out);
/** Run @p cb at @p now with @p cycles already charged; returns cycles used. */
uint64_t spd__core_exec(spd_core_t *core, spd_core_cb cb, uint32_t a, uint32_t b, uint64_t now,
                        uint64_t cycles);

#endif
